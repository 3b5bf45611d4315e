"""Invitations and reminders for due questionnaires, queued in the outbox by pseudonym.

One message per participant and event at a time: an invitation when the window opens, then up to
``count`` reminders every ``every_days`` days while it stays open. Dedupe keys make a re-run (or two
workers) harmless. Addresses are not here: the trusted party resolves them when the mail is sent.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.mail import queue_email
from workbench.participants.models import Participant
from workbench.participants.service import (
    FORMS_ACCOUNT,
    collection_blocked,
    current_link_token,
    due_items,
    participant_link,
)
from workbench.studies.models import Study

__all__ = ["queue_reminders"]

TEXT = {
    "fr": ("Questionnaire à remplir : {label}",
           "Bonjour,\n\nUn questionnaire de l'étude {study} vous attend ({label}), à remplir avant le "
           "{closes:%d/%m/%Y}.\nVotre lien personnel : {link}\n\nMerci de votre participation.\n"
           "Ce lien est personnel : ne le transférez pas."),
    "en": ("Questionnaire to fill in: {label}",
           "Hello,\n\nA questionnaire of the {study} study is waiting for you ({label}), to fill in "
           "before {closes:%d %B %Y}.\nYour personal link: {link}\n\nThank you for taking part.\n"
           "This link is personal: please do not forward it."),
}


HELD_LINK = {  # the participant holds a link we cannot re-derive: point to it, never replace it
    "fr": "le lien personnel qui vous a été remis (ou votre espace participant : {portal})",
    "en": "the personal link you were given (or your participant space: {portal})",
}


def _link_text(session: Session, participant: Participant, key: bytes, public_url: str) -> str:
    token = current_link_token(session, participant, key=key, actor="reminders")
    if token is not None:
        return participant_link(public_url, token)
    language = participant.language if participant.language in HELD_LINK else "en"
    return HELD_LINK[language].format(portal=public_url.rstrip("/") + FORMS_ACCOUNT)


def queue_reminders(session: Session, *, key: bytes, public_url: str, today: date | None = None) -> int:
    """Queue what is due today; returns the number of messages queued (not sent)."""
    today = today or date.today()
    queued = 0
    for study in session.execute(select(Study).where(Study.status == "active")).scalars():
        policy = study.reminders or {}
        count, every = int(policy.get("count", 2)), max(1, int(policy.get("every_days", 3)))
        windows = {e.code: e for e in study.events}
        people = session.execute(
            select(Participant).where(Participant.study_id == study.id, Participant.status == "active")
        ).scalars()
        for participant in people:
            if collection_blocked(participant):
                continue
            by_event: dict[str, list[str]] = {}
            for item in due_items(session, participant, today=today):
                if not item.overdue:
                    by_event.setdefault(item.event_code, []).append(item.instrument_id)
            for code in by_event:
                event = windows[code]
                opens = participant.inclusion_date + timedelta(days=event.day_offset - event.window_before)
                closes = participant.inclusion_date + timedelta(days=event.day_offset + event.window_after)
                step = min(count, (today - opens).days // every)
                kind = "invite" if step == 0 else f"remind{step}"
                subject, body = TEXT.get(participant.language, TEXT["en"])
                link = _link_text(session, participant, key, public_url)
                message = queue_email(
                    session, pseudonym=participant.pseudonym, domain=f"study:{study.code}",
                    purpose="study_reminder",
                    dedupe_key=f"{kind}:{participant.pseudonym}:{code}",
                    subject=subject.format(label=event.label),
                    body=body.format(study=study.code, label=event.label, closes=closes, link=link),
                )
                queued += message is not None
    if queued:
        audit.record(session, actor="reminders", action="mail.queue", object_type="outbox",
                     object_id=today.isoformat(), after={"queued": queued})
    return queued
