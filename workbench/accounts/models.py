"""Accounts, role assignments and one-time links in the operational store."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workbench.storage.base import Base, UTCDateTime, utcnow

__all__ = ["SCOPED_ROLES", "STAFF_ROLES", "OneTimeLink", "Role", "RoleAssignment", "User"]


class Role(StrEnum):
    PARTICIPANT = "participant"
    RESEARCHER = "researcher"
    CODER = "coder"
    STUDY_MANAGER = "study_manager"
    COMMITTEE_MEMBER = "committee_member"
    OUTPUT_CHECKER = "output_checker"
    DATA_STEWARD = "data_steward"
    ADMINISTRATOR = "administrator"


STAFF_ROLES = frozenset(Role) - {Role.PARTICIPANT}
# Which kind of object a role may be limited to; a role without a scope applies everywhere.
SCOPED_ROLES: dict[Role, str] = {
    Role.PARTICIPANT: "study",
    Role.STUDY_MANAGER: "study",
    Role.CODER: "study",
    Role.RESEARCHER: "project",
    Role.OUTPUT_CHECKER: "project",
    Role.COMMITTEE_MEMBER: "committee",  # unscoped = scientific & ethics; "deontology" must be explicit
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    # Staff work address for reset links; participants' contact details live with the trusted party.
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_names(self) -> set[Role]:
        return {Role(a.role) for a in self.roles}

    @property
    def is_staff(self) -> bool:
        return bool(self.role_names & STAFF_ROLES)


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "scope_type", "scope_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    scope_type: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    scope_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    granted_by: Mapped[str] = mapped_column(String(64), nullable=False)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")

    def label(self) -> str:
        return f"{self.role}:{self.scope_type}:{self.scope_id}" if self.scope_id else self.role


class OneTimeLink(Base):
    """A single-use token (password reset, enrolment); only its SHA-256 is stored."""

    __tablename__ = "one_time_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
