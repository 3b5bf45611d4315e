"""Storage of the qualitative work: transcript versions, codebook versions and per-coder codings.

A version's text never changes once stored (there is no update path, and it is locked when the
first coding arrives); a corrected transcript is a new version. Each coding is its own row owned by
one coder, so coders working at the same time never overwrite each other; undo is a soft delete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["QualCodebook", "QualCoding", "QualDocument", "QualVersion"]


class QualDocument(Base):
    __tablename__ = "qual_documents"
    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    participant: Mapped[str | None] = mapped_column(String(32))  # study pseudonym, never a name
    attributes: Mapped[Any] = mapped_column(JSONText, nullable=False, default=dict)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class QualVersion(Base):
    __tablename__ = "qual_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("qual_documents.id", ondelete="CASCADE"),
                                             nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    turns: Mapped[Any] = mapped_column(JSONText, nullable=False)  # [[speaker, text, start_ms, end_ms]]
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    locked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class QualCodebook(Base):
    __tablename__ = "qual_codebooks"
    __table_args__ = (UniqueConstraint("study_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[str] = mapped_column(String(16), nullable=False)
    data: Mapped[Any] = mapped_column(JSONText, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class QualCoding(Base):
    __tablename__ = "qual_codings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("qual_versions.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    code_id: Mapped[str] = mapped_column(String(64), nullable=False)
    coder: Mapped[str] = mapped_column(String(64), nullable=False)
    start: Mapped[int] = mapped_column(Integer, nullable=False)
    end: Mapped[int] = mapped_column(Integer, nullable=False)
    quote: Mapped[str] = mapped_column(Text, nullable=False)
    memo: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
