"""Hub benchmark: cold `make up` to a healthy hub, `make down`, and login-to-dashboard in Chromium.

Baselines run in the same process on the same machine:
- a bare JupyterHub (same proxy, no services, no workbench login) started and stopped the same way;
- loading the bare hub login page in the same browser.
``--quick`` only times the authenticator's credential check against a bare password check
(seconds), so a test can run it.

    .venv/bin/python benchmarks/bench_hub.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report

from hub.authenticator import WorkbenchAuthenticator
from hub.ops import healthy, wait_for
from hub.services import REPO_ROOT, proxy_command, settings_environment, venv_bin
from hub.testing import PASSWORD, Fixture, instance_settings, seed, totp_code
from workbench.accounts.passwords import hash_password, verify_password
from workbench.settings import Settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def bench_login_check(fixture: Fixture) -> None:
    auth = WorkbenchAuthenticator(workbench_settings=fixture.settings)
    stored = hash_password(PASSWORD)
    bare, full = [], []
    for username in sorted(fixture.secrets):  # one login each: a TOTP code is accepted once
        start = time.perf_counter()
        verify_password(stored, PASSWORD)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        ok = auth.check_credentials(username, PASSWORD, totp_code(fixture.secrets[username]), "bench")
        full.append(time.perf_counter() - start)
        assert ok is not None, "benchmark login was refused"
    report("hub login check (password + TOTP + audit + groups)", min(full) * 1000, "ms",
           baseline=min(bare) * 1000, baseline_name="bare argon2 password check", target="< 500 ms")


def _bare_hub_config(settings: Settings, home: Path) -> Path:
    path = home / "bare_config.py"
    path.write_text(
        "c = get_config()\n"
        f"c.JupyterHub.ip = '127.0.0.1'; c.JupyterHub.port = {settings.hub_port}\n"
        f"c.JupyterHub.hub_ip = '127.0.0.1'; c.JupyterHub.hub_port = {settings.hub_api_port}\n"
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{settings.proxy_api_port}'\n"
        f"c.ConfigurableHTTPProxy.command = {proxy_command(settings)!r}\n"
        f"c.ConfigurableHTTPProxy.pid_file = {str(home / 'bare-proxy.pid')!r}\n"
        f"c.JupyterHub.db_url = 'sqlite:///{home / 'bare.sqlite'}'\n"
        f"c.JupyterHub.cookie_secret_file = {str(home / 'bare_secret')!r}\n"
        "c.JupyterHub.authenticator_class = 'shared-password'\n"
        "c.SharedPasswordAuthenticator.user_password = 'bench-password-123'\n"
        "c.Authenticator.allow_all = True\n",
        encoding="utf-8")
    return path


def bench_bare_hub(settings: Settings, home: Path) -> tuple[float, float]:
    config = _bare_hub_config(settings, home)
    start = time.perf_counter()
    with (home / "bare.log").open("wb") as log:
        proc = subprocess.Popen([venv_bin("jupyterhub"), "-f", str(config)], cwd=home, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    assert wait_for(lambda: healthy(settings) or proc.poll() is not None, 120) and proc.poll() is None
    up = time.perf_counter() - start
    start = time.perf_counter()
    proc.terminate()
    proc.wait(60)
    return up, time.perf_counter() - start


def _ops(action: str, settings: Settings) -> float:
    env = {**os.environ, **settings_environment(settings)}
    start = time.perf_counter()
    args = [sys.executable, "-m", "hub.ops", action] + (["--no-demo"] if action == "up" else [])
    done = subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"hub.ops {action} failed: {done.stderr or done.stdout}")
    return time.perf_counter() - start


def bench_browser(fixture: Fixture) -> None:
    from playwright.sync_api import sync_playwright

    base = fixture.base_url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(f"{base}/hub/login")
        page.locator("#login_submit").wait_for()
        bare = time.perf_counter() - start
        page.locator("#username_input").fill("manager.one")
        page.locator("#password_input").fill(PASSWORD)
        page.locator("#otp_input").fill(totp_code(fixture.secrets["manager.one"], 1))
        start = time.perf_counter()
        page.locator("#login_submit").click()
        page.get_by_role("rowheader", name="HUB-A", exact=True).wait_for(timeout=120_000)
        login = time.perf_counter() - start
        report("browser: sign-in click to studies table visible", login, "s", baseline=bare,
               baseline_name="bare hub login page load", target="< 6 s")
        log = fixture.settings.home / "hub" / "jupyterhub.log"
        wait_for(lambda: "Kernel pool of home.ipynb is filled" in log.read_text(errors="replace"), 120)
        start = time.perf_counter()
        page.goto(fixture.participant_url(), wait_until="commit")
        page.get_by_role("heading", name="Bonjour, participant P-HUBTEST1").wait_for(timeout=120_000)
        report("browser: participant link to greeting visible (preheated)", time.perf_counter() - start, "s",
               baseline=bare, baseline_name="bare hub login page load", target="< 3 s")
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    try:
        fixture = seed(instance_settings(home / "var"))
        bench_login_check(fixture)
        if args.quick:
            return 0
        bare_up, bare_down = bench_bare_hub(fixture.settings, home)
        up = _ops("up", fixture.settings)
        report("make up (installed, store migrated) to /hub/health", up, "s", baseline=bare_up,
               baseline_name="bare jupyterhub start, no services", target="< 20 s")
        try:
            bench_browser(fixture)
        finally:
            down = _ops("down", fixture.settings)
            report("make down (hub + services + kernels stopped, ports free)", down, "s",
                   baseline=bare_down, baseline_name="bare jupyterhub SIGTERM stop", target="< 10 s")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
