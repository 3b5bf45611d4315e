"""Governance records of the secure bubble (airlock releases); the rules live in secure_bubble."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = [
    "AccessRequest",
    "AccessRequestItem",
    "CommitteeVote",
    "Project",
    "ReleaseFile",
    "ReleaseRequest",
    "ReleaseReview",
]


class ReleaseRequest(Base):
    __tablename__ = "release_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    context: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    files: Mapped[list[ReleaseFile]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ReleaseFile.id", lazy="selectin")
    reviews: Mapped[list[ReleaseReview]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ReleaseReview.id",
        lazy="selectin")


class ReleaseFile(Base):
    __tablename__ = "release_files"
    __table_args__ = (UniqueConstraint("request_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("release_requests.id", ondelete="CASCADE"),
                                            nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    check_status: Mapped[str] = mapped_column(String(8), nullable=False)
    check_report: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    request: Mapped[ReleaseRequest] = relationship(back_populates="files")


class ReleaseReview(Base):
    """One checker's vote on one exact set of files (a changed file makes older votes void)."""

    __tablename__ = "release_reviews"
    __table_args__ = (UniqueConstraint("request_id", "reviewer", "file_set"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("release_requests.id", ondelete="CASCADE"),
                                            nullable=False)
    reviewer: Mapped[str] = mapped_column(String(64), nullable=False)
    decision: Mapped[str] = mapped_column(String(8), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    file_set: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    request: Mapped[ReleaseRequest] = relationship(back_populates="reviews")


class AccessRequest(Base):
    """A researcher's request for warehouse data, from draft to a decision with reasons."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    purpose: Mapped[str] = mapped_column(String(48), nullable=False)
    regulatory_ref: Mapped[str] = mapped_column(String(100), nullable=False)
    funder: Mapped[str] = mapped_column(String(8), nullable=False)  # public | private
    requester_status: Mapped[str] = mapped_column(String(24), nullable=False)
    team: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    duration_months: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="draft")
    tariff: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    opposition_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[AccessRequestItem]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="AccessRequestItem.id",
        lazy="selectin")
    votes: Mapped[list[CommitteeVote]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="CommitteeVote.id",
        lazy="selectin")


class AccessRequestItem(Base):
    """One contributing study: the variables wanted, why, and its sponsor's answer."""

    __tablename__ = "access_request_items"
    __table_args__ = (UniqueConstraint("request_id", "study_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id", ondelete="CASCADE"),
                                            nullable=False)
    study_code: Mapped[str] = mapped_column(String(32), nullable=False)
    variables: Mapped[Any] = mapped_column(JSONText, nullable=False)
    justification: Mapped[str] = mapped_column(Text, nullable=False)
    sponsor_decision: Mapped[str | None] = mapped_column(String(16))
    sponsor_reason: Mapped[str | None] = mapped_column(Text)

    request: Mapped[AccessRequest] = relationship(back_populates="items")


class CommitteeVote(Base):
    __tablename__ = "committee_votes"
    __table_args__ = (UniqueConstraint("request_id", "committee", "member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id", ondelete="CASCADE"),
                                            nullable=False)
    committee: Mapped[str] = mapped_column(String(24), nullable=False)
    member: Mapped[str] = mapped_column(String(64), nullable=False)
    vote: Mapped[str] = mapped_column(String(8), nullable=False)
    conditions: Mapped[str] = mapped_column(Text, nullable=False, default="")
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    request: Mapped[AccessRequest] = relationship(back_populates="votes")


class Project(Base):
    """An approved request: what its team may see in the bubble, until it expires."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    purpose: Mapped[str] = mapped_column(String(48), nullable=False)
    team: Mapped[Any] = mapped_column(JSONText, nullable=False)
    approved: Mapped[Any] = mapped_column(JSONText, nullable=False)  # {study_code: [variables]}
    conditions: Mapped[str] = mapped_column(Text, nullable=False, default="")
    committee_date: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    min_cell: Mapped[int] = mapped_column(Integer, nullable=False, default=11)
