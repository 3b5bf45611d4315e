"""Interview appointments as the study team sees them: upcoming list, cancellation with a reason.

Booking and reminders are in ``workbench.portal.service`` (``book_appointment``,
``queue_appointment_reminders``); this adds what the scheduling screen needs around them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.participants.models import Participant
from workbench.portal.models import Appointment
from workbench.storage.base import utcnow
from workbench.studies.service import get_study

__all__ = ["active_pseudonyms", "cancel_appointment", "participant_appointments", "participant_in",
           "upcoming_appointments"]


def upcoming_appointments(session: Session, study_code: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Booked interviews of a study that have not ended yet, soonest first."""
    at = now or utcnow()
    study = get_study(session, study_code)
    rows = session.execute(
        select(Appointment, Participant.pseudonym).join(Participant, Participant.id == Appointment.participant_id)
        .where(Appointment.study_id == study.id, Appointment.status == "booked",
               Appointment.starts_at > at - timedelta(hours=4))
        .order_by(Appointment.starts_at)).all()
    return [{"id": a.id, "participant": p, "interviewer": a.interviewer, "starts_at": a.starts_at,
             "minutes": a.minutes, "video_url": a.video_url} for a, p in rows
            if a.starts_at + timedelta(minutes=a.minutes) > at]


def participant_appointments(session: Session, participant_ids: list[int], *,
                             now: datetime | None = None) -> list[tuple[int, datetime, int, str]]:
    """(participant id, start, minutes, video link) of upcoming booked interviews, for the portal."""
    at = now or utcnow()
    rows = session.execute(select(Appointment).where(
        Appointment.participant_id.in_(participant_ids or [-1]), Appointment.status == "booked",
        Appointment.starts_at > at - timedelta(hours=4)).order_by(Appointment.starts_at)).scalars()
    return [(a.participant_id, a.starts_at, a.minutes, a.video_url) for a in rows
            if a.starts_at + timedelta(minutes=a.minutes) > at]


def cancel_appointment(session: Session, appointment_id: int, *, actor: str, reason: str) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFoundError(f"no appointment {appointment_id}")
    if appointment.status != "booked":
        raise ConflictError(f"appointment {appointment_id} is already {appointment.status}")
    if not reason.strip():
        raise ValidationError("say why the interview is cancelled", where="reason")
    appointment.status = "cancelled"
    participant = session.get(Participant, appointment.participant_id)
    audit.record(session, actor=actor, action="portal.appointment.cancel", object_type="participant",
                 object_id=participant.pseudonym if participant else "-", reason=reason.strip(),
                 after={"appointment": appointment_id})
    return appointment


def active_pseudonyms(session: Session, study_code: str) -> list[str]:
    """Participants who can still be interviewed (active), by pseudonym."""
    study = get_study(session, study_code)
    return list(session.execute(select(Participant.pseudonym).where(
        Participant.study_id == study.id, Participant.status == "active").order_by(Participant.pseudonym)).scalars())


def participant_in(session: Session, study_code: str, pseudonym: str) -> Participant:
    study = get_study(session, study_code)
    person = session.execute(select(Participant).where(Participant.study_id == study.id,
                                                       Participant.pseudonym == pseudonym)).scalar_one_or_none()
    if person is None:
        raise NotFoundError(f"no participant {pseudonym!r} in study {study_code}")
    return person
