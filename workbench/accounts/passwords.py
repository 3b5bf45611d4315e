"""Password hashing (argon2id) and the minimum policy for new passwords."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from workbench.errors import ValidationError

__all__ = ["MIN_LENGTH", "check_policy", "hash_password", "needs_rehash", "verify_password"]

MIN_LENGTH = 12
_HASHER = PasswordHasher()


@cache
def _dummy() -> str:
    """Verified when the user does not exist, so both paths cost the same time.

    Made on first use, not at import: an argon2 hash costs ~0.3 s of CPU, and every participant
    form kernel imports this module without ever checking a password.
    """
    return _HASHER.hash("not-a-real-password-for-timing")


def check_policy(password: str, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationError(f"must have at least {MIN_LENGTH} characters", where="password")
    if username.lower() in password.lower():
        raise ValidationError("must not contain the username", where="password")
    if len(set(password)) < 5:
        raise ValidationError("is too repetitive", where="password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
