"""Studies and their schedule of assessments (the core that later modules extend)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["ScheduleEvent", "Study", "StudyStatus"]


class StudyStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"
    DEPOSITED = "deposited"


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=StudyStatus.DRAFT.value)
    design: Mapped[str] = mapped_column(String(32), nullable=False, default="observational")
    sponsor: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    events: Mapped[list[ScheduleEvent]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="ScheduleEvent.day_offset",
        lazy="selectin",
    )


class ScheduleEvent(Base):
    """One time point of the schedule: day offset from inclusion, its window, what is collected."""

    __tablename__ = "schedule_events"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    day_offset: Mapped[int] = mapped_column(Integer, nullable=False)
    window_before: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    window_after: Mapped[int] = mapped_column(Integer, nullable=False, default=7)
    respondent_type: Mapped[str] = mapped_column(String(16), nullable=False, default="patient")
    instruments: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)

    study: Mapped[Study] = relationship(back_populates="events")
