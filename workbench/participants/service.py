"""Personal links for participants and what is due for them today."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ConflictError, NotFoundError
from workbench.participants.models import Participant, Response
from workbench.storage.base import utcnow
from workbench.studies.models import Study

__all__ = [
    "FORMS_ACCOUNT",
    "FORMS_HOME",
    "DueItem",
    "current_link_token",
    "due_items",
    "ensure_can_collect",
    "issue_access_token",
    "link_token",
    "new_pseudonym",
    "participant_by_token",
    "participant_link",
]

FORMS_HOME = "/services/forms/voila/render/home.ipynb"
FORMS_ACCOUNT = "/services/forms/voila/render/account.ipynb"  # the participant space's sign-in
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def new_pseudonym(prefix: str = "P") -> str:
    return prefix + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def participant_link(public_url: str, token: str) -> str:
    """The personal link a participant opens (query name `access`, which Jupyter does not read)."""
    return f"{public_url.rstrip('/')}{FORMS_HOME}?access={token}"


def link_token(participant: Participant, key: bytes) -> str:
    """The participant's current link token, derived (not stored): HMAC of id and version."""
    message = f"participant-link:{participant.id}:{participant.access_token_version}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode().rstrip("=")


def issue_access_token(
    session: Session, participant: Participant, *, actor: str, days: int = 180,
    key: bytes | None = None,
) -> str:
    """A new link token (256 bits); the previous one stops working.

    With the server ``key`` the token can be derived again for reminder emails (``link_token``);
    without it the token is random and only the participant ever holds it.
    """
    participant.access_token_version += 1
    session.flush()
    token = link_token(participant, key) if key is not None else secrets.token_urlsafe(32)
    participant.access_token_hash = _token_hash(token)
    participant.access_token_expires = utcnow() + timedelta(days=days)
    audit.record(session, actor=actor, action="participant.link.issue", object_type="participant",
                 object_id=participant.pseudonym, after={"valid_days": days})
    return token


def current_link_token(
    session: Session, participant: Participant, *, key: bytes, actor: str, replace_held: bool = False,
) -> str | None:
    """The token to put in a message, without breaking a link the participant already holds.

    A derivable live link is re-derived. With no live link, a derivable one is issued. A live link
    that cannot be derived (random, handed out once) is left working: ``None`` unless the caller
    is the participant themself (``replace_held``, e.g. signed in to the portal), since rotating
    it would silently kill the link they were given on paper or by an earlier message.
    """
    token = link_token(participant, key)
    live = _link_is_live(participant)
    if live and participant.access_token_hash == _token_hash(token):
        return token
    if live and not replace_held:
        return None
    return issue_access_token(session, participant, actor=actor, key=key)


def _link_is_live(participant: Participant) -> bool:
    if participant.access_token_hash is None:
        return False
    expires = participant.access_token_expires
    return expires is None or expires > utcnow()


def participant_by_token(session: Session, token: str, *, source: str = "forms") -> Participant:
    """The participant behind a link; unknown and expired links are refused and audited."""
    participant = None
    if token:
        participant = session.execute(
            select(Participant).where(Participant.access_token_hash == _token_hash(token))
        ).scalar_one_or_none()
    if participant is None or (
        participant.access_token_expires is not None and participant.access_token_expires <= utcnow()
    ):
        reason = "unknown link" if participant is None else "expired link"
        audit.record(session, actor="anonymous", action="participant.link.refused",
                     object_type="participant", object_id=participant.pseudonym if participant else "-",
                     reason=reason, after={"source": source})
        raise NotFoundError("this link is unknown or has expired")
    audit.record(session, actor=participant.pseudonym, action="participant.link.open",
                 object_type="participant", object_id=participant.pseudonym, after={"source": source})
    return participant


def collection_blocked(participant: Participant) -> str | None:
    """Why nothing may be collected from this participant now, or None."""
    if participant.status != "active":
        return "this participant has withdrawn from the study"
    if participant.questionnaires_stopped:
        return "this participant asked to stop answering questionnaires"
    if participant.reconsent_required:
        return "a new consent version must be signed before answering questionnaires"
    return None


def ensure_can_collect(participant: Participant) -> None:
    """Every submit path calls this first, so a withdrawal takes effect immediately."""
    reason = collection_blocked(participant)
    if reason is not None:
        raise ConflictError(reason)


@dataclass(frozen=True)
class DueItem:
    event_code: str
    event_label: str
    instrument_id: str
    due_date: date
    window_end: date
    overdue: bool


def due_items(session: Session, participant: Participant, today: date | None = None) -> list[DueItem]:
    """Questionnaires whose window has opened and that are not yet submitted, oldest first."""
    if collection_blocked(participant) is not None:
        return []
    today = today or datetime.now().date()
    study = session.get(Study, participant.study_id)
    assert study is not None
    done = {
        (row.event_code, row.instrument_id)
        for row in session.execute(
            select(Response.event_code, Response.instrument_id).where(
                Response.participant_id == participant.id
            )
        )
    }
    items = []
    for event in study.events:
        if event.respondent_type != participant.respondent_type:
            continue
        due = participant.inclusion_date + timedelta(days=event.day_offset)
        opens = due - timedelta(days=event.window_before)
        closes = due + timedelta(days=event.window_after)
        if today < opens:
            continue
        for instrument in event.instruments:
            if (event.code, instrument) in done:
                continue
            items.append(DueItem(event.code, event.label, instrument, due, closes, today > closes))
    return items
