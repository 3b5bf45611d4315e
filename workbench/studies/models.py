"""Studies and their schedule of assessments (the core that later modules extend)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["Alert", "AlertRule", "ScheduleEvent", "Study", "StudyArm", "StudySite", "StudyStatus"]


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
    sponsor_status: Mapped[str] = mapped_column(String(16), nullable=False, default="non_partner")
    sponsor_sector: Mapped[str] = mapped_column(String(16), nullable=False, default="academic")
    timing: Mapped[str] = mapped_column(String(16), nullable=False, default="prospective")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # Platform modules used: epro, consent, randomisation, qualitative, bubble.
    modules: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    # Variables planned for deposit into the warehouse at study end (only these are moved).
    deposit_plan: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    # Contract record: needs, deadlines, publication rules, development days, projects per year.
    contract: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    tariff: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    # Invitation when a window opens, then up to ``count`` reminders every ``every_days`` days.
    reminders: Mapped[Any] = mapped_column(
        JSONText, nullable=False, default=lambda: {"count": 2, "every_days": 3})
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    events: Mapped[list[ScheduleEvent]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="ScheduleEvent.day_offset",
        lazy="selectin",
    )
    sites: Mapped[list[StudySite]] = relationship(
        cascade="all, delete-orphan", order_by="StudySite.code", lazy="selectin")
    arms: Mapped[list[StudyArm]] = relationship(
        cascade="all, delete-orphan", order_by="StudyArm.code", lazy="selectin")


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


class StudySite(Base):
    __tablename__ = "study_sites"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    investigator: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class StudyArm(Base):
    __tablename__ = "study_arms"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    ratio: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class AlertRule(Base):
    """When a scored response should reach the clinician queue (e.g. PHQ-9 item 9 > 0)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    instrument_id: Mapped[str] = mapped_column(String(32), nullable=False)
    variable: Mapped[str] = mapped_column(String(32), nullable=False)  # item or scale code
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # above | below | worsening
    threshold: Mapped[float] = mapped_column(nullable=False)
    severity: Mapped[str] = mapped_column(String(8), nullable=False, default="high")
    label: Mapped[str] = mapped_column(String(200), nullable=False)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("rule_id", "response_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False,
                                          index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"),
                                                nullable=False)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), nullable=False)
    value: Mapped[float] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
