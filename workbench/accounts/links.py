"""One-time links for enrolment and password reset: random token out, SHA-256 stored, single use."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts import totp
from workbench.accounts.models import OneTimeLink, User
from workbench.accounts.service import get_user, set_password
from workbench.errors import NotFoundError, ValidationError
from workbench.storage.base import utcnow

__all__ = ["PURPOSES", "complete_link", "issue_link", "link_url", "peek_link"]

PURPOSES = {"reset": "/hub/reset-password", "enrol": "/hub/enrol"}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_link(
    session: Session, username: str, purpose: str, *, actor: str, minutes: int = 30
) -> str:
    """Create a link token; earlier unused links of the same purpose stop working."""
    if purpose not in PURPOSES:
        raise ValidationError(f"unknown link purpose {purpose!r}", where="purpose")
    user = get_user(session, username)
    now = utcnow()
    for old in session.execute(
        select(OneTimeLink).where(
            OneTimeLink.user_id == user.id, OneTimeLink.purpose == purpose, OneTimeLink.used_at.is_(None)
        )
    ).scalars():
        old.used_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        OneTimeLink(
            user_id=user.id, purpose=purpose, token_hash=_hash(token),
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    audit.record(
        session, actor=actor, action=f"link.{purpose}.issue", object_type="user",
        object_id=username, after={"expires_minutes": minutes},
    )
    return token


def link_url(public_url: str, purpose: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PURPOSES[purpose]}?{urlencode({'token': token})}"


def _valid(session: Session, token: str, purpose: str) -> OneTimeLink:
    link = session.execute(
        select(OneTimeLink).where(OneTimeLink.token_hash == _hash(token), OneTimeLink.purpose == purpose)
    ).scalar_one_or_none()
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise NotFoundError("this link is unknown, expired or already used; ask for a new one")
    return link


def peek_link(session: Session, token: str, purpose: str) -> tuple[User, str | None]:
    """The user behind a valid link and, for enrolment, the provisioning URI to show as a QR code."""
    link = _valid(session, token, purpose)
    user = session.get(User, link.user_id)
    assert user is not None
    if purpose == "enrol" and not user.totp_secret:
        user.totp_secret = totp.new_secret()
        session.flush()
    uri = totp.provisioning_uri(user.totp_secret, user.username) if purpose == "enrol" else None
    return user, uri


def complete_link(session: Session, token: str, purpose: str, password: str, otp: str = "") -> User:
    """Set the password (and, when enrolling, confirm the authenticator with one code)."""
    link = _valid(session, token, purpose)
    user = session.get(User, link.user_id)
    assert user is not None
    if purpose == "enrol" and (
        not user.totp_secret or totp.matching_step(user.totp_secret, otp, utcnow()) is None
    ):
        raise ValidationError("the code from your authenticator app does not match", where="code")
    set_password(session, user, password, actor=user.username, reason=f"one-time link ({purpose})")
    link.used_at = utcnow()
    return user


def reset_password_for(session: Session, username: str, *, actor: str) -> str:
    """Issue a reset token for a known user; callers must not reveal whether the user exists."""
    try:
        return issue_link(session, username, "reset", actor=actor)
    except NotFoundError:
        return ""
