"""Consent documents (versioned per study, site and language), signatures and withdrawals.

The operational store keeps no name: the signed PDF (with the printed name and drawn signature)
goes to the vault; here only its SHA-256, which is also written into the audit chain.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["ConsentDocument", "ConsentRecord", "Withdrawal"]


class ConsentDocument(Base):
    __tablename__ = "consent_documents"
    __table_args__ = (UniqueConstraint("study_id", "site", "language", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    site: Mapped[str] = mapped_column(String(64), nullable=False, default="")  # "" = every site
    language: Mapped[str] = mapped_column(String(2), nullable=False)
    version: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    ethics_ref: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # [{"kind": "pdf|video|audio|link", "title": ..., "url": ...}]
    materials: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    # [{"id": ..., "question": ..., "choices": [...], "answer": index}]
    comprehension: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    # [{"code": "future_contact", "label": ...}]
    optional_consents: Mapped[Any] = mapped_column(JSONText, nullable=False, default=list)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ConsentRecord(Base):
    """One signature of one document version by one participant, with its manifestation."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("consent_documents.id"), nullable=False)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    signer_role: Mapped[str] = mapped_column(String(32), nullable=False, default="participant")
    meaning: Mapped[str] = mapped_column(String(200), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    auth_method: Mapped[str] = mapped_column(String(64), nullable=False)
    answers: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    optional_choices: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    pdf_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    vault_path: Mapped[str] = mapped_column(String(300), nullable=False)
    countersigned_by: Mapped[str | None] = mapped_column(String(64))
    countersigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    countersign_sha256: Mapped[str | None] = mapped_column(String(64))


class Withdrawal(Base):
    """Never deletes the consent: it records what stops, from when, and why."""

    __tablename__ = "withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    scope: Mapped[str] = mapped_column(String(32), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
