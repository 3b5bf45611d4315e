"""Participant portal: results, study news matched to opted-in interests, interview appointments."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts.models import User
from workbench.errors import ConflictError, ValidationError
from workbench.mail import queue_email
from workbench.participants.models import Participant
from workbench.portal.models import Appointment, Interests, Recruitment, StudyResult
from workbench.storage.base import utcnow
from workbench.studies.models import Study
from workbench.studies.service import get_study

__all__ = [
    "RESPONDENT_TYPES",
    "NewsItem",
    "book_appointment",
    "news_for",
    "publish_recruitment",
    "publish_result",
    "queue_appointment_reminders",
    "results_for",
    "set_interests",
]

RESPONDENT_TYPES = ("patient", "carer", "volunteer")


def _bilingual(value: dict[str, str], where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value.get("fr", "").strip() or not value.get("en", "").strip():
        raise ValidationError("needs a French and an English text", where=where)
    return {"fr": value["fr"].strip(), "en": value["en"].strip()}


def publish_result(session: Session, study_code: str, *, title: dict[str, str], body: dict[str, str],
                   actor: str) -> StudyResult:
    study = get_study(session, study_code)
    result = StudyResult(study_id=study.id, title=_bilingual(title, "title"), body=_bilingual(body, "text"),
                         published_by=actor)
    session.add(result)
    session.flush()
    audit.record(session, actor=actor, action="portal.result", object_type="study", object_id=study_code,
                 after={"result": result.id})
    return result


def results_for(session: Session, participant_ids: list[int], language: str) -> list[dict[str, str]]:
    """Results of the studies these participations belong to, newest first, in one language."""
    rows = session.execute(
        select(StudyResult, Study.code).join(Study, Study.id == StudyResult.study_id)
        .join(Participant, Participant.study_id == Study.id)
        .where(Participant.id.in_(participant_ids or [-1]))
        .order_by(StudyResult.published_at.desc())
    ).all()
    lang = language if language in ("fr", "en") else "fr"
    return [{"study": code, "title": r.title[lang], "body": r.body[lang],
             "date": f"{r.published_at:%Y-%m-%d}"} for r, code in rows]


def set_interests(session: Session, user: User, *, respondent_types: list[str], cancer_types: list[str],
                  news_opt_in: bool, language: str) -> Interests:
    bad = sorted(set(respondent_types) - set(RESPONDENT_TYPES))
    if bad:
        raise ValidationError(f"unknown profile(s): {', '.join(bad)}", where="profile")
    if language not in ("fr", "en"):
        raise ValidationError("fr or en", where="language")
    row = session.get(Interests, user.id) or Interests(user_id=user.id)
    before = {"types": list(row.respondent_types or []), "news": row.news_opt_in} if row.user_id else None
    row.respondent_types, row.cancer_types = sorted(set(respondent_types)), sorted({c.strip() for c in cancer_types})
    row.news_opt_in, row.language, row.updated_at = news_opt_in, language, utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor=user.username, action="portal.interests", object_type="user",
                 object_id=user.username, before=before,
                 after={"types": row.respondent_types, "news": news_opt_in})
    return row


def publish_recruitment(session: Session, study_code: str, *, title: dict[str, str], body: dict[str, str],
                        respondent_types: list[str], cancer_types: list[str], actor: str,
                        closes_at: datetime | None = None) -> Recruitment:
    study = get_study(session, study_code)
    if study.status not in {"draft", "active"}:
        raise ConflictError(f"study {study_code} is {study.status}: it no longer recruits")
    if not respondent_types or set(respondent_types) - set(RESPONDENT_TYPES):
        raise ValidationError(f"choose among {', '.join(RESPONDENT_TYPES)}", where="who is recruited")
    notice = Recruitment(study_id=study.id, title=_bilingual(title, "title"), body=_bilingual(body, "text"),
                         respondent_types=sorted(set(respondent_types)), cancer_types=sorted(set(cancer_types)),
                         closes_at=closes_at, created_by=actor)
    session.add(notice)
    session.flush()
    audit.record(session, actor=actor, action="portal.recruitment", object_type="study",
                 object_id=study_code, after={"types": notice.respondent_types, "cancers": notice.cancer_types})
    return notice


@dataclass(frozen=True)
class NewsItem:
    study: str
    title: str
    body: str


def news_for(session: Session, user: User, *, now: datetime | None = None) -> list[NewsItem]:
    """Open recruitments matching what the person opted into; nothing without an opt-in."""
    interests = session.get(Interests, user.id)
    if interests is None or not interests.news_opt_in:
        return []
    at = now or utcnow()
    rows = session.execute(
        select(Recruitment, Study.code).join(Study, Study.id == Recruitment.study_id)
        .where(Recruitment.opens_at <= at, or_(Recruitment.closes_at.is_(None), Recruitment.closes_at > at))
        .order_by(Recruitment.opens_at.desc())
    ).all()
    mine = set(interests.respondent_types)
    cancers = set(interests.cancer_types)
    lang = interests.language
    return [NewsItem(code, r.title[lang], r.body[lang]) for r, code in rows
            if mine & set(r.respondent_types) and (not r.cancer_types or cancers & set(r.cancer_types))]


def book_appointment(session: Session, participant: Participant, *, interviewer: str, starts_at: datetime,
                     minutes: int, video_base_url: str, actor: str) -> Appointment:
    """An interview slot with a fresh, unguessable room on the site's videoconference service."""
    if starts_at <= utcnow():
        raise ValidationError("choose a time in the future", where="appointment")
    if not 15 <= minutes <= 240:
        raise ValidationError("between 15 and 240 minutes", where="duration")
    if participant.status != "active":
        raise ConflictError("this participant has withdrawn")
    end = starts_at + timedelta(minutes=minutes)
    clash = session.execute(select(Appointment.id).where(
        Appointment.interviewer == interviewer, Appointment.status == "booked",
        and_(Appointment.starts_at < end, Appointment.starts_at > starts_at - timedelta(minutes=240)),
    )).scalars().all()
    for other_id in clash:
        other = session.get(Appointment, other_id)
        assert other is not None
        if other.starts_at + timedelta(minutes=other.minutes) > starts_at:
            raise ConflictError(f"{interviewer} already has an interview at {other.starts_at:%Y-%m-%d %H:%M}")
    room = "weshare-" + secrets.token_urlsafe(12).replace("_", "").replace("-", "")
    appointment = Appointment(study_id=participant.study_id, participant_id=participant.id,
                              interviewer=interviewer, starts_at=starts_at, minutes=minutes,
                              video_url=f"{video_base_url.rstrip('/')}/{room}")
    session.add(appointment)
    session.flush()
    audit.record(session, actor=actor, action="portal.appointment", object_type="participant",
                 object_id=participant.pseudonym, after={"at": starts_at.isoformat(), "minutes": minutes})
    return appointment


def queue_appointment_reminders(session: Session, *, now: datetime | None = None,
                                ahead: timedelta = timedelta(hours=24)) -> int:
    """One reminder per booked interview starting within ``ahead``, to participant and interviewer."""
    at = now or utcnow()
    queued = 0
    rows = session.execute(select(Appointment, Participant).join(
        Participant, Participant.id == Appointment.participant_id).where(
        Appointment.status == "booked", Appointment.starts_at > at, Appointment.starts_at <= at + ahead)).all()
    for appointment, participant in rows:
        when = f"{appointment.starts_at:%Y-%m-%d %H:%M} UTC"
        fr = participant.language == "fr"
        subject = "Rappel : votre entretien" if fr else "Reminder: your interview"
        body = (f"Votre entretien a lieu le {when}. Lien : {appointment.video_url}" if fr
                else f"Your interview is on {when}. Link: {appointment.video_url}")
        study = session.get(Study, participant.study_id)
        assert study is not None
        message = queue_email(session, pseudonym=participant.pseudonym, domain=f"study:{study.code}",
                              purpose="study_reminder", subject=subject, body=body,
                              dedupe_key=f"appt:{appointment.id}:participant")
        queued += message is not None
        staff = session.execute(select(User).where(User.username == appointment.interviewer)).scalar_one_or_none()
        if staff is not None and staff.email:
            message = queue_email(session, to=staff.email, subject=f"Interview {participant.pseudonym} at {when}",
                                  body=f"Video link: {appointment.video_url}",
                                  dedupe_key=f"appt:{appointment.id}:interviewer")
            queued += message is not None
    return queued


