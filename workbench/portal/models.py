"""Portal records: results published for participants, recruitment notices, interests, appointments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["Appointment", "Interests", "Recruitment", "StudyResult"]


class StudyResult(Base):
    """Lay summary of a study's results, shown to its participants in their language."""

    __tablename__ = "study_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[Any] = mapped_column(JSONText, nullable=False)  # {"fr": ..., "en": ...}
    body: Mapped[Any] = mapped_column(JSONText, nullable=False)
    published_by: Mapped[str] = mapped_column(String(64), nullable=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Recruitment(Base):
    """A study looking for people; matched against the interests people opted into."""

    __tablename__ = "recruitments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[Any] = mapped_column(JSONText, nullable=False)
    body: Mapped[Any] = mapped_column(JSONText, nullable=False)
    respondent_types: Mapped[Any] = mapped_column(JSONText, nullable=False)  # patient, carer, volunteer
    cancer_types: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)  # [] = any
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)


class Interests(Base):
    """What a portal account opted into hearing about (no contact details: those stay with the TTP)."""

    __tablename__ = "portal_interests"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    respondent_types: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    cancer_types: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    news_opt_in: Mapped[bool] = mapped_column(nullable=False, default=False)
    language: Mapped[str] = mapped_column(String(2), nullable=False, default="fr")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (UniqueConstraint("interviewer", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"),
                                                nullable=False)
    interviewer: Mapped[str] = mapped_column(String(64), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    video_url: Mapped[str] = mapped_column(String(300), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="booked")
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
