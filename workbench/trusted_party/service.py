"""``TrustedParty``: the narrow API through which the rest of WeShare reaches identities.

Callers hold pseudonyms and opaque ``PersonRef`` handles, never keys or identities. Every
operation runs in one transaction of the TTP store and writes its audit entry (who, why, counts)
into that store's own hash chain in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ConfigError, NotFoundError, PermissionDenied, ValidationError
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.trusted_party import disclosure, registry
from workbench.trusted_party.codes import canonical, compute_pseudonyms, parse_pseudonym
from workbench.trusted_party.domains import (
    ALLOWED_TRANSLATIONS,
    Domain,
    chunks,
    domain_kind,
    domain_row,
    lookup_codes,
    store_codes,
)
from workbench.trusted_party.identity import Identity
from workbench.trusted_party.keys import MasterKey, new_key
from workbench.trusted_party.registry import PersonRef, Registration
from workbench.trusted_party.schema import check_schema, domains, persons, pseudonyms, store_info

__all__ = ["PersonRef", "Registration", "Translation", "TrustedParty"]


@dataclass(frozen=True)
class Translation:
    """Target pseudonyms aligned with the input; None where unknown or withheld (opposition)."""

    pseudonyms: list[str | None]
    unknown: int
    withheld_opposed: int
    newly_issued: int


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("every trusted-party operation needs a named actor", where="actor")
    return actor.strip()


class TrustedParty:
    """Identities, contact details and pseudonym keys of one trusted-party store."""

    def __init__(self, engine: Engine, master: MasterKey) -> None:
        check_schema(engine)
        self.engine = engine
        self._master = master
        with engine.connect() as conn:
            row = conn.execute(select(store_info)).one()
        if row.master_fingerprint != master.fingerprint:
            raise ConfigError(
                f"the master key in {master.path} is not the key of this trusted-party store "
                f"(store expects fingerprint {row.master_fingerprint}, file has {master.fingerprint})"
            )
        self._identity_key = master.unwrap("identities", row.wrapped_identity_key)
        self._linkage_key = master.unwrap("linkage", row.wrapped_linkage_key)
        self._domains: dict[str, Domain] = {}

    def close(self) -> None:
        self._domains.clear()
        self.engine.dispose()

    def __enter__(self) -> TrustedParty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- domains -------------------------------------------------------------------------
    def domain(self, session: Session, name: str, *, actor: str, create: bool = False) -> Domain:
        """The domain with its key; studies and the warehouse are created on first use."""
        kind = domain_kind(name)
        cached = self._domains.get(name)
        if cached is not None:
            return cached
        exists = session.execute(select(domains.c.id).where(domains.c.name == name)).first()
        if exists is None:
            if not create and kind == "project":
                raise NotFoundError(f"no domain {name!r}: a project domain is opened only when "
                                    "the project is approved (`open_domain`)")
            try:
                with session.begin_nested():
                    session.execute(domains.insert().values(
                        name=name, kind=kind, created_at=utcnow(), created_by=actor,
                        wrapped_key=self._master.wrap(f"domain {name}", new_key())))
            except IntegrityError:
                pass  # another session created it a moment ago: use theirs
            else:
                audit.record(session, actor=actor, action="ttp.domain.create",
                             object_type="domain", object_id=name)
        row = domain_row(session, name)
        found = Domain(row.id, name, kind, self._master.unwrap(f"domain {name}", row.wrapped_key))
        if exists is not None:  # a domain created now is cached only once its transaction committed
            self._domains[name] = found
        return found

    def open_domain(self, name: str, *, actor: str) -> None:
        """Create a domain and its key (a project's, when the committee approves it)."""
        with session_scope(self.engine) as s:
            self.domain(s, name, actor=_actor(actor), create=True)

    def close_domain(self, name: str, *, actor: str, reason: str) -> None:
        """Destroy a domain's key and its pseudonym table (end of project): its pseudonyms can
        then never be translated or re-identified again, whoever holds the data."""
        actor = _actor(actor)
        if not reason.strip():
            raise ValidationError("a reason is required", where="reason")
        with session_scope(self.engine) as s:
            row = domain_row(s, name)
            gone = s.execute(pseudonyms.delete().where(pseudonyms.c.domain_id == row.id)).rowcount
            s.execute(update(domains).where(domains.c.id == row.id)
                      .values(wrapped_key=None, closed_at=utcnow()))
            audit.record(s, actor=actor, action="ttp.domain.close", object_type="domain",
                         object_id=name, reason=reason, after={"pseudonyms_destroyed": gone})
        self._domains.pop(name, None)

    # -- pseudonyms ----------------------------------------------------------------------
    def _person_ids(self, s: Session, people: Sequence[PersonRef]) -> list[tuple[int, str, bool]]:
        uids = [p.uid for p in people]
        found: dict[str, tuple[int, str, bool]] = {}
        for part in chunks(sorted(set(uids))):
            found.update((r.uid, (r.id, r.uid, bool(r.opposed_warehouse))) for r in s.execute(
                select(persons.c.id, persons.c.uid, persons.c.opposed_warehouse)
                .where(persons.c.uid.in_(part))).all())
        missing = len(set(uids) - found.keys())
        if missing:
            raise NotFoundError(f"{missing} person handle(s) unknown to this trusted party")
        return [found[u] for u in uids]

    def pseudonyms(self, people: Sequence[PersonRef], domain: str, *, actor: str) -> list[str]:
        """Each person's pseudonym in ``domain`` (issued and recorded on first request).

        Refused for warehouse and project domains if any of these people opposed reuse.
        """
        actor = _actor(actor)
        with session_scope(self.engine) as s:
            dom = self.domain(s, domain, actor=actor)
            ids = self._person_ids(s, people)
            opposed = sum(o for _, _, o in ids)
            if opposed and dom.kind != "study":
                raise PermissionDenied(
                    f"{opposed} of these people opposed reuse of their data: no {dom.kind} "
                    "pseudonym is issued for them (translate() withholds them and counts them)")
            codes = compute_pseudonyms(dom.key, [u for _, u, _ in ids])
            issued = store_codes(s, dom, [(i, c) for (i, _, _), c in zip(ids, codes, strict=True)])
            audit.record(s, actor=actor, action="ttp.pseudonym.issue", object_type="domain",
                         object_id=domain, after={"requested": len(ids), "newly_issued": issued})
        return codes

    def pseudonym(self, person: PersonRef, domain: str, *, actor: str) -> str:
        return self.pseudonyms([person], domain, actor=actor)[0]

    def translate(self, codes: Sequence[str], from_domain: str, to_domain: str, *,
                  actor: str, reason: str = "deposit") -> Translation:
        """Map pseudonyms of one domain to another, in bulk, along an allowed direction only.

        People opposed to reuse get no warehouse or project pseudonym (None, counted).
        """
        actor = _actor(actor)
        direction = (domain_kind(from_domain), domain_kind(to_domain))
        if direction not in ALLOWED_TRANSLATIONS:
            raise PermissionDenied(
                f"translation {direction[0]} → {direction[1]} is not allowed "
                "(only study → warehouse and warehouse → project)")
        codes = list(codes)
        with session_scope(self.engine) as s:
            src = self.domain(s, from_domain, actor=actor)
            dst = self.domain(s, to_domain, actor=actor)
            known = lookup_codes(s, src.id, codes, target_id=dst.id)
            # Typed variants (case, dashes, O/I/L) are accepted; anything else is not found.
            typed = {c: canonical(c) for c in codes if c not in known}
            if typed:
                known |= lookup_codes(s, src.id, typed.values(), target_id=dst.id)
            fresh = [r for r in known.values() if not r.opposed_warehouse and r.target is None]
            made = compute_pseudonyms(dst.key, [r.uid for r in fresh])
            issued = store_codes(s, dst, [(r.id, c) for r, c in zip(fresh, made, strict=True)],
                                 checked=True)
            targets = {r.id: r.target for r in known.values() if r.target is not None}
            targets.update((r.id, c) for r, c in zip(fresh, made, strict=True))
            out: list[str | None] = []
            unknown = withheld = 0
            for code in codes:
                row = known.get(code) or known.get(typed.get(code, ""))
                if row is None:
                    unknown += 1
                    out.append(None)
                elif row.opposed_warehouse:
                    withheld += 1
                    out.append(None)
                else:
                    out.append(targets[row.id])
            audit.record(s, actor=actor, action="ttp.translate", object_type="domain",
                         object_id=f"{from_domain} -> {to_domain}", reason=reason,
                         after={"requested": len(codes), "unknown": unknown,
                                "withheld_opposed": withheld, "newly_issued": issued})
        return Translation(out, unknown, withheld, issued)

    def audit_seq(self) -> int:
        """Sequence number of the store's last audit entry. Every change (oppositions, erasures,
        pseudonyms issued, domains closed, keys rotated) is audited, so an unchanged number means
        unchanged translations: the warehouse gateway keeps a project's translation while it holds."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(audit.AuditHead.seq).where(audit.AuditHead.id == 1)).scalar() or 0)

    def project_translations_hold(self, seq: int, *, look: int = 200) -> int | None:
        """The number of the last audit entry if nothing audited after entry ``seq`` can change
        what a warehouse → project translation gives; ``None`` otherwise, or past ``look`` entries.

        Only two actions cannot: a translation into a project domain (it issues that project's
        pseudonyms, never to anyone withheld, and adds no warehouse pseudonym) and a read of
        oppositions. So the gateway's kept translations outlive other projects' extracts, and
        anything else (an opposition, an erasure, a deposit's pseudonyms, a domain opened or
        closed, a key rotated) still drops them.
        """
        with self.engine.connect() as conn:
            after = conn.execute(select(audit.AuditEntry.seq, audit.AuditEntry.action, audit.AuditEntry.object_id)
                                 .where(audit.AuditEntry.seq > seq).order_by(audit.AuditEntry.seq)
                                 .limit(look + 1)).all()
        if len(after) > look:
            return None
        for _n, action, object_id in after:
            if not (action == "ttp.opposition.read"
                    or (action == "ttp.translate" and object_id.startswith("warehouse -> project:"))):
                return None
        return after[-1][0] if after else seq

    # -- opposition ----------------------------------------------------------------------
    def set_opposition(self, code: str, domain: str, *, opposed: bool, actor: str,
                       reason: str, on: date | None = None) -> None:
        """Record (or lift) a person's opposition to reuse of their data in the warehouse."""
        actor = _actor(actor)
        if not reason.strip():
            raise ValidationError("a reason is required (e.g. the request's reference)",
                                  where="reason")
        code = parse_pseudonym(code)
        with session_scope(self.engine) as s:
            dom = self.domain(s, domain, actor=actor)
            row = lookup_codes(s, dom.id, [code]).get(code)
            if row is None:
                raise NotFoundError(f"no person with this pseudonym in {domain}")
            s.execute(update(persons).where(persons.c.id == row.id).values(
                opposed_warehouse=opposed, opposition_at=utcnow() if opposed else None))
            audit.record(s, actor=actor, action="ttp.opposition.set", object_type=domain,
                         object_id=code, reason=reason,
                         before={"opposed": bool(row.opposed_warehouse)}, after={"opposed": opposed})

    def opposed(self, codes: Sequence[str], domain: str, *, actor: str) -> list[bool | None]:
        """Opposition flag per pseudonym of ``domain`` (None if unknown); no identity involved."""
        actor = _actor(actor)
        with session_scope(self.engine) as s:
            dom = self.domain(s, domain, actor=actor)
            wanted = [canonical(c) for c in codes]
            known = lookup_codes(s, dom.id, wanted)
            flags = [bool(known[c].opposed_warehouse) if c in known else None for c in wanted]
            audit.record(s, actor=actor, action="ttp.opposition.read", object_type="domain",
                         object_id=domain, after={"requested": len(codes),
                                                  "opposed": sum(f is True for f in flags)})
        return flags

    # -- identities (see registry.py and disclosure.py) ----------------------------------
    def register_people(self, people: Sequence[Identity], *, actor: str) -> list[Registration]:
        return registry.register(self, people, actor=_actor(actor))

    def register_person(self, identity: Identity, *, actor: str) -> Registration:
        return self.register_people([identity], actor=actor)[0]

    def update_identity(self, code: str, domain: str, identity: Identity, *, actor: str,
                        reason: str) -> None:
        registry.rectify(self, parse_pseudonym(code), domain, identity, actor=_actor(actor),
                        reason=reason)

    def erase_identity(self, code: str, domain: str, *, actor: str, reason: str) -> None:
        registry.erase_identity(self, parse_pseudonym(code), domain, actor=_actor(actor),
                                reason=reason)

    def duplicate_reviews(self, *, status: str = "open") -> list[registry.Review]:
        return registry.reviews_with_status(self, status)

    def resolve_review(self, review_id: int, *, same_person: bool, actor: str) -> None:
        registry.resolve(self, review_id, same_person=same_person, actor=_actor(actor))

    def review_pair(self, review_id: int, *, actor: str) -> tuple[Identity, Identity]:
        return disclosure.review_pair(self, review_id, actor=_actor(actor))

    def reidentify(self, code: str, domain: str, *, purpose: str, actor: str) -> Identity:
        return disclosure.reidentify(self, parse_pseudonym(code), domain, purpose=purpose,
                                     actor=_actor(actor))

    def contact_addresses(self, codes: Sequence[str], domain: str, *, purpose: str,
                          actor: str) -> disclosure.ContactBatch:
        return disclosure.contact_addresses(self, codes, domain, purpose=purpose,
                                            actor=_actor(actor))
