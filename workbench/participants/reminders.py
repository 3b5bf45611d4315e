"""Invitations and reminders for due questionnaires, queued in the outbox by pseudonym.

One message per participant and event at a time: an invitation when the window opens, then up to
``count`` reminders every ``every_days`` days while it stays open. Dedupe keys make a re-run (or two
workers) harmless. Addresses are not here: the trusted party resolves them when the mail is sent.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.mail import queue_email
from workbench.participants.models import Participant
from workbench.participants.service import (
    collection_blocked,
    due_items,
    issue_access_token,
    link_token,
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


def _ensure_link(session: Session, participant: Participant, key: bytes) -> str:
    token = link_token(participant, key)
    if participant.access_token_hash != hashlib.sha256(token.encode()).hexdigest():
        token = issue_access_token(session, participant, actor="reminders", key=key)
    return token


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
                link = participant_link(public_url, _ensure_link(session, participant, key))
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
