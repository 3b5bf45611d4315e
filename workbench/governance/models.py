"""Governance records of the secure bubble (airlock releases); the rules live in secure_bubble."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["ReleaseFile", "ReleaseRequest", "ReleaseReview"]


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
