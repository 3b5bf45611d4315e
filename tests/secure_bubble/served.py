"""The gateway served for tests: a deposited demo study, projects, a stand-in hub API and the real
Tornado service in a thread of the test process (so a test can hold or break it)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from tornado.web import Application, RequestHandler

from secure_bubble.gateway import GatewayContext, HubTokenValidator, make_app
from tests.demo_study import deposit_demo, empty_warehouse, open_stores
from tests.secure_bubble.conftest import approve_projects
from workbench.governance.models import Project
from workbench.settings import Settings
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope

TOKENS = {
    "tok-ana": {"kind": "user", "name": "ana", "scopes": ["access:services!service=warehouse-gateway"]},
    "tok-bob": {"kind": "user", "name": "bob", "scopes": ["access:services!service=warehouse-gateway"]},
    "tok-ana-unscoped": {"kind": "user", "name": "ana", "scopes": ["read:users"]},
}


class FakeHubUser(RequestHandler):
    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").removeprefix("token ")
        if token not in TOKENS:
            self.set_status(403)
            self.finish({"message": "forbidden"})
            return
        self.finish(TOKENS[token])


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_gateway(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A deposited demo study, three projects (P1 approved, P2 another team's, P3 expired) and the
    gateway serving them in a thread, with a fake hub answering for the tokens."""
    op, tp = open_stores(Settings(home=tmp_path))
    wh = empty_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    deposit_demo(op, tp, wh, participants=40, seed=5)
    with session_scope(op) as s:
        approve_projects(s, tp, "ana", {"P1": {"DEMO-QOL": ["phq-9.*", "condition"]}})
        approve_projects(s, tp, "bob", {"P2": {"DEMO-QOL": ["gad-7.*"]}, "P3": {"DEMO-QOL": ["gad-7.*"]}})
        expired = s.execute(select(Project).where(Project.code == "P3")).scalar_one()
        expired.committee_date, expired.expires_at = utcnow() - timedelta(days=90), utcnow() - timedelta(days=1)
    hub_port, gw_port = _port(), _port()
    loop = asyncio.new_event_loop()
    context = GatewayContext(op, wh, tp, HubTokenValidator(f"http://127.0.0.1:{hub_port}/hub/api",
                                                           service="warehouse-gateway"))

    def serve() -> None:
        asyncio.set_event_loop(loop)
        Application([(r"/hub/api/user", FakeHubUser)]).listen(hub_port, address="127.0.0.1")
        make_app(context, "/services/warehouse-gateway/").listen(gw_port, address="127.0.0.1")
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{gw_port}/services/warehouse-gateway", op
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    tp.close()
    wh.dispose()
    op.dispose()


def wait_until_up(url: str) -> None:
    import time

    import requests

    for _ in range(100):
        try:
            requests.get(url + "/api/health", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)


