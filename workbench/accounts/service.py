"""Creating accounts, granting and revoking roles; every change is audited with its author."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts import totp
from workbench.accounts.models import SCOPED_ROLES, Role, RoleAssignment, User
from workbench.accounts.passwords import check_policy, hash_password
from workbench.errors import ConflictError, NotFoundError, ValidationError

__all__ = ["add_user", "get_user", "grant_role", "list_users", "parse_role", "revoke_role", "set_password"]

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")


def parse_role(text: str) -> tuple[Role, str, str]:
    """``study_manager`` or ``study_manager:study:DEMO-QOL`` → (role, scope type, scope id)."""
    parts = text.split(":")
    try:
        role = Role(parts[0])
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {parts[0]!r} (one of: {names})", where="role") from None
    if len(parts) == 1:
        return role, "", ""
    if len(parts) != 3 or not parts[2]:
        raise ValidationError(f"{text!r} should be ROLE or ROLE:SCOPE_TYPE:SCOPE_ID", where="role")
    expected = SCOPED_ROLES.get(role)
    if expected != parts[1]:
        allowed = f"'{expected}'" if expected else "no scope"
        raise ValidationError(f"{role.value} takes {allowed}, not {parts[1]!r}", where="role")
    return role, parts[1], parts[2]


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def add_user(
    session: Session,
    username: str,
    *,
    actor: str,
    display_name: str = "",
    email: str | None = None,
    password: str | None = None,
    roles: list[str] | None = None,
    enrol_totp: bool = False,
) -> User:
    """Create an account; with ``enrol_totp`` a TOTP secret is set at once (demo, scripted setups)."""
    if not USERNAME.match(username):
        raise ValidationError(
            "use 2–64 lower-case letters, digits, '.', '_' or '-', starting with a letter",
            where="username",
        )
    if session.execute(select(User.id).where(User.username == username)).first():
        raise ConflictError(f"a user named {username!r} already exists")
    if email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise ValidationError(f"{email!r} is not an email address", where="email")
    parsed = [parse_role(r) for r in roles or []]
    user = User(username=username, display_name=display_name or username, email=email)
    if password is not None:
        check_policy(password, username)
        user.password_hash = hash_password(password)
    if enrol_totp:
        user.totp_secret = totp.new_secret()
    session.add(user)
    session.flush()
    audit.record(
        session, actor=actor, action="user.create", object_type="user", object_id=username,
        after={"display_name": user.display_name, "totp": bool(user.totp_secret)},
    )
    for role, scope_type, scope_id in parsed:
        _grant(session, user, role, scope_type, scope_id, actor)
    return user


def _grant(session: Session, user: User, role: Role, scope_type: str, scope_id: str, actor: str) -> None:
    if any(
        a.role == role and a.scope_type == scope_type and a.scope_id == scope_id for a in user.roles
    ):
        raise ConflictError(f"{user.username} already holds {role.value} {scope_id}".strip())
    before = sorted(a.label() for a in user.roles)
    assignment = RoleAssignment(role=role.value, scope_type=scope_type, scope_id=scope_id, granted_by=actor)
    user.roles.append(assignment)
    session.flush()
    audit.record(
        session, actor=actor, action="role.grant", object_type="user", object_id=user.username,
        before=before, after=sorted(a.label() for a in user.roles),
    )


def grant_role(session: Session, username: str, role_text: str, *, actor: str) -> User:
    user = get_user(session, username)
    _grant(session, user, *parse_role(role_text), actor)
    return user


def revoke_role(session: Session, username: str, role_text: str, *, actor: str, reason: str) -> User:
    user = get_user(session, username)
    role, scope_type, scope_id = parse_role(role_text)
    match = [
        a for a in user.roles
        if a.role == role and a.scope_type == scope_type and a.scope_id == scope_id
    ]
    if not match:
        raise NotFoundError(f"{username} does not hold {role_text}")
    before = sorted(a.label() for a in user.roles)
    user.roles.remove(match[0])
    session.flush()
    audit.record(
        session, actor=actor, action="role.revoke", object_type="user", object_id=username,
        reason=reason, before=before, after=sorted(a.label() for a in user.roles),
    )
    return user


def set_password(session: Session, user: User, password: str, *, actor: str, reason: str) -> None:
    check_policy(password, user.username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.record(
        session, actor=actor, action="user.password", object_type="user",
        object_id=user.username, reason=reason,
    )
