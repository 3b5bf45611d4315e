"""``python -m hub.ops up|down|status``: one command to start and stop the whole workbench.

``up`` installs the proxy if missing, upgrades the store, seeds the demo, clears stale listeners
on our ports, starts ``jupyterhub`` in the background (pid file + log under the instance home) and
waits for ``/hub/health``. ``down`` sends SIGTERM to the hub *and* to each managed service: the hub
alone interrupts Voila with SIGINT, which Voila ignores, and shutdown then takes ~30 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from hub.services import (
    REPO_ROOT,
    gateway_port,
    gateway_ready,
    proxy_command,
    settings_environment,
    venv_bin,
)
from workbench.errors import WorkbenchError
from workbench.settings import Settings, load_settings

__all__ = [
    "CHP_VERSION",
    "HubProcess",
    "ensure_proxy",
    "hub_ports",
    "instance_services",
    "listeners",
    "main",
    "running_hub",
    "start_hub",
    "stop_hub",
    "wait_for",
]

CHP_VERSION = "5.3.0"
Say = Callable[[str], None]


@dataclass(frozen=True)
class HubProcess:
    pid: int
    log: Path


def _state(settings: Settings) -> Path:
    return settings.home / "hub"


def _pid_file(settings: Settings) -> Path:
    return _state(settings) / "jupyterhub.pid"


def hub_ports(settings: Settings) -> list[int]:
    ports = [settings.hub_port, settings.proxy_api_port, settings.hub_api_port,
             settings.forms_port, settings.dashboards_port]
    return [*ports, gateway_port(settings)] if gateway_ready(settings) else ports


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``condition`` until true or ``timeout`` seconds pass (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def listeners(ports: list[int]) -> dict[int, int]:
    """Port → PID of the process listening on it on this machine (ports nobody holds are absent)."""
    found: dict[int, int] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports and conn.pid:
            found[conn.laddr.port] = conn.pid
    return found


SERVICE_MARKERS = ("voila", "jupyterhub-singleuser", "secure_bubble.gateway", "mail worker", "hub.kernel_fork.zygote")


def instance_services(settings: Settings) -> list[int]:
    """PIDs of this instance's managed services not under its live hub (left by a hub that died).

    Ports alone miss the mail worker, which listens on none; every service carries the
    instance's ``WESHARE_HOME``, which is how it is told from another instance's on this machine.
    """
    home = str(settings.home)
    hub = running_hub(settings)
    found: list[int] = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            line = " ".join(proc.info["cmdline"] or [])
            if not any(marker in line for marker in SERVICE_MARKERS):
                continue
            if proc.environ().get("WESHARE_HOME") != home:
                continue
            if hub is not None and hub in {parent.pid for parent in proc.parents()}:
                continue
            found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def _terminate_tree(pids: list[int], timeout: float = 10.0) -> None:
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs.extend([*proc.children(recursive=True), proc])
        except psutil.NoSuchProcess:
            continue
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def healthy(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.hub_port}/hub/health", timeout=2) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def running_hub(settings: Settings) -> int | None:
    """PID of this instance's hub if its pid file points at a live jupyterhub."""
    try:
        pid = int(_pid_file(settings).read_text().strip())
        proc = psutil.Process(pid)
        if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and any(
            "jupyterhub" in part for part in proc.cmdline()
        ):
            return pid
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None


def ensure_proxy(settings: Settings, say: Say = print) -> str:
    """Install configurable-http-proxy: pinned npm package when node is there, else the PyPI port."""
    prefix = settings.home / "node"
    chp = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    installed = proxy_command(settings)[0]
    if installed != venv_bin("configurable-http-proxy") or Path(installed).exists():
        return installed
    if shutil.which("npm") and shutil.which("node"):
        say(f"installing configurable-http-proxy@{CHP_VERSION} with npm into {prefix}")
        done = subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix),
             f"configurable-http-proxy@{CHP_VERSION}"], capture_output=True, text=True, check=False,
        )
        if done.returncode == 0 and chp.exists():
            return str(chp)
        say("npm install failed; falling back to the PyPI proxy")
    if not Path(venv_bin("configurable-http-proxy")).exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "configurable-http-proxy"], check=True)
    return venv_bin("configurable-http-proxy")


def start_hub(settings: Settings, *, timeout: float = 120.0, extra_env: dict[str, str] | None = None) -> HubProcess:
    """Start jupyterhub for ``settings`` in the background and wait until it answers."""
    state = _state(settings)
    state.mkdir(parents=True, exist_ok=True)
    stale = {*listeners(hub_ports(settings)).values(), *instance_services(settings)}
    if stale:
        _terminate_tree(sorted(stale))
    env = {**os.environ, **settings_environment(settings), **(extra_env or {})}
    log = state / "jupyterhub.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [venv_bin("jupyterhub"), "-f", str(REPO_ROOT / "hub" / "jupyterhub_config.py")],
            cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _pid_file(settings).write_text(str(proc.pid))
    if not wait_for(lambda: proc.poll() is not None or healthy(settings), timeout) or proc.poll() is not None:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        stop_hub(settings)
        raise WorkbenchError("the hub did not come up; last log lines:\n" + "\n".join(tail))
    return HubProcess(proc.pid, log)


def stop_hub(settings: Settings, *, timeout: float = 30.0) -> list[str]:
    """SIGTERM the hub and its managed services; return what was still left afterwards (empty = clean)."""
    pid = running_hub(settings)
    family: list[psutil.Process] = []
    if pid is not None:
        hub = psutil.Process(pid)
        family = hub.children(recursive=True)
        hub.terminate()
        # The hub forwards SIGINT to services; Voila ignores it, so tell each service directly.
        for child in hub.children():
            try:
                line = " ".join(child.cmdline())
                if any(name in line for name in ("voila", "jupyterhub-singleuser", "secure_bubble.gateway",
                                                 "mail worker")):
                    child.terminate()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs([hub], timeout=timeout)
        _, alive = psutil.wait_procs(family, timeout=10)
        for proc in alive:  # kernels or a proxy the hub did not take down
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        psutil.wait_procs(alive, timeout=5)
    _pid_file(settings).unlink(missing_ok=True)
    left = [f"pid {p.pid}" for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    left += [f"port {port} (pid {owner})" for port, owner in listeners(hub_ports(settings)).items()]
    left += [f"service pid {pid}" for pid in instance_services(settings) if f"pid {pid}" not in left]
    return left


def _weshare(args: list[str], settings: Settings) -> str:
    env = {**os.environ, **settings_environment(settings)}
    done = subprocess.run([venv_bin("weshare"), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise WorkbenchError(f"`weshare {' '.join(args)}` failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def _urls(settings: Settings) -> str:
    base = settings.public_url.rstrip("/")
    return (f"  hub login        {base}/hub/login\n"
            f"  staff dashboards {base}/services/dashboards/\n"
            f"  participant forms {base}/services/forms/voila/render/home.ipynb?access=<token>")


def up(settings: Settings, *, demo: bool = True, say: Say = print) -> int:
    pid = running_hub(settings)
    if pid is not None and healthy(settings):
        say(f"WeShare is already running (hub pid {pid}).\n{_urls(settings)}")
        return 0
    ensure_proxy(settings, say)
    _weshare(["db", "upgrade"], settings)
    demo_text = _weshare(["demo"], settings) if demo else ""
    started = time.monotonic()
    hub = start_hub(settings)
    say(f"hub up in {time.monotonic() - started:.1f} s (pid {hub.pid}, log {hub.log})")
    if demo_text:
        say(demo_text.rstrip())
    say(f"open:\n{_urls(settings)}\nstop with: make down")
    return 0


def down(settings: Settings, say: Say = print) -> int:
    if running_hub(settings) is None and not listeners(hub_ports(settings)) and not instance_services(settings):
        say("WeShare is not running.")
        _pid_file(settings).unlink(missing_ok=True)
        return 0
    started = time.monotonic()
    left = stop_hub(settings)
    if left:
        _terminate_tree(sorted({*listeners(hub_ports(settings)).values(), *instance_services(settings)}))
        left = [f"port {p}" for p in listeners(hub_ports(settings))]
        left += [f"service pid {pid}" for pid in instance_services(settings)]
    if left:
        say("stopped, but still running: " + ", ".join(left))
        return 1
    say(f"WeShare stopped in {time.monotonic() - started:.1f} s; no process left on our ports.")
    return 0


def status(settings: Settings, say: Say = print) -> int:
    pid = running_hub(settings)
    held = listeners(hub_ports(settings))
    if pid is None:
        say("WeShare is not running." + (f" Ports held by other processes: {held}" if held else ""))
        return 0  # a fact, not a failure: `make status` should not report an error
    say(f"hub pid {pid}; health {'ok' if healthy(settings) else 'NOT answering'}; listening ports: "
        + ", ".join(str(p) for p in sorted(held)))
    say(_urls(settings))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.ops", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "install-proxy"])
    parser.add_argument("--no-demo", action="store_true", help="do not seed demo data on up")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        settings = load_settings()
        if args.action == "up":
            return up(settings, demo=not args.no_demo)
        if args.action == "down":
            return down(settings)
        if args.action == "install-proxy":  # `make test` needs it too: live hub tests start the proxy
            ensure_proxy(settings)
            return 0
        return status(settings)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
