"""The real hub on free loopback ports with a throwaway home: login, dashboards, forms, link pages.

One hub per module (starting it costs ~10 s); the fixture stops it the way `make down` does and
fails if any process or listening port is left behind.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from hub.ops import wait_for
from hub.pages import FORGOT_ANSWER
from hub.testing import PASSWORD, Fixture, live_hub, totp_code
from workbench.accounts import issue_link
from workbench.mail import OutboxMessage
from workbench.storage import connect, session_scope


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    with live_hub(Path(tmp_path_factory.mktemp("live")) / "var") as (fixture, _process):
        yield fixture


def _form_xsrf(html: str) -> str:
    match = re.search(r'name="_xsrf" value="([^"]+)"', html)
    assert match, "form has no _xsrf field"
    return match.group(1)


def _login(hub: Fixture, username: str, otp: str) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    page = s.get(f"{hub.base_url}/hub/login", timeout=30)
    reply = s.post(f"{hub.base_url}/hub/login", timeout=30, allow_redirects=False, data={
        "username": username, "password": PASSWORD, "otp": otp, "_xsrf": _form_xsrf(page.text)})
    return s, reply


def _in_store(hub: Fixture, work):  # type: ignore[no-untyped-def]
    engine = connect(hub.settings.database_url)
    try:
        with session_scope(engine) as session:
            return work(session)
    finally:
        engine.dispose()


def test_health_and_login_page_asks_for_a_code(hub: Fixture) -> None:
    assert requests.get(f"{hub.base_url}/hub/health", timeout=10).status_code == 200
    page = requests.get(f"{hub.base_url}/hub/login", timeout=10).text
    assert 'name="otp"' in page and "forgot-password" in page


def test_staff_login_opens_the_dashboards(hub: Fixture) -> None:
    s, reply = _login(hub, "manager.one", totp_code(hub.secrets["manager.one"]))
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/services/dashboards/")
    page = s.get(f"{hub.base_url}/services/dashboards/voila/render/studies.ipynb", timeout=60)
    assert page.status_code == 200 and "voila" in page.text.lower()
    assert "study_workspace(" not in page.text  # sources stripped


def test_wrong_code_and_participant_are_refused(hub: Fixture) -> None:
    good = totp_code(hub.secrets["admin.one"])
    _, reply = _login(hub, "admin.one", f"{(int(good) + 7) % 1_000_000:06d}")
    assert reply.status_code == 403 and "jupyterhub-session-id" not in reply.cookies
    _, reply = _login(hub, "patient.one", "")
    assert reply.status_code == 403


def test_dashboards_need_hub_login(hub: Fixture) -> None:
    reply = requests.get(f"{hub.base_url}/services/dashboards/voila/render/studies.ipynb", timeout=30)
    assert reply.url.startswith(f"{hub.base_url}/hub/login")
    assert "voila" not in reply.text.lower()


def test_forms_page_serves_without_sources(hub: Fixture) -> None:
    reply = requests.get(hub.participant_url(), timeout=60)
    assert reply.status_code == 200
    assert "participant_home(" not in reply.text and "Traceback" not in reply.text


def test_enrolment_link_sets_password_after_a_matching_code(hub: Fixture) -> None:
    token = _in_store(hub, lambda s: issue_link(s, "researcher.one", "enrol", actor="test"))
    s = requests.Session()
    url = f"{hub.base_url}/hub/enrol?token={token}"
    page = s.get(url, timeout=30)
    assert page.status_code == 200 and "<svg" in page.text and 'lang="en"' in page.text
    form = {"token": token, "password": "A-New-Long-Passphrase-42", "password2": "A-New-Long-Passphrase-42",
            "_xsrf": _form_xsrf(page.text)}
    wrong = s.post(url, data={**form, "otp": "000000"}, timeout=30)
    assert wrong.status_code == 400 and 'role="alert"' in wrong.text
    done = s.post(url, data={**form, "otp": totp_code(hub.secrets["researcher.one"])}, timeout=30)
    assert done.status_code == 200, done.text[:300]
    assert s.get(url, timeout=30).status_code == 404  # single use


def test_forgot_password_answers_the_same_and_queues_mail_only_for_real_accounts(hub: Fixture) -> None:
    answers = []
    for username in ("manager.one", "no.such.user"):
        s = requests.Session()
        page = s.get(f"{hub.base_url}/hub/forgot-password", timeout=30)
        reply = s.post(f"{hub.base_url}/hub/forgot-password", timeout=30,
                       data={"username": username, "_xsrf": _form_xsrf(page.text)})
        assert reply.status_code == 200
        answers.append(reply.text)
    assert answers[0] == answers[1] and FORGOT_ANSWER[1] in answers[0]
    # Staff mail only: the hub's mail worker also queues the seeded participant's reminder.
    sent = _in_store(hub, lambda s: list(s.execute(select(OutboxMessage.to_address, OutboxMessage.body)
                                                   .where(OutboxMessage.recipient_pseudonym.is_(None))).all()))
    assert [to for to, _ in sent] == ["manager.one@example.org"]
    assert "/hub/reset-password?token=" in sent[0][1]


@pytest.fixture(scope="module")
def admin_session(hub: Fixture) -> requests.Session:
    """One signed-in administrator for the tests below (a TOTP step is accepted only once)."""
    s, reply = _login(hub, "admin.one", totp_code(hub.secrets["admin.one"], 1))
    assert reply.status_code == 302
    return s


def test_dashboards_server_offers_no_lab_no_terminal_and_no_writes(
    hub: Fixture, admin_session: requests.Session
) -> None:
    s = admin_session
    base = f"{hub.base_url}/services/dashboards"
    assert s.get(f"{base}/voila/render/studies.ipynb", timeout=60).status_code == 200
    assert s.get(f"{base}/lab", timeout=30).status_code == 404
    assert s.get(f"{base}/terminals/new", timeout=30).status_code == 404
    xsrf = next((c.value for c in s.cookies if c.name == "_xsrf" and c.path.startswith("/services")), "")
    put = s.put(f"{base}/api/contents/studies.ipynb", timeout=30, headers={"X-XSRFToken": xsrf},
                json={"type": "file", "format": "text", "content": "replaced"})
    assert put.status_code == 403 and "read-only" in put.text, put.text[:300]
    assert "replaced" not in s.get(f"{base}/api/contents/studies.ipynb", timeout=30).text


def _message(msg_type: str, content: dict) -> dict:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "x", "session": "s",
              "version": "5.3", "date": ""}
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}


def test_dashboard_kernels_refuse_code_sent_from_the_browser(hub: Fixture) -> None:
    import websocket

    # Each account's code is accepted once per step: use one not yet used in this module.
    s, reply = _login(hub, "manager.one", totp_code(hub.secrets["manager.one"], 1))
    assert reply.status_code == 302
    base = f"{hub.base_url}/services/dashboards"
    s.get(f"{base}/voila/render/studies.ipynb", timeout=60)
    xsrf = next((c.value for c in s.cookies if c.name == "_xsrf" and c.path.startswith("/services")), "")
    kernel = s.post(f"{base}/api/kernels", json={}, headers={"X-XSRFToken": xsrf}, timeout=60).json()
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{hub.settings.hub_port}/services/dashboards/api/kernels/{kernel['id']}/channels",
        header=[f"Cookie: {cookie}"], origin=hub.base_url, timeout=60)
    try:
        execute = _message("execute_request", {"code": "1/0", "silent": False, "store_history": False,
                                               "user_expressions": {}, "allow_stdin": False})
        info = _message("kernel_info_request", {})
        ws.send(json.dumps(execute))
        ws.send(json.dumps(info))  # the shell channel answers in order: execute first, if it ran
        replies = []
        while True:
            msg = json.loads(ws.recv())
            replies.append(msg.get("parent_header", {}).get("msg_id"))
            if msg.get("msg_type") == "kernel_info_reply":
                break
        assert execute["header"]["msg_id"] not in replies
    finally:
        ws.close()
        s.delete(f"{base}/api/kernels/{kernel['id']}", headers={"X-XSRFToken": xsrf}, timeout=30)


def test_staff_can_spawn_their_own_server(hub: Fixture, admin_session: requests.Session) -> None:
    s = admin_session
    xsrf = next(c.value for c in s.cookies if c.name == "_xsrf" and c.path == "/hub/")
    headers = {"X-XSRFToken": xsrf}
    api = f"{hub.base_url}/hub/api/users/admin.one/server"
    started = s.post(api, json={}, headers=headers, timeout=120)
    assert started.status_code in (201, 202), started.text[:300]
    user_api = f"{hub.base_url}/hub/api/users/admin.one"
    assert wait_for(lambda: s.get(user_api, headers=headers, timeout=10).json()["servers"][""]["ready"], 90)
    assert s.delete(api, headers=headers, timeout=60).status_code in (202, 204)
