"""The optional second check on a personal link: the participant's year of birth.

A forwarded or intercepted link alone then does not open someone's questionnaires. Failed
attempts are audited, and five within a day lock the link until the team issues a new one, so
the year cannot be guessed by trying the hundred plausible values.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.audit import AuditEntry
from workbench.errors import PermissionDenied, ValidationError
from workbench.participants.models import Participant
from workbench.storage.base import utcnow

__all__ = ["MAX_ATTEMPTS", "check_birth_year", "needs_second_check"]

MAX_ATTEMPTS = 5
FAILED = "participant.link.check_failed"


def needs_second_check(participant: Participant) -> bool:
    return isinstance((participant.baseline or {}).get("birth_year"), int)


def _failures(session: Session, participant: Participant) -> int:
    since = utcnow() - timedelta(days=1)
    return session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == FAILED, AuditEntry.object_id == participant.pseudonym, AuditEntry.at >= since,
    )).scalar_one()


def check_birth_year(session: Session, participant: Participant, answer: str) -> bool:
    """True for the right year; False for a wrong one, audited (the caller's commit keeps the
    record, which is why this returns rather than raises); locked after five failures a day."""
    if not needs_second_check(participant):
        return True
    if _failures(session, participant) >= MAX_ATTEMPTS:
        raise PermissionDenied("too many attempts: ask the study team for a new link")
    text = answer.strip()
    if not (text.isdigit() and len(text) == 4):
        raise ValidationError("four digits, for example 1962", where="year of birth")
    if int(text) != participant.baseline["birth_year"]:
        audit.record(session, actor="anonymous", action=FAILED, object_type="participant",
                     object_id=participant.pseudonym, reason="wrong year of birth")
        return False
    audit.record(session, actor=participant.pseudonym, action="participant.link.checked",
                 object_type="participant", object_id=participant.pseudonym)
    return True
