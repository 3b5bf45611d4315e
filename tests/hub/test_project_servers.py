"""Project spaces on the real hub: named servers per project, a gateway-only token, access review.

One hub for the module with a deposited demo study and four projects of ``researcher.one``'s
world: P1 (member, active), P2 (someone else's), P3 (member, already expired) and P4 (member,
expires while its server runs, then the review stops it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import select

from hub.ops import start_hub, stop_hub, wait_for
from hub.spawn import server_name
from hub.testing import PASSWORD, Fixture, instance_settings, seed, totp_code
from secure_bubble.access import HubServers, stop_closed_project_spaces
from secure_bubble.client import Warehouse
from secure_bubble.committee import access_review
from tests.demo_study import deposit_demo, empty_warehouse
from workbench import accounts
from workbench.audit import AuditEntry
from workbench.errors import PermissionDenied
from workbench.governance.models import AccessRequest, Project
from workbench.storage import connect, session_scope
from workbench.storage.base import utcnow
from workbench.trusted_party import init_store, open_trusted_party

USER = "researcher.one"


def _bubble_world(fixture: Fixture) -> None:
    """Deposit the demo study and create the four projects (as committee decisions would)."""
    cfg = fixture.settings
    init_store(cfg, actor="test")
    tp = open_trusted_party(cfg)
    wh = empty_warehouse(cfg.warehouse_url)
    op = connect(cfg.database_url)
    try:
        deposit_demo(op, tp, wh, participants=40, seed=5)
        with session_scope(op) as s:
            accounts.add_user(s, "researcher.two", actor="test", roles=["researcher:project:P2"])
            for code in ("P1", "P3", "P4"):
                accounts.grant_role(s, USER, f"researcher:project:{code}", actor="test")
            request = AccessRequest(requester=USER, title="t", purpose="research", regulatory_ref="MR-004",
                                    funder="public", requester_status="academic", team=[USER],
                                    duration_months=6)
            s.add(request)
            s.flush()
            now = utcnow()
            for code, team, variables, expires in [
                ("P1", [USER], ["phq-9.*"], now + timedelta(days=30)),
                ("P2", ["researcher.two"], ["gad-7.*"], now + timedelta(days=30)),
                ("P3", [USER], ["phq-9.*"], now - timedelta(days=1)),
                ("P4", [USER], ["phq-9.*"], now + timedelta(days=30)),
            ]:
                s.add(Project(code=code, request_id=request.id, title=code, purpose="research", team=team,
                              approved={"DEMO-QOL": variables}, committee_date=now - timedelta(days=60),
                              expires_at=expires))
        for code in ("P1", "P2", "P3", "P4"):
            tp.open_domain(f"project:{code}", actor="committee")
    finally:
        tp.close()
        wh.dispose()
        op.dispose()


@dataclass
class Bubble:
    fixture: Fixture
    session: requests.Session
    xsrf: str

    @property
    def api(self) -> str:
        return f"{self.fixture.base_url}/hub/api/users/{USER}"

    def start(self, project: str) -> requests.Response:
        return self.session.post(f"{self.api}/servers/{server_name(project)}", json={}, timeout=120,
                                 headers={"X-XSRFToken": self.xsrf})

    def servers(self) -> dict[str, dict]:
        return self.session.get(self.api, headers={"X-XSRFToken": self.xsrf}, timeout=30).json()["servers"]

    def ready(self, project: str) -> bool:
        return bool(self.servers().get(server_name(project), {}).get("ready"))

    def in_store(self, work):  # type: ignore[no-untyped-def]
        engine = connect(self.fixture.settings.database_url)
        try:
            with session_scope(engine) as s:
                return work(s)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def bubble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bubble]:
    fixture = seed(instance_settings(Path(tmp_path_factory.mktemp("bubble")) / "var"))
    _bubble_world(fixture)
    start_hub(fixture.settings, timeout=180)
    try:
        s = requests.Session()
        page = s.get(f"{fixture.base_url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        assert xsrf
        reply = s.post(f"{fixture.base_url}/hub/login", timeout=30, allow_redirects=False, data={
            "username": USER, "password": PASSWORD, "otp": totp_code(fixture.secrets[USER]),
            "_xsrf": xsrf.group(1)})
        assert reply.status_code == 302, reply.text[:300]
        yield Bubble(fixture, s, next(c.value for c in s.cookies if c.name == "_xsrf" and c.path == "/hub/"))
    finally:
        left = stop_hub(fixture.settings)
        assert not left, f"hub left processes behind: {left}"


def _server_env(project: str) -> dict[str, str]:
    """Environment of the running single-user server of ``project`` (its kernels inherit it)."""
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("jupyterhub-singleuser" in part for part in proc.info["cmdline"] or []):
                env = proc.environ()
                if env.get("JUPYTERHUB_SERVER_NAME") == server_name(project):
                    return env
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    raise AssertionError(f"no running server for {project}")


def test_member_gets_a_project_space_whose_token_reads_only_that_project(bubble: Bubble) -> None:
    started = bubble.start("P1")
    assert started.status_code in (201, 202), started.text[:300]
    assert wait_for(lambda: bubble.ready("P1"), 120)
    env = _server_env("P1")
    assert env["WESHARE_PROJECT"] == "P1" and env["WESHARE_ENVIRONMENT"] == "bubble-qol"
    assert env["JUPYTERHUB_API_TOKEN"] and env["WESHARE_GATEWAY_URL"].endswith("/services/warehouse-gateway")
    forbidden = {"WESHARE_DATABASE_URL", "WESHARE_WAREHOUSE_URL", "WESHARE_TRUSTED_PARTY_URL",
                 "WESHARE_TTP_MASTER_KEY", "WESHARE_HOME", "WESHARE_SECRET_KEY_FILE"}
    assert not forbidden & set(env)
    home = str(bubble.fixture.settings.home)
    assert not [k for k, v in env.items() if k != "HOME" and (home in v and k not in ("PWD", "JUPYTER_RUNTIME_DIR"))]
    assert env["HOME"].endswith("/projects/p1")

    token = env["JUPYTERHUB_API_TOKEN"]
    scopes = requests.get(f"{bubble.fixture.base_url}/hub/api/user", timeout=30,
                          headers={"Authorization": f"token {token}"}).json()["scopes"]
    assert "access:services!service=warehouse-gateway" in scopes
    # users:activity!user (which a single-user server needs) implies reading the owner's own
    # name, groups and activity, and nothing about anyone else.
    own = {f"read:users:{part}!user=researcher.one" for part in ("activity", "groups", "name")}
    assert not [s for s in scopes if s.startswith(("read:users", "servers", "tokens", "admin"))
                and s not in own]

    frame = Warehouse("P1", url=env["WESHARE_GATEWAY_URL"], token=token).extract(["phq-9.*"])
    assert len(frame) > 0 and set(frame["variable"].str.split(".").str[0]) == {"phq-9"}
    with pytest.raises(PermissionDenied, match="not a researcher"):
        Warehouse("P2", url=env["WESHARE_GATEWAY_URL"], token=token).extract(["gad-7.*"])


def test_project_space_refuses_downloads_and_exports(bubble: Bubble) -> None:
    if not bubble.ready("P1"):
        bubble.start("P1")
        assert wait_for(lambda: bubble.ready("P1"), 120)
    base = f"{bubble.fixture.base_url}/user/{USER}/p1"
    # A page (not an API call) goes through the hub's OAuth round trip, which sets the cookie.
    lab = bubble.session.get(f"{base}/lab", timeout=60)
    assert lab.status_code == 200, lab.text[:300]
    assert bubble.session.get(f"{base}/api/status", timeout=60).status_code == 200
    for path in ("files/x.csv", "nbconvert/html/x.ipynb?download=true", "view/x.csv"):
        reply = bubble.session.get(f"{base}/{path}", timeout=60)
        assert reply.status_code == 403 and "airlock" in reply.text, (path, reply.status_code)
    assert bubble.session.get(f"{base}/terminals/new", timeout=30).status_code in (403, 404, 405)


def test_non_member_and_expired_projects_are_refused_and_audited(bubble: Bubble) -> None:
    for project, why in (("P2", "not a researcher of this project"), ("P3", "project is expired"),
                         ("P9", "unknown project")):
        reply = bubble.start(project)
        assert reply.status_code == 403, (project, reply.status_code, reply.text[:300])
        assert why in reply.text and "project space refused" in reply.text
        assert not bubble.ready(project)
    refused = bubble.in_store(lambda s: {(e.object_id, e.reason) for e in s.execute(
        select(AuditEntry).where(AuditEntry.action == "bubble.spawn_refused")).scalars()})
    assert {("P2", "not a researcher of this project"), ("P3", "project is expired")} <= refused


def test_review_stops_the_server_of_a_project_that_expired(bubble: Bubble) -> None:
    assert bubble.start("P4").status_code in (201, 202)
    assert wait_for(lambda: bubble.ready("P4"), 120)
    token = _server_env("P4")["JUPYTERHUB_API_TOKEN"]

    def expire(s):  # type: ignore[no-untyped-def]
        project = s.execute(select(Project).where(Project.code == "P4")).scalar_one()
        project.expires_at = utcnow() - timedelta(minutes=1)

    bubble.in_store(expire)
    hub = HubServers.from_settings(bubble.fixture.settings)
    assert hub is not None
    expired = bubble.in_store(lambda s: access_review(s, actor="steward"))
    # P3 was already past its date but still marked active: the same review expires it too.
    assert sorted(e.project for e in expired) == ["P3", "P4"]
    stopped = bubble.in_store(lambda s: stop_closed_project_spaces(s, hub, actor="steward"))
    assert [(x.project, x.user) for x in stopped] == [("P4", USER)]
    assert wait_for(lambda: "p4" not in bubble.servers(), 60)
    assert "p1" in bubble.servers()  # the active project's space keeps running
    whoami = requests.get(f"{bubble.fixture.base_url}/hub/api/user", timeout=30,
                          headers={"Authorization": f"token {token}"})
    assert whoami.status_code == 403  # the server's token is gone with it
    assert bubble.in_store(lambda s: s.execute(select(AuditEntry).where(
        AuditEntry.action == "bubble.server_stopped", AuditEntry.object_id == "P4")).scalars().all())
