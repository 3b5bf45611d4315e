"""Registering people: validation, record linkage, sealed storage, duplicate review queue.

Registration is batch-first (one transaction for a whole import, linkage within the batch as
well as against the store); registering one person is a batch of one.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.trusted_party.domains import chunks, lookup_codes
from workbench.trusted_party.identity import Identity
from workbench.trusted_party.keys import open_sealed, seal
from workbench.trusted_party.linkage import (
    REVIEW_THRESHOLD,
    compare,
    date_similarity,
    forget_cached_names,
    link_keys,
)
from workbench.trusted_party.schema import identities, link_details, links, persons, reviews

if TYPE_CHECKING:
    from workbench.trusted_party.service import TrustedParty

__all__ = [
    "PersonRef",
    "Registration",
    "Review",
    "erase_identity",
    "rectify",
    "register",
    "resolve",
    "reviews_with_status",
    "unseal",
]


@dataclass(frozen=True)
class PersonRef:
    """An opaque handle on a registered person; meaningful only to this trusted party."""

    uid: str

    def __repr__(self) -> str:
        return "PersonRef(<hidden>)"


@dataclass(frozen=True)
class Registration:
    person: PersonRef
    created: bool               # False: an exact match to someone already registered
    possible_duplicates: int    # near matches queued for human review


@dataclass(frozen=True)
class Review:
    """A possible duplicate pair, shown without identities (see ``review_pair``)."""

    id: int
    score: float
    reasons: str
    status: str
    created_at: datetime


def unseal(tp: TrustedParty, uid: str, blob: bytes) -> Identity:
    return Identity.from_json(open_sealed(tp._identity_key, blob, uid.encode("ascii")))


def _validated(people: Sequence[Identity]) -> list[Identity]:
    out = []
    for n, person in enumerate(people, start=1):
        try:
            out.append(person.validated())
        except ValidationError as exc:
            where = f"person {n}" + (f" {exc.where}" if exc.where else "")
            raise ValidationError(str(exc).split(": ", 1)[-1], where=where) from None
    return out


def _existing(s: Session, column: object, keys: set[str]) -> list[tuple[int, str, bytes, str, str]]:
    rows = []
    for part in chunks(sorted(keys)):
        rows += s.execute(
            select(persons.c.id, persons.c.uid, identities.c.sealed, identities.c.dob_key,
                   identities.c.name_key)
            .join(persons, persons.c.id == identities.c.person_id)
            .where(column.in_(part))  # type: ignore[attr-defined]
        ).all()
    return rows


def register(tp: TrustedParty, people: Sequence[Identity], *, actor: str) -> list[Registration]:
    try:
        return _register(tp, people, actor=actor)
    finally:
        forget_cached_names()  # the linkage memo holds names: keep it for one call only


def _register(tp: TrustedParty, people: Sequence[Identity], *, actor: str) -> list[Registration]:
    clean = _validated(people)
    keys = [link_keys(tp._linkage_key, p) for p in clean]
    now = utcnow()
    with session_scope(tp.engine) as s:
        exact: dict[str, str] = {}
        for part in chunks(sorted({k.exact for k in keys})):
            exact.update(s.execute(
                select(identities.c.exact_key, persons.c.uid)
                .join(persons, persons.c.id == identities.c.person_id)
                .where(identities.c.exact_key.in_(part))).all())
        results: list[Registration | None] = [None] * len(clean)
        new: list[int] = []  # positions of people to create
        for n, k in enumerate(keys):
            if k.exact in exact:
                results[n] = Registration(PersonRef(exact[k.exact]), False, 0)
            else:
                exact[k.exact] = secrets.token_hex(16)
                new.append(n)
        # Candidates: people already stored, or earlier in this batch, sharing a blocking key.
        by_dob: dict[str, list[tuple[str, Identity]]] = defaultdict(list)
        by_name: dict[str, list[tuple[str, Identity]]] = defaultdict(list)
        stored = {r[0]: r for r in _existing(s, identities.c.dob_key, {keys[n].dob for n in new})}
        stored |= {r[0]: r for r in _existing(s, identities.c.name_key, {keys[n].name for n in new})}
        for _pid, uid, blob, dob_key, name_key in stored.values():
            ident = unseal(tp, uid, blob)
            by_dob[dob_key].append((uid, ident))
            by_name[name_key].append((uid, ident))
        pairs: list[tuple[str, str, float, str]] = []
        for n in new:
            me, uid, k = clean[n], exact[keys[n].exact], keys[n]
            seen: set[str] = set()
            candidates = by_dob[k.dob] + [
                c for c in by_name[k.name] if date_similarity(c[1].birth_date, me.birth_date)[0] > 0]
            for other_uid, other in candidates:
                if other_uid in seen:
                    continue
                seen.add(other_uid)
                score, why = compare(me, other)
                if score >= REVIEW_THRESHOLD:
                    pairs.append((uid, other_uid, score, "; ".join(why)))
            by_dob[k.dob].append((uid, me))
            by_name[k.name].append((uid, me))
        new_uids = [exact[keys[n].exact] for n in new]
        for part in chunks(new_uids, 20_000):
            s.execute(persons.insert(), [{"uid": u, "created_at": now,
                                          "opposed_warehouse": False} for u in part])
        ids: dict[str, int] = {}
        for part in chunks(new_uids):
            ids.update((u, i) for i, u in s.execute(
                select(persons.c.id, persons.c.uid).where(persons.c.uid.in_(part))).all())
        rows = [{"person_id": ids[exact[keys[n].exact]],
                 "sealed": seal(tp._identity_key, clean[n].to_json(),
                                exact[keys[n].exact].encode("ascii")),
                 "exact_key": keys[n].exact, "dob_key": keys[n].dob, "name_key": keys[n].name,
                 "updated_at": now} for n in new]
        try:
            with s.begin_nested():
                for part in chunks(rows, 20_000):
                    s.execute(identities.insert(), list(part))
        except IntegrityError:
            raise ConflictError("the same person was being registered at the same time by "
                                "another session: nothing was saved, submit again") from None
        all_ids = dict(ids)
        for part in chunks(sorted({p[1] for p in pairs} - ids.keys())):
            all_ids.update((u, i) for i, u in s.execute(
                select(persons.c.id, persons.c.uid).where(persons.c.uid.in_(part))).all())
        if pairs:
            s.execute(reviews.insert(), [
                {"person_id": all_ids[a], "candidate_id": all_ids[b], "score": sc,
                 "reasons": why, "status": "open", "created_at": now} for a, b, sc, why in pairs])
        flagged: dict[str, int] = defaultdict(int)
        for a, _b, _sc, _why in pairs:
            flagged[a] += 1
        for n in new:
            uid = exact[keys[n].exact]
            results[n] = Registration(PersonRef(uid), True, flagged[uid])
        audit.record(s, actor=actor, action="ttp.person.register", object_type="person",
                     object_id=new_uids[0] if len(clean) == 1 and new else "batch",
                     after={"submitted": len(clean), "created": len(new),
                            "exact_matches": len(clean) - len(new),
                            "possible_duplicates": len(pairs)})
    return [r for r in results if r is not None]


def rectify(tp: TrustedParty, code: str, domain: str, identity: Identity, *, actor: str,
           reason: str) -> None:
    """Rectify an identity or contact details; the audit names the changed fields, not values."""
    if not reason.strip():
        raise ValidationError("a reason is required", where="reason")
    clean = _validated([identity])[0]
    keys = link_keys(tp._linkage_key, clean)
    with session_scope(tp.engine) as s:
        dom = tp.domain(s, domain, actor=actor)
        row = lookup_codes(s, dom.id, [code]).get(code)
        if row is None:
            raise NotFoundError(f"no person with this pseudonym in {domain}")
        clash = s.execute(select(identities.c.person_id).where(
            identities.c.exact_key == keys.exact, identities.c.person_id != row.id)).first()
        if clash is not None:
            raise ConflictError("another registered person has exactly this identity: "
                                "review the possible duplicate first")
        old = unseal(tp, row.uid, s.execute(select(identities.c.sealed).where(
            identities.c.person_id == row.id)).scalar_one())
        changed = [f.name for f in fields(Identity) if getattr(old, f.name) != getattr(clean, f.name)]
        s.execute(update(identities).where(identities.c.person_id == row.id).values(
            sealed=seal(tp._identity_key, clean.to_json(), row.uid.encode("ascii")),
            exact_key=keys.exact, dob_key=keys.dob, name_key=keys.name, updated_at=utcnow()))
        audit.record(s, actor=actor, action="ttp.identity.update", object_type=domain,
                     object_id=code, reason=reason, after={"fields": changed})


def reviews_with_status(tp: TrustedParty, status: str) -> list[Review]:
    with tp.engine.connect() as conn:
        rows = conn.execute(select(reviews).where(reviews.c.status == status)
                            .order_by(reviews.c.score.desc(), reviews.c.id)).all()
    return [Review(r.id, r.score, r.reasons, r.status, r.created_at) for r in rows]


def resolve(tp: TrustedParty, review_id: int, *, same_person: bool, actor: str) -> None:
    """Record a reviewer's decision. Merging two persons is not automated (see the docs)."""
    with session_scope(tp.engine) as s:
        row = s.execute(select(reviews).where(reviews.c.id == review_id)).first()
        if row is None:
            raise NotFoundError(f"no duplicate review {review_id}")
        if row.status != "open":
            raise ConflictError(f"review {review_id} was already resolved ({row.status})")
        status = "same" if same_person else "different"
        s.execute(update(reviews).where(reviews.c.id == review_id).values(
            status=status, resolved_by=actor, resolved_at=utcnow()))
        audit.record(s, actor=actor, action="ttp.duplicate.resolve", object_type="review",
                     object_id=review_id, after={"status": status})


def erase_identity(tp: TrustedParty, code: str, domain: str, *, actor: str, reason: str) -> None:
    """Delete a person's identity and contact details but keep their pseudonyms (gPAS calls
    this anonymising an entry): their data stay usable, they can no longer be re-identified or
    contacted, and a later registration of the same person makes a new person."""
    if not reason.strip():
        raise ValidationError("a reason is required (e.g. the request's reference)",
                              where="reason")
    with session_scope(tp.engine) as s:
        dom = tp.domain(s, domain, actor=actor)
        row = lookup_codes(s, dom.id, [code]).get(code)
        if row is None:
            raise NotFoundError(f"no person with this pseudonym in {domain}")
        gone = s.execute(identities.delete().where(identities.c.person_id == row.id)).rowcount
        if not gone:
            raise ConflictError("this person's identity was already erased")
        # The compared values kept for their linkage review pairs copy the identity's birth month
        # and département: they go with it (the pairs stay, without values).
        s.execute(link_details.delete().where(link_details.c.link_id.in_(
            select(links.c.id).where(links.c.person_id == row.id))))
        s.execute(update(reviews).where(
            reviews.c.status == "open",
            (reviews.c.person_id == row.id) | (reviews.c.candidate_id == row.id),
        ).values(status="erased", resolved_by=actor, resolved_at=utcnow()))
        audit.record(s, actor=actor, action="ttp.identity.erase", object_type=domain,
                     object_id=code, reason=reason)
