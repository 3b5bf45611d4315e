"""Participant accounts end to end: invitation e-mail, account, e-mailed code through real SMTP, lockout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from workbench import audit
from workbench.accounts import LockoutPolicy, add_user
from workbench.errors import AuthError, ConflictError, NotFoundError
from workbench.mail import OutboxMessage
from workbench.participants.models import Participant
from workbench.portal.account_models import LoginCode, PortalMembership
from workbench.portal.accounts import (
    REDACTED,
    accept_invitation,
    invite,
    login_with_code,
    login_with_password,
    memberships,
    open_invitation,
    request_login_code,
)
from workbench.storage.base import utcnow

INVITE = r"invite=([A-Za-z0-9_\-]+)"


def _participant(s, world) -> Participant:  # type: ignore[no-untyped-def]
    return s.execute(select(Participant).where(Participant.pseudonym == world.pseudonym)).scalar_one()


def _invited(world) -> str:  # type: ignore[no-untyped-def]
    with world.session() as s:
        invite(s, _participant(s, world), actor="sm", public_url=world.settings.public_url)
    assert world.deliver() == 1
    return world.inbox.last_match(INVITE)


def _code(world) -> str:  # type: ignore[no-untyped-def]
    return world.inbox.last_match(r"(\d{6})")


def test_invitation_then_emailed_code(world) -> None:  # type: ignore[no-untyped-def]
    token = _invited(world)
    rcpt, subject, body = world.inbox.messages[-1]
    assert rcpt == [world.email] and "espace participant" in subject
    assert "https://weshare.example.org/services/forms/voila/render/account.ipynb?invite=" in body
    with world.session() as s:
        assert open_invitation(s, token)[:2] == ("ACC-1", "Fatigue et sommeil")
        user = accept_invitation(s, token, username="marie.d")
        assert [p.pseudonym for p in memberships(s, user)] == [world.pseudonym]
        assert user.password_hash is None and not user.is_staff
    with world.session() as s, pytest.raises(NotFoundError, match="already used"):
        accept_invitation(s, token, username="other")
    with world.session() as s:
        request_login_code(s, "marie.d", key=world.key)
    assert world.deliver() == 1
    code = _code(world)
    assert world.inbox.messages[-1][0] == [world.email]
    with world.session() as s:
        user = login_with_code(s, "marie.d", code, key=world.key)
        assert user.username == "marie.d"
        # the code's text left the outbox once used, and no address ever entered it
        rows = s.execute(select(OutboxMessage)).scalars().all()
        assert all(r.to_address is None for r in rows)
        assert all(code not in r.body for r in rows) and any(r.body == REDACTED for r in rows)
        assert all(world.email not in str(e.after) + str(e.reason) for e in s.execute(
            select(audit.AuditEntry)).scalars())
    with world.session() as s, pytest.raises(AuthError):
        login_with_code(s, "marie.d", code, key=world.key)  # single use


def test_wrong_codes_lock_the_account_with_back_off(world) -> None:  # type: ignore[no-untyped-def]
    token = _invited(world)
    t0 = utcnow()
    policy = LockoutPolicy(threshold=3, base_seconds=60, max_seconds=3600)
    with world.session() as s:
        accept_invitation(s, token, username="marie.d", now=t0)
        request_login_code(s, "marie.d", key=world.key, now=t0)
    world.deliver()
    good = _code(world)
    bad = f"{(int(good) + 1) % 10 ** 6:06d}"
    for i in range(3):
        failed = None
        with world.session() as s:
            try:
                login_with_code(s, "marie.d", bad, key=world.key, policy=policy, now=t0 + timedelta(seconds=i))
            except AuthError as exc:  # the caller commits the failure, as the widget does
                failed = exc
        assert failed is not None and str(failed) == AuthError.GENERIC
    with world.session() as s:
        row = s.execute(select(LoginCode)).scalar_one()
        assert row.attempts == 3 and row.used_at is not None  # cancelled after three wrong tries
        user_locked = s.execute(select(audit.AuditEntry).where(audit.AuditEntry.action == "login.failed")
                                .order_by(audit.AuditEntry.seq.desc()).limit(1)).scalar_one()
        assert "locked for 60 s" in (user_locked.reason or "")
        # while locked, no code is sent and even a fresh right code is refused
        request_login_code(s, "marie.d", key=world.key, now=t0 + timedelta(seconds=30))
        assert s.execute(select(LoginCode)).scalars().all() == [row]
    with world.session() as s:
        request_login_code(s, "marie.d", key=world.key, now=t0 + timedelta(seconds=70))
    world.deliver()
    fresh = _code(world)
    with world.session() as s, pytest.raises(AuthError):  # a fourth failure doubles the lock (120 s)
        login_with_code(s, "marie.d", "000000" if fresh != "000000" else "111111", key=world.key,
                        policy=policy, now=t0 + timedelta(seconds=71))
    with world.session() as s:
        failures = s.execute(select(audit.AuditEntry.reason).where(audit.AuditEntry.action == "login.failed")
                             .order_by(audit.AuditEntry.seq)).scalars().all()
    assert "locked for 120 s" in failures[-1]
    with world.session() as s, pytest.raises(AuthError):  # still locked at +150 s (71 + 120 = 191)
        login_with_code(s, "marie.d", fresh, key=world.key, policy=policy, now=t0 + timedelta(seconds=150))
    failed = None
    with world.session() as s:
        try:
            login_with_code(s, "marie.d", fresh, key=world.key, policy=policy, now=t0 + timedelta(seconds=200))
        except AuthError as exc:
            failed = exc
    assert failed is None


def test_unknown_accounts_get_no_mail_and_the_same_answer(world) -> None:  # type: ignore[no-untyped-def]
    with world.session() as s:
        request_login_code(s, "nobody", key=world.key)
        add_user(s, "staff.one", actor="admin", password="correct horse battery", roles=["study_manager"])
        request_login_code(s, "staff.one", key=world.key)
        assert s.execute(select(OutboxMessage)).scalars().all() == []
        refused = s.execute(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "portal.code.refused")).scalars().all()
        assert [e.object_id for e in refused] == ["nobody", "staff.one"]
    for name, secret in (("nobody", "whatever-it-is"), ("staff.one", "correct horse battery")):
        with world.session() as s, pytest.raises(AuthError) as err:
            login_with_password(s, name, secret)
        assert str(err.value) == AuthError.GENERIC


def test_password_account_and_second_study(world) -> None:  # type: ignore[no-untyped-def]
    token = _invited(world)
    with world.session() as s:
        accept_invitation(s, token, username="marie.d", password="un mot de passe solide")
        with pytest.raises(ConflictError, match="already has a portal account"):
            invite(s, _participant(s, world), actor="sm", public_url="https://x")
    with world.session() as s:
        user = login_with_password(s, "marie.d", "un mot de passe solide")
        assert s.execute(select(PortalMembership)).scalar_one().user_id == user.id
    with world.session() as s, pytest.raises(AuthError):
        login_with_password(s, "marie.d", "pas le bon mot de passe")


def test_resend_is_limited_to_one_a_minute(world) -> None:  # type: ignore[no-untyped-def]
    token = _invited(world)
    t0 = utcnow()
    with world.session() as s:
        accept_invitation(s, token, username="marie.d", now=t0)
        request_login_code(s, "marie.d", key=world.key, now=t0)
        request_login_code(s, "marie.d", key=world.key, now=t0 + timedelta(seconds=10))
        assert len(s.execute(select(LoginCode)).scalars().all()) == 1
        request_login_code(s, "marie.d", key=world.key, now=t0 + timedelta(seconds=61))
        codes = s.execute(select(LoginCode).order_by(LoginCode.id)).scalars().all()
        assert len(codes) == 2 and codes[0].used_at is not None  # the first one stops working
