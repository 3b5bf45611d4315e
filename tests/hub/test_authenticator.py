"""WorkbenchAuthenticator: password + TOTP, staff only, roles as groups, audited failures, lockout."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace

from sqlalchemy import select

from hub.authenticator import WorkbenchAuthenticator
from hub.testing import PASSWORD, Fixture, totp_code
from workbench.audit import AuditEntry
from workbench.storage import connect, session_scope


def _auth(store: Fixture) -> WorkbenchAuthenticator:
    return WorkbenchAuthenticator(workbench_settings=store.settings)


def _login(auth: WorkbenchAuthenticator, username: str, password: str, otp: str) -> dict | None:
    handler = SimpleNamespace(request=SimpleNamespace(remote_ip="192.0.2.7"))
    return asyncio.run(auth.authenticate(handler, {"username": username, "password": password, "otp": otp}))


def _actions(store: Fixture, username: str) -> list[tuple[str, str | None]]:
    engine = connect(store.settings.database_url)
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.reason).where(AuditEntry.object_id == username)
            .order_by(AuditEntry.seq)
        ).all()
    engine.dispose()
    return [(a, r) for a, r in rows]


def test_defaults_ask_for_a_code_and_manage_groups(store: Fixture) -> None:
    auth = _auth(store)
    assert auth.request_otp is True
    assert auth.manage_groups is True
    assert auth.allow_all is True
    assert "authenticator" in auth.otp_prompt
    paths = [path for path, _ in auth.get_handlers(None)]
    assert {"/login", "/enrol", "/reset-password", "/forgot-password"} <= set(paths)


def test_good_login_gives_name_groups_and_no_admin(store: Fixture) -> None:
    got = _login(_auth(store), "Manager.One ", PASSWORD, totp_code(store.secrets["manager.one"]))
    assert got == {"name": "manager.one", "admin": False, "groups": ["study_manager"]}
    assert _actions(store, "manager.one")[-1][0] == "login"


def test_administrator_is_hub_admin(store: Fixture) -> None:
    got = _login(_auth(store), "admin.one", PASSWORD, totp_code(store.secrets["admin.one"]))
    assert got is not None and got["admin"] is True and got["groups"] == ["administrator"]


def test_wrong_code_is_refused_and_audited(store: Fixture) -> None:
    good = totp_code(store.secrets["manager.one"])
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    assert _login(_auth(store), "manager.one", PASSWORD, wrong) is None
    action, reason = _actions(store, "manager.one")[-1]
    assert action == "login.failed" and reason is not None and "second-factor" in reason


def test_wrong_password_and_replayed_code_are_refused(store: Fixture) -> None:
    auth = _auth(store)
    code = totp_code(store.secrets["researcher.one"])
    assert _login(auth, "researcher.one", "not-the-password", code) is None
    assert _login(auth, "researcher.one", PASSWORD, code) is not None
    assert _login(auth, "researcher.one", PASSWORD, code) is None  # same code twice


def test_lockout_after_five_failures_even_with_good_credentials(store: Fixture) -> None:
    # An hour's lock: the default minute could pass during six slow logins on a loaded machine.
    auth = WorkbenchAuthenticator(workbench_settings=replace(store.settings, lockout_base_seconds=3600))
    for _ in range(5):
        assert _login(auth, "manager.one", "wrong-password-123", "000000") is None
    assert _login(auth, "manager.one", PASSWORD, totp_code(store.secrets["manager.one"])) is None
    assert "locked" in (_actions(store, "manager.one")[-1][1] or "")


def test_participant_cannot_log_in_to_the_hub(store: Fixture) -> None:
    assert _login(_auth(store), "patient.one", PASSWORD, "") is None
    action, reason = _actions(store, "patient.one")[-1]
    assert action == "login.refused" and "staff" in (reason or "")


def test_unknown_user_and_empty_fields_give_none(store: Fixture) -> None:
    auth = _auth(store)
    assert _login(auth, "nobody.here", PASSWORD, "123456") is None
    assert _login(auth, "", "", "") is None


def test_refresh_signs_out_demoted_or_disabled_accounts(store: Fixture) -> None:
    from workbench.accounts import get_user, revoke_role

    auth = _auth(store)
    hub_user = SimpleNamespace(name="manager.one")
    assert asyncio.run(auth.refresh_user(hub_user)) == {
        "name": "manager.one", "admin": False, "groups": ["study_manager"]}
    engine = connect(store.settings.database_url)
    with session_scope(engine) as session:
        revoke_role(session, "manager.one", "study_manager:study:HUB-A", actor="test", reason="left the team")
        get_user(session, "admin.one").active = False
    engine.dispose()
    assert asyncio.run(auth.refresh_user(hub_user)) is False
    assert asyncio.run(auth.refresh_user(SimpleNamespace(name="admin.one"))) is False
