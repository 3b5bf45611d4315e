"""Login with password and TOTP, lockout with exponential back-off, and its audit trail.

Every refusal raises ``AuthError`` with the same generic message; the precise reason goes to
the audit log only. Staff must present a TOTP code; participants log in with a password alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts import totp
from workbench.accounts.models import User
from workbench.accounts.passwords import hash_password, needs_rehash, verify_password
from workbench.errors import AuthError
from workbench.storage.base import utcnow

__all__ = ["LockoutPolicy", "authenticate"]


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int = 5
    base_seconds: int = 60
    max_seconds: int = 3600

    def lock_for(self, failures: int) -> timedelta | None:
        """Locked for base × 2^(failures − threshold) seconds once the threshold is reached."""
        if failures < self.threshold:
            return None
        seconds = self.base_seconds * 2 ** min(failures - self.threshold, 20)
        return timedelta(seconds=min(seconds, self.max_seconds))


def _refuse(session: Session, username: str, reason: str, source: str, at: datetime) -> AuthError:
    audit.record(
        session, actor=username or "-", action="login.failed", object_type="user",
        object_id=username or "-", reason=reason, after={"source": source}, at=at,
    )
    return AuthError(reason)


def authenticate(
    session: Session,
    username: str,
    password: str,
    otp: str = "",
    *,
    source: str = "unknown",
    policy: LockoutPolicy | None = None,
    now: datetime | None = None,
) -> User:
    """Check the credentials and return the user, or raise ``AuthError``.

    The failure and its audit entry are flushed in ``session``; the caller must commit even when
    this raises, so that failed attempts and lockouts are kept.
    """
    policy = policy or LockoutPolicy()
    at = now or utcnow()
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        verify_password(None, password)  # same cost as a real check
        raise _refuse(session, username, "unknown user", source, at)
    if not user.active:
        raise _refuse(session, username, "account disabled", source, at)
    if user.locked_until is not None and user.locked_until > at:
        raise _refuse(session, username, f"locked until {user.locked_until.isoformat()}", source, at)

    reason = None
    if not verify_password(user.password_hash, password):
        reason = "wrong password"
    elif user.is_staff:
        if not user.totp_secret:
            reason = "no second factor enrolled"
        else:
            step = totp.matching_step(user.totp_secret, otp, at)
            if step is None:
                reason = "wrong second-factor code"
            elif step <= user.totp_last_step:
                reason = "second-factor code already used"
            else:
                user.totp_last_step = step
    if reason is not None:
        user.failed_logins += 1
        lock = policy.lock_for(user.failed_logins)
        if lock is not None:
            user.locked_until = at + lock
            reason += f"; locked for {int(lock.total_seconds())} s after {user.failed_logins} failures"
        raise _refuse(session, username, reason, source, at)

    user.failed_logins = 0
    user.locked_until = None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(
        session, actor=username, action="login", object_type="user", object_id=username,
        after={"source": source, "second_factor": user.is_staff}, at=at,
    )
    session.flush()
    return user
