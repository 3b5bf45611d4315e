"""Accounts: roles, password + TOTP login, lockout with back-off, one-time links — on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from workbench import accounts, audit
from workbench.accounts import totp
from workbench.errors import AuthError, ConflictError, NotFoundError, ValidationError
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope

PASSWORD = "a-long-Passphrase-42"


def _staff(engine: Engine, username: str = "maria", roles: list[str] | None = None) -> str:
    with session_scope(engine) as s:
        user = accounts.add_user(s, username, actor="admin", password=PASSWORD, enrol_totp=True,
                                 roles=roles or ["study_manager:study:S1", "coder:study:S1"])
        return user.totp_secret or ""


def _login(engine: Engine, username: str, password: str, otp: str = "", now=None):  # type: ignore[no-untyped-def]
    """Like the hub: commit even when the login is refused, so failures are kept."""
    with session_scope(engine) as s:
        try:
            return accounts.authenticate(s, username, password, otp, source="test", now=now)
        except AuthError as exc:
            return exc


def _actions(engine: Engine) -> list[tuple[str, str | None]]:
    with session_scope(engine) as s:
        return [(e.action, e.reason) for e in s.execute(select(audit.AuditEntry)).scalars()]


def test_roles_are_scoped_and_audited(engine: Engine) -> None:
    _staff(engine)
    with session_scope(engine) as s:
        user = accounts.get_user(s, "maria")
        assert {a.label() for a in user.roles} == {"study_manager:study:S1", "coder:study:S1"}
        accounts.grant_role(s, "maria", "output_checker:project:P7", actor="admin")
        with pytest.raises(ConflictError):
            accounts.grant_role(s, "maria", "coder:study:S1", actor="admin")
        with pytest.raises(ValidationError, match="study_manager takes 'study'"):
            accounts.grant_role(s, "maria", "study_manager:project:P1", actor="admin")
        accounts.revoke_role(s, "maria", "coder:study:S1", actor="admin", reason="left the team")
    actions = [a for a, _ in _actions(engine)]
    assert actions.count("role.grant") == 3 and actions.count("role.revoke") == 1


def test_bad_usernames_and_passwords_are_refused(engine: Engine) -> None:
    with session_scope(engine) as s:
        with pytest.raises(ValidationError, match="username"):
            accounts.add_user(s, "Bad Name", actor="admin")
        with pytest.raises(ValidationError, match="at least 12"):
            accounts.add_user(s, "shorty", actor="admin", password="short")
        with pytest.raises(ValidationError, match="unknown role"):
            accounts.add_user(s, "someone", actor="admin", roles=["wizard"])


def test_staff_login_needs_password_and_current_totp(engine: Engine) -> None:
    secret = _staff(engine)
    now = utcnow()
    user = _login(engine, "maria", PASSWORD, totp.current_code(secret, now), now=now)
    assert isinstance(user, accounts.User)
    assert ("login", None) in _actions(engine)


def test_wrong_totp_is_refused_generically_and_audited(engine: Engine) -> None:
    _staff(engine)
    result = _login(engine, "maria", PASSWORD, "000000")
    assert isinstance(result, AuthError) and str(result) == AuthError.GENERIC
    assert ("login.failed", "wrong second-factor code") in _actions(engine)


def test_a_code_cannot_be_replayed(engine: Engine) -> None:
    secret = _staff(engine)
    now = utcnow()
    code = totp.current_code(secret, now)
    assert isinstance(_login(engine, "maria", PASSWORD, code, now=now), accounts.User)
    again = _login(engine, "maria", PASSWORD, code, now=now + timedelta(seconds=5))
    assert isinstance(again, AuthError) and again.reason == "second-factor code already used"


def test_staff_without_second_factor_cannot_log_in(engine: Engine) -> None:
    with session_scope(engine) as s:
        accounts.add_user(s, "newbie", actor="admin", password=PASSWORD, roles=["researcher"])
    result = _login(engine, "newbie", PASSWORD, "")
    assert isinstance(result, AuthError) and result.reason == "no second factor enrolled"


def test_participant_logs_in_with_password_alone(engine: Engine) -> None:
    with session_scope(engine) as s:
        accounts.add_user(s, "p-0001", actor="admin", password=PASSWORD, roles=["participant:study:S1"])
    assert isinstance(_login(engine, "p-0001", PASSWORD), accounts.User)


def test_lockout_after_five_failures_with_back_off(engine: Engine) -> None:
    secret = _staff(engine)
    now = utcnow()
    for i in range(5):
        assert isinstance(_login(engine, "maria", "wrong-password-x", now=now + timedelta(seconds=i)),
                          AuthError)
    # Locked now: even the right password and code are refused.
    t = now + timedelta(seconds=10)
    locked = _login(engine, "maria", PASSWORD, totp.current_code(secret, t), now=t)
    assert isinstance(locked, AuthError) and locked.reason.startswith("locked until")
    # After the first lock (60 s) a further failure locks for twice as long.
    t = now + timedelta(seconds=70)
    sixth = _login(engine, "maria", "wrong-password-x", now=t)
    assert isinstance(sixth, AuthError) and "locked for 120 s" in sixth.reason
    t = now + timedelta(seconds=70 + 121)
    ok = _login(engine, "maria", PASSWORD, totp.current_code(secret, t), now=t)
    assert isinstance(ok, accounts.User)
    with session_scope(engine) as s:
        user = accounts.get_user(s, "maria")
        assert user.failed_logins == 0 and user.locked_until is None


def test_unknown_user_is_audited_without_revealing_it(engine: Engine) -> None:
    result = _login(engine, "ghost", PASSWORD, "123456")
    assert isinstance(result, AuthError) and str(result) == AuthError.GENERIC
    assert ("login.failed", "unknown user") in _actions(engine)


def test_enrolment_link_sets_password_and_confirms_totp(engine: Engine) -> None:
    with session_scope(engine) as s:
        accounts.add_user(s, "nina", actor="admin", roles=["researcher"])
        token = accounts.issue_link(s, "nina", "enrol", actor="admin")
    with session_scope(engine) as s:
        user, uri = accounts.peek_link(s, token, "enrol")
        assert uri and uri.startswith("otpauth://totp/WeShare:nina")
        secret = user.totp_secret
    with session_scope(engine) as s, pytest.raises(ValidationError, match="code"):
        accounts.complete_link(s, token, "enrol", PASSWORD, "000000")
    with session_scope(engine) as s:
        accounts.complete_link(s, token, "enrol", PASSWORD, totp.current_code(secret, utcnow()))
    with session_scope(engine) as s, pytest.raises(NotFoundError, match="already used"):
        accounts.peek_link(s, token, "enrol")
    now = utcnow() + timedelta(seconds=31)
    assert isinstance(_login(engine, "nina", PASSWORD, totp.current_code(secret, now), now=now),
                      accounts.User)


def test_reset_link_is_single_use_and_replaces_older_ones(engine: Engine) -> None:
    _staff(engine)
    with session_scope(engine) as s:
        first = accounts.issue_link(s, "maria", "reset", actor="maria")
        second = accounts.issue_link(s, "maria", "reset", actor="maria")
        assert accounts.reset_password_for(s, "nobody", actor="x") == ""
    with session_scope(engine) as s, pytest.raises(NotFoundError):
        accounts.complete_link(s, first, "reset", "another-Passphrase-7")
    with session_scope(engine) as s:
        accounts.complete_link(s, second, "reset", "another-Passphrase-7")
    assert isinstance(_login(engine, "maria", "another-Passphrase-7", "1"), AuthError)  # still needs TOTP
    assert "user.password" in [a for a, _ in _actions(engine)]
