"""Participant accounts: which participations an account holds, invitation links, e-mailed codes.

An account is a ``users`` row with the participant role; it holds no contact detail. The
e-mail address for an invitation or a login code is asked of the trusted party at send time,
through one of the account's study pseudonyms.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from workbench.storage.base import Base, UTCDateTime, utcnow

__all__ = ["LoginCode", "PortalInvitation", "PortalMembership"]


class PortalMembership(Base):
    """One participation (study pseudonym) reachable from one account; a participation has one account."""

    __tablename__ = "portal_memberships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"),
                                                nullable=False, unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class PortalInvitation(Base):
    """A single-use invitation to open an account (or attach a study to one); SHA-256 of the token only."""

    __tablename__ = "portal_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"),
                                                nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginCode(Base):
    """A 6-digit code sent by e-mail; stored as an HMAC under the server key, single use, short-lived."""

    __tablename__ = "portal_login_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    nonce: Mapped[str] = mapped_column(String(32), nullable=False)
    code_hmac: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
