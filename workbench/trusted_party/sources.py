"""Patients arriving from a hospital source (FHIR, an establishment's OMOP, CSV extracts).

A connector hands over what identifies the patient at the source — the identifier (MRN/IPP,
or a source OMOP ``person_id``) and, when the source has them, name, birth date and contact
details — and gets back only the pseudonym of the target domain. The identifier is kept as a
keyed hash of ``system|value`` (``ttp_source_id``), so the same patient imported again, even
with a changed name, is the same person; an identity given the first time is registered
through the usual record linkage, so a patient already known from a study is recognised.
Opposition stated at the source (a FHIR Consent that denies research use) is recorded here,
and no warehouse or project pseudonym is issued for that person.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update

from workbench import audit
from workbench.errors import ValidationError
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.trusted_party.codes import compute_pseudonyms
from workbench.trusted_party.domains import chunks, store_codes
from workbench.trusted_party.identity import Identity
from workbench.trusted_party.registry import register
from workbench.trusted_party.schema import persons, source_ids
from workbench.trusted_party.service import TrustedParty, _actor

__all__ = ["SourcePatient", "SourceResult", "source_pseudonyms"]


@dataclass(frozen=True)
class SourcePatient:
    system: str                    # the identifier's namespace, e.g. "urn:oid:…" or "omop:CHU-X"
    value: str                     # the identifier at that source
    identity: Identity | None = None
    opposed: bool = False          # the source says the patient refused research reuse

    def __repr__(self) -> str:  # never print an identifier or an identity
        return "SourcePatient(<hidden>)"


@dataclass(frozen=True)
class SourceResult:
    """Pseudonyms aligned with the input; None for people opposed to reuse (warehouse/project)."""

    pseudonyms: list[str | None]
    created: int
    matched: int
    withheld_opposed: int


def _source_key(key: bytes, system: str, value: str) -> str:
    text = f"source|{system.strip()}|{value.strip()}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def source_pseudonyms(tp: TrustedParty, patients: Sequence[SourcePatient], domain: str, *,
                      actor: str, reason: str) -> SourceResult:
    """Each source patient's pseudonym in ``domain``, registering whom the store does not know."""
    actor = _actor(actor)
    for n, p in enumerate(patients, start=1):
        if not p.system.strip() or not p.value.strip():
            raise ValidationError("an identifier system and value are required",
                                  where=f"patient {n}")
    keys = [_source_key(tp._linkage_key, p.system, p.value) for p in patients]
    with tp.engine.connect() as conn:
        known: dict[str, int] = {}
        for part in chunks(sorted(set(keys))):
            known.update(conn.execute(select(source_ids.c.source_key, source_ids.c.person_id)
                                      .where(source_ids.c.source_key.in_(part))).all())
    first: dict[str, int] = {}
    for n, k in enumerate(keys):
        if k not in known:
            first.setdefault(k, n)
    with_identity = [n for n in first.values() if patients[n].identity is not None]
    # Record linkage for new patients who come with an identity (its own transaction; a re-run
    # after a crash finds them again by exact match).
    uid_of: dict[int, str] = {}
    if with_identity:
        regs = register(tp, [patients[n].identity for n in with_identity  # type: ignore[misc]
                             ], actor=actor)
        uid_of = {n: r.person.uid for n, r in zip(with_identity, regs, strict=True)}
    now = utcnow()
    with session_scope(tp.engine) as s:
        bare = [n for n in first.values() if n not in uid_of]
        for n in bare:
            uid_of[n] = secrets.token_hex(16)
        if bare:
            s.execute(persons.insert(), [{"uid": uid_of[n], "created_at": now,
                                          "opposed_warehouse": False} for n in bare])
        ids: dict[str, int] = {}
        for part in chunks(sorted(set(uid_of.values()))):
            ids.update((u, i) for i, u in s.execute(
                select(persons.c.id, persons.c.uid).where(persons.c.uid.in_(part))).all())
        new_keys = [{"source_key": keys[n], "person_id": ids[uid_of[n]], "created_at": now}
                    for n in first.values()]
        for part in chunks(new_keys, 20_000):
            s.execute(source_ids.insert(), list(part))
        known.update((row["source_key"], row["person_id"]) for row in new_keys)
        person_ids = [known[k] for k in keys]
        opposing = sorted({i for i, p in zip(person_ids, patients, strict=True) if p.opposed})
        for part in chunks(opposing):
            s.execute(update(persons).where(persons.c.id.in_(part), persons.c.opposed_warehouse
                                            .is_(False)).values(opposed_warehouse=True,
                                                                opposition_at=now))
        rows: dict[int, tuple[str, bool]] = {}
        for part in chunks(sorted(set(person_ids))):
            rows.update((i, (u, bool(o))) for i, u, o in s.execute(
                select(persons.c.id, persons.c.uid, persons.c.opposed_warehouse)
                .where(persons.c.id.in_(part))).all())
        dom = tp.domain(s, domain, actor=actor)
        allowed = sorted(i for i in set(person_ids) if dom.kind == "study" or not rows[i][1])
        codes = dict(zip(allowed, compute_pseudonyms(dom.key, [rows[i][0] for i in allowed]),
                         strict=True))
        store_codes(s, dom, list(codes.items()))
        out = [codes.get(i) for i in person_ids]
        withheld = sum(c is None for c in out)
        audit.record(s, actor=actor, action="ttp.source.pseudonyms", object_type="domain",
                     object_id=domain, reason=reason,
                     after={"requested": len(patients), "created": len(bare),
                            "linked_by_identity": len(with_identity), "opposed_recorded":
                            len(opposing), "withheld_opposed": withheld})
    return SourceResult(out, created=len(first), matched=len(patients) - len(first),
                        withheld_opposed=withheld)
