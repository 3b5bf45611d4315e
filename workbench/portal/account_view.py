"""Everything a participant's portal page shows, gathered in one read for one or more participations.

Used by the account portal (all studies of the account) and by the personal-link portal (one
participation). The questionnaire link of a study is the participant's personal link, derived
again from the server key (as reminders do), so the forms service recognises them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.consent.models import ConsentDocument, ConsentRecord
from workbench.consent.service import current_document
from workbench.errors import NotFoundError
from workbench.participants.models import Participant
from workbench.participants.rights import RightsRequest
from workbench.participants.service import (
    FORMS_HOME,
    current_link_token,
    due_items,
    participant_link,
)
from workbench.portal.interviews import participant_appointments
from workbench.portal.models import Interests
from workbench.portal.service import NewsItem, news_for, results_for
from workbench.studies.models import Study

__all__ = ["CONSENT_FORM", "DueLine", "PortalPage", "StudyLine", "portal_page"]

CONSENT_FORM = "/services/forms/voila/render/consent.ipynb"


@dataclass(frozen=True)
class DueLine:
    label: str
    instrument: str
    until: str
    overdue: bool


@dataclass(frozen=True)
class StudyLine:
    code: str
    title: str
    pseudonym: str
    participant_id: int
    status: str
    due: list[DueLine]
    form_link: str  # "" when no key or public address was given
    consent_link: str = ""  # set when a consent (or a new version) waits for the signature


@dataclass(frozen=True)
class PortalPage:
    language: str
    studies: list[StudyLine]
    consents: list[tuple[str, str, str, str, str]]  # study, title, version, signed at, vault path
    results: list[dict[str, str]]
    requests: list[tuple[str, str, str, str]]  # study, kind, status, due date
    news: list[NewsItem] = field(default_factory=list)
    interests: tuple[list[str], list[str], bool] = ([], [], False)  # profiles, cancer types, opt-in
    appointments: list[tuple[str, datetime, int, str]] = field(default_factory=list)  # study, start, min, link


def _form_link(session: Session, participant: Participant, key: bytes, public_url: str, actor: str) -> str:
    # The signed-in participant is the holder of any earlier link: replacing it is theirs to do.
    token = current_link_token(session, participant, key=key, actor=actor, replace_held=True)
    assert token is not None  # replace_held always yields a token
    return participant_link(public_url, token)


def _consent_waiting(session: Session, participant: Participant) -> bool:
    if participant.reconsent_required:
        return True
    try:
        current_document(session, participant)
    except NotFoundError:
        return False  # the study does not use e-consent
    return session.execute(select(ConsentRecord.id).where(
        ConsentRecord.participant_id == participant.id).limit(1)).first() is None


def portal_page(session: Session, participants: list[Participant], *, user: User | None = None,
                key: bytes | None = None, public_url: str = "", today: date | None = None) -> PortalPage:
    """The page for these participations; news and interests only for an account (``user``)."""
    interests = session.get(Interests, user.id) if user is not None else None
    language = interests.language if interests is not None else (
        participants[0].language if participants else "fr")
    language = language if language in ("fr", "en") else "fr"
    ids = [p.id for p in participants]
    codes = {s.id: s for s in session.execute(
        select(Study).where(Study.id.in_({p.study_id for p in participants} or {-1}))).scalars()}
    studies = []
    for p in participants:
        due = [DueLine(d.event_label, d.instrument_id, f"{d.window_end:%Y-%m-%d}", d.overdue)
               for d in due_items(session, p, today)]
        actor = user.username if user else p.pseudonym
        link = _form_link(session, p, key, public_url, actor) if due and key is not None and public_url else ""
        consent = ""
        if key is not None and public_url and p.status == "active" and _consent_waiting(session, p):
            consent = _form_link(session, p, key, public_url, actor).replace(FORMS_HOME, CONSENT_FORM)
        study = codes[p.study_id]
        studies.append(StudyLine(study.code, study.title, p.pseudonym, p.id, p.status, due, link, consent))
    consents = [(codes[p_study].code, d.title, d.version, r.signed_at.strftime("%Y-%m-%d %H:%M"), r.vault_path)
                for r, d, p_study in session.execute(
                    select(ConsentRecord, ConsentDocument, Participant.study_id)
                    .join(ConsentDocument, ConsentDocument.id == ConsentRecord.document_id)
                    .join(Participant, Participant.id == ConsentRecord.participant_id)
                    .where(ConsentRecord.participant_id.in_(ids or [-1])).order_by(ConsentRecord.signed_at)).all()]
    requests = [(codes[p_study].code, r.kind, r.status, r.due_at.strftime("%Y-%m-%d")) for r, p_study in
                session.execute(select(RightsRequest, Participant.study_id)
                                .join(Participant, Participant.id == RightsRequest.participant_id)
                                .where(RightsRequest.participant_id.in_(ids or [-1]))
                                .order_by(RightsRequest.received_at)).all()]
    news = news_for(session, user) if user is not None else []
    chosen = ((list(interests.respondent_types), list(interests.cancer_types), interests.news_opt_in)
              if interests is not None else ([], [], False))
    study_of = {p.id: codes[p.study_id].code for p in participants}
    appointments = [(study_of[pid], start, minutes, link)
                    for pid, start, minutes, link in participant_appointments(session, ids)]
    return PortalPage(language, studies, consents, results_for(session, ids, language), requests, news, chosen,
                      appointments)
