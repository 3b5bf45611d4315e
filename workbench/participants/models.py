"""Participants as the operational store knows them: a study pseudonym, never an identity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["Participant", "Response"]


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    respondent_type: Mapped[str] = mapped_column(String(16), nullable=False, default="patient")
    site: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    arm: Mapped[str | None] = mapped_column(String(64))
    inclusion_date: Mapped[date] = mapped_column(Date, nullable=False)
    # active | withdrawn | deceased | lost_to_follow_up, and since when (deaths are not missing data)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    status_since: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(2), nullable=False, default="fr")
    # SHA-256 of the personal link token; the token itself is only ever sent to the participant.
    access_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    access_token_expires: Mapped[datetime | None] = mapped_column(UTCDateTime)
    access_token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    baseline: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    # Consent state, kept in step by workbench.consent (signing, new versions, withdrawal).
    reconsent_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    questionnaires_stopped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    data_use_stopped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reuse_opposed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Response(Base):
    """One submitted questionnaire; ``submission_key`` makes a retried submit a no-op."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("participant_id", "event_code", "instrument_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event_code: Mapped[str] = mapped_column(String(32), nullable=False)
    instrument_id: Mapped[str] = mapped_column(String(32), nullable=False)
    submission_key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    answers: Mapped[Any] = mapped_column(JSONText, nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
