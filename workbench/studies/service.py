"""Study life cycle and the role-scoped list of studies staff may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts.models import Role, User
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.participants.models import Participant
from workbench.storage.base import utcnow
from workbench.studies.models import ScheduleEvent, Study, StudySite, StudyStatus

__all__ = ["TRANSITIONS", "StudyRow", "add_event", "create_study", "get_study", "set_status", "visible_studies"]

TRANSITIONS = {
    StudyStatus.DRAFT: {StudyStatus.ACTIVE},
    StudyStatus.ACTIVE: {StudyStatus.CLOSED},
    StudyStatus.CLOSED: {StudyStatus.DEPOSITED},
    StudyStatus.DEPOSITED: set(),
}
# Roles that see every study; others see only studies named in their scoped assignments.
_SEE_ALL = {Role.ADMINISTRATOR, Role.DATA_STEWARD, Role.COMMITTEE_MEMBER}


@dataclass(frozen=True)
class StudyRow:
    code: str
    title: str
    status: str
    design: str
    sponsor: str
    participants: int


def create_study(
    session: Session, code: str, title: str, *, actor: str, design: str = "observational",
    sponsor: str = "", description: str = "",
) -> Study:
    code = code.strip().upper()
    if not code or not code.replace("-", "").isalnum() or len(code) > 32:
        raise ValidationError("use up to 32 letters, digits or '-'", where="study code")
    if not title.strip():
        raise ValidationError("is required", where="study title")
    if session.execute(select(Study.id).where(Study.code == code)).first():
        raise ConflictError(f"a study with code {code} already exists")
    study = Study(code=code, title=title.strip(), design=design, sponsor=sponsor, description=description)
    session.add(study)
    session.flush()
    audit.record(session, actor=actor, action="study.create", object_type="study", object_id=code,
                 after={"title": study.title, "design": design, "status": study.status})
    return study


def get_study(session: Session, code: str) -> Study:
    study = session.execute(select(Study).where(Study.code == code)).scalar_one_or_none()
    if study is None:
        raise NotFoundError(f"no study with code {code!r}")
    return study


def add_event(
    session: Session, study: Study, code: str, label: str, day_offset: int, *, actor: str,
    window_before: int = 0, window_after: int = 7, instruments: list[str] | None = None,
    respondent_type: str = "patient",
) -> ScheduleEvent:
    if window_before < 0 or window_after < 0:
        raise ValidationError("windows cannot be negative", where=f"event {code}")
    event = ScheduleEvent(
        code=code, label=label, day_offset=day_offset, window_before=window_before,
        window_after=window_after, instruments=list(instruments or []), respondent_type=respondent_type,
    )
    study.events.append(event)
    session.flush()
    audit.record(session, actor=actor, action="study.event.add", object_type="study", object_id=study.code,
                 after={"event": code, "day": day_offset, "instruments": event.instruments})
    return event


def set_status(session: Session, code: str, status: str, *, actor: str, reason: str = "") -> Study:
    study = get_study(session, code)
    try:
        target = StudyStatus(status)
    except ValueError:
        raise ValidationError(f"unknown status {status!r}", where="status") from None
    current = StudyStatus(study.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
        raise ConflictError(f"study {code} is {current.value}; it can move to: {allowed}")
    study.status = target.value
    study.updated_at = utcnow()
    audit.record(session, actor=actor, action="study.status", object_type="study", object_id=code,
                 reason=reason or None, before={"status": current.value}, after={"status": target.value})
    return study


def visible_studies(session: Session, viewer: User) -> list[StudyRow]:
    """Studies the viewer may see (role scope, or a site they investigate), with participant counts.

    The view itself is audited."""
    roles = viewer.role_names
    query = (
        select(Study, func.count(Participant.id))
        .outerjoin(Participant, Participant.study_id == Study.id)
        .group_by(Study.id)
        .order_by(Study.code)
    )
    if not roles & _SEE_ALL:
        codes = {a.scope_id for a in viewer.roles if a.scope_type == "study"}
        if Role.STUDY_MANAGER in roles and not codes:
            codes = None  # an unscoped study manager (platform team) sees every study
        if codes is not None:
            # a site investigator sees the studies of their sites (their alerts queue is there)
            sites = select(StudySite.study_id).where(StudySite.investigator == viewer.username)
            query = query.where(Study.code.in_(codes or {""}) | Study.id.in_(sites))
    rows = [
        StudyRow(s.code, s.title, s.status, s.design, s.sponsor, int(n))
        for s, n in session.execute(query).all()
    ]
    audit.record(session, actor=viewer.username, action="data.view", object_type="study-list",
                 object_id="*", after={"studies": [r.code for r in rows]})
    return rows
