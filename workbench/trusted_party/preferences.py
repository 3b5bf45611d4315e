"""A person's contact preferences, read and changed by the person through the trusted party.

Preferences live inside the sealed identity, so only the trusted party can read or change them;
the portal passes the person's own study pseudonym and gets back four booleans, nothing else.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select, update

from workbench import audit
from workbench.errors import NotFoundError
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.trusted_party.domains import lookup_codes
from workbench.trusted_party.identity import ContactPreferences
from workbench.trusted_party.keys import seal
from workbench.trusted_party.registry import unseal
from workbench.trusted_party.schema import identities
from workbench.trusted_party.service import TrustedParty

__all__ = ["contact_preferences", "set_contact_preferences"]


def _row(tp: TrustedParty, session, code: str, domain: str, actor: str):  # type: ignore[no-untyped-def]
    dom = tp.domain(session, domain, actor=actor)
    row = lookup_codes(session, dom.id, [code]).get(code)
    sealed = None if row is None else session.execute(
        select(identities.c.sealed).where(identities.c.person_id == row.id)).scalar_one_or_none()
    if row is None or sealed is None:
        raise NotFoundError("no contact details are held for this person")
    return row, unseal(tp, row.uid, sealed)


def contact_preferences(tp: TrustedParty, code: str, domain: str, *, actor: str) -> ContactPreferences:
    with session_scope(tp.engine) as s:
        _, identity = _row(tp, s, code, domain, actor)
        audit.record(s, actor=actor, action="ttp.preferences.read", object_type=domain, object_id=code)
        return identity.contact


def set_contact_preferences(tp: TrustedParty, code: str, domain: str, preferences: ContactPreferences, *,
                            actor: str) -> None:
    """Replace the preferences (the audit names what changed, not the person)."""
    with session_scope(tp.engine) as s:
        row, identity = _row(tp, s, code, domain, actor)
        changed = {k: v for k, v in vars(preferences).items() if getattr(identity.contact, k) != v}
        updated = replace(identity, contact=preferences)
        s.execute(update(identities).where(identities.c.person_id == row.id).values(
            sealed=seal(tp._identity_key, updated.to_json(), row.uid.encode("ascii")), updated_at=utcnow()))
        audit.record(s, actor=actor, action="ttp.preferences.update", object_type=domain, object_id=code,
                     after={"changed": changed})
