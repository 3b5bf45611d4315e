"""The coding benchmark through a live hub: what a coder opens in the deployed workbench.

``hub.testing.live_hub`` starts the hub as ``make up`` does (proxy, dashboards, forms, coding
services); ``_coding_world.seed`` adds the coding study with a coder who signs in with password and
TOTP, as a person would, in Chromium.
"""

from __future__ import annotations

import time
from typing import Any

import psutil

from hub.testing import PASSWORD, totp_code

__all__ = ["copy_hub_login", "service_process", "sign_in", "wait_until_quiet"]


def sign_in(page: Any, base_url: str, username: str, totp_secret: str, timeout_ms: float = 120_000) -> None:
    """The hub's login form (password + TOTP); lands on the staff dashboards."""
    page.goto(f"{base_url}/hub/login", timeout=timeout_ms)
    page.locator("#username_input").fill(username)
    page.locator("#password_input").fill(PASSWORD)
    page.get_by_label("Code (application d'authentification").fill(totp_code(totp_secret))
    page.locator("#login_submit").click()
    page.wait_for_url("**/services/dashboards/**", timeout=timeout_ms)


def copy_hub_login(source: Any, target: Any) -> None:
    """The hub's login cookies only: ``target`` is signed in to the hub but has never opened a
    service (each service then does its OAuth round with the hub) and has an empty HTTP cache."""
    target.add_cookies([c for c in source.cookies() if c["path"].startswith("/hub")])


def service_process(hub_pid: int, marker: str) -> psutil.Process:
    """The hub's managed service with ``marker`` in its command line (the first such process)."""
    for child in psutil.Process(hub_pid).children(recursive=True):
        try:
            if any(marker in arg for arg in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    raise SystemExit(f"no service with {marker!r} in its command line under the hub")


def wait_until_quiet(server: psutil.Process, timeout_s: float = 180.0) -> None:
    """Until ``server`` and its kernels have used < 10 % of a core for a second: after each visit
    a preheated pool refills (a kernel started, the notebook run up to the visit), and a visit
    arriving before that measures the refill, not the preheated page."""
    deadline, quiet = time.monotonic() + timeout_s, 0

    def cpu(procs: list[psutil.Process]) -> float:
        total = 0.0
        for p in procs:
            try:
                times = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    while time.monotonic() < deadline:
        tree = [server, *server.children(recursive=True)]
        before = cpu(tree)
        time.sleep(0.5)
        quiet = quiet + 1 if cpu(tree) - before < 0.05 else 0
        if quiet >= 2:
            return
    raise SystemExit("the service never went quiet: its pool did not refill")
