"""Save and resume: a participant's unfinished form, kept server-side until it is submitted.

A draft holds the answers given so far and the page reached, so a participant who closes the
phone's browser resumes where they stopped. Drafts are never analysed and are deleted when the
response is committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["Draft", "ResponseDraft", "clear_draft", "load_draft", "save_draft"]


class ResponseDraft(Base):
    __tablename__ = "response_drafts"
    __table_args__ = (UniqueConstraint("participant_id", "event_code", "instrument_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), nullable=False)
    event_code: Mapped[str] = mapped_column(String(32), nullable=False)
    instrument_id: Mapped[str] = mapped_column(String(64), nullable=False)
    answers: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    submission_key: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Draft:
    """What a form needs to resume: answers, page reached, and the key its submit will reuse."""

    def __init__(self, answers: dict[str, Any], position: int, submission_key: str) -> None:
        self.answers, self.position, self.submission_key = answers, position, submission_key


def save_draft(session: Session, participant_id: int, event_code: str, instrument_id: str,
               answers: dict[str, Any], position: int, submission_key: str) -> None:
    row = session.execute(select(ResponseDraft).where(
        ResponseDraft.participant_id == participant_id, ResponseDraft.event_code == event_code,
        ResponseDraft.instrument_id == instrument_id)).scalar_one_or_none()
    if row is None:
        session.add(ResponseDraft(participant_id=participant_id, event_code=event_code,
                                  instrument_id=instrument_id, answers=dict(answers), position=position,
                                  submission_key=submission_key))
    else:
        row.answers, row.position, row.updated_at = dict(answers), position, utcnow()
    session.flush()


def load_draft(session: Session, participant_id: int, event_code: str, instrument_id: str) -> Draft | None:
    row = session.execute(select(ResponseDraft).where(
        ResponseDraft.participant_id == participant_id, ResponseDraft.event_code == event_code,
        ResponseDraft.instrument_id == instrument_id)).scalar_one_or_none()
    return None if row is None else Draft(dict(row.answers), row.position, row.submission_key)


def clear_draft(session: Session, participant_id: int, event_code: str, instrument_id: str) -> None:
    session.execute(delete(ResponseDraft).where(
        ResponseDraft.participant_id == participant_id, ResponseDraft.event_code == event_code,
        ResponseDraft.instrument_id == instrument_id))
