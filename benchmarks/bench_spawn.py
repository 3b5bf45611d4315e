"""Project-space spawn benchmark: a named server (approved project) from request to ready, on the real hub.

Baseline in the same run, on the same hub, for the same user: the default (unnamed) server, which
skips the governance check, the project's own home and the gateway-only token. One unmeasured
spawn of each kind first (the very first spawn of a fresh hub pays cold imports and caches, which
would otherwise fall on whichever kind goes first); then spawns alternate, the kind that goes
first swapping each round, so machine noise falls on both; each server is stopped and gone before
the next spawn. Reports p50 and p95 of request → ``ready``.

    .venv/bin/python benchmarks/bench_spawn.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report

from hub.spawn import server_name
from hub.testing import PASSWORD, Fixture, live_hub, totp_code
from workbench import accounts
from workbench.governance.models import AccessRequest, Project
from workbench.storage import connect, session_scope
from workbench.storage.base import utcnow

USER = "researcher.one"
PROJECT = "PBENCH-01"
POLL = 0.05  # seconds between readiness polls of the hub API
TIMEOUT = 180.0


def approve_project(fixture: Fixture) -> None:
    """The project a committee approval would have created, with ``USER`` on its team."""
    engine = connect(fixture.settings.database_url)
    try:
        with session_scope(engine) as s:
            request = AccessRequest(requester=USER, title="bench", purpose="research", regulatory_ref="MR-004",
                                    funder="public", requester_status="academic", team=[USER], duration_months=6)
            s.add(request)
            s.flush()
            now = utcnow()
            s.add(Project(code=PROJECT, request_id=request.id, title="Spawn benchmark", purpose="research",
                          team=[USER], approved={"HUB-A": ["phq-9.*"]}, committee_date=now,
                          expires_at=now + timedelta(days=30)))
            accounts.grant_role(s, USER, f"researcher:project:{PROJECT}", actor="bench")
    finally:
        engine.dispose()


def sign_in(fixture: Fixture) -> tuple[requests.Session, dict[str, str]]:
    s = requests.Session()
    page = s.get(f"{fixture.base_url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    if not xsrf:
        raise SystemExit("no _xsrf field on the login page")
    reply = s.post(f"{fixture.base_url}/hub/login", timeout=30, allow_redirects=False, data={
        "username": USER, "password": PASSWORD, "otp": totp_code(fixture.secrets[USER]), "_xsrf": xsrf.group(1)})
    if reply.status_code != 302:
        raise SystemExit(f"benchmark login refused: {reply.status_code}")
    token = next(c.value for c in s.cookies if c.name == "_xsrf" and c.path == "/hub/")
    return s, {"X-XSRFToken": token}


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(POLL)


class Spawner:
    def __init__(self, fixture: Fixture) -> None:
        self.session, self.headers = sign_in(fixture)
        self.api = f"{fixture.base_url}/hub/api/users/{USER}"

    def _server(self, name: str) -> dict[str, object] | None:
        servers = self.session.get(self.api, headers=self.headers, timeout=30).json()["servers"]
        return servers.get(name)  # type: ignore[no-any-return]

    def _url(self, name: str) -> str:
        return f"{self.api}/servers/{name}" if name else f"{self.api}/server"

    def spawn(self, name: str) -> float:
        """Seconds from the spawn request to the hub reporting the server ready."""
        start = time.perf_counter()
        reply = self.session.post(self._url(name), json={}, headers=self.headers, timeout=TIMEOUT)
        if reply.status_code not in (201, 202):
            raise SystemExit(f"spawn of {name or 'default'} refused: {reply.status_code} {reply.text[:200]}")
        _until(lambda: bool((self._server(name) or {}).get("ready")), f"{name or 'default'} server ready")
        return time.perf_counter() - start

    def stop(self, name: str) -> None:
        reply = self.session.delete(self._url(name), headers=self.headers, timeout=TIMEOUT)
        if reply.status_code not in (202, 204):
            raise SystemExit(f"stop of {name or 'default'} refused: {reply.status_code}")
        _until(lambda: not (self._server(name) or {}).get("ready")
               and not (self._server(name) or {}).get("pending"), f"{name or 'default'} server stopped")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p95 of 10 runs is the 10th value: honest for small samples)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 spawns of each kind")
    parser.add_argument("--rounds", type=int, default=10, help="spawns of each kind (default 10)")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    home = Path(tempfile.mkdtemp(prefix="bench-spawn-"))
    try:
        with live_hub(home / "var") as (fixture, _process):
            approve_project(fixture)
            spawner = Spawner(fixture)
            named, default = server_name(PROJECT), ""
            times: dict[str, list[float]] = {named: [], default: []}
            for name in (named, default):  # warm-up, not measured
                spawner.spawn(name)
                spawner.stop(name)
            for round_ in range(rounds):
                for name in ((named, default) if round_ % 2 == 0 else (default, named)):
                    times[name].append(spawner.spawn(name))
                    spawner.stop(name)
        for label, q in (("p50", 0.5), ("p95", 0.95)):
            report(f"project space (named server) spawn to ready, {label}", percentile(times[named], q), "s",
                   baseline=percentile(times[default], q), baseline_name=f"default server spawn {label}",
                   target="< 2x baseline", runs=rounds)
        print(f"named: {', '.join(f'{t:.2f}' for t in times[named])} s; "
              f"default: {', '.join(f'{t:.2f}' for t in times[default])} s", flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
