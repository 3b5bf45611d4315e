"""hub.ops without and with a real hub: status/down when stopped, recovery after a hard kill."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import psutil
import pytest

from hub.ops import (
    down,
    hub_ports,
    instance_services,
    listeners,
    running_hub,
    start_hub,
    status,
    stop_hub,
    wait_for,
)
from hub.testing import free_ports, instance_settings, seed
from workbench.settings import Settings


def test_status_and_down_when_nothing_runs(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, hub_port=free_ports(1)[0])
    said: list[str] = []
    assert status(settings, said.append) == 0
    assert said[-1] == "WeShare is not running."
    assert down(settings, said.append) == 0
    assert said[-1] == "WeShare is not running."


def test_a_stale_pid_file_is_not_a_running_hub(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "jupyterhub.pid").write_text(str(os.getpid()))  # alive, but not jupyterhub
    assert running_hub(settings) is None
    (tmp_path / "hub" / "jupyterhub.pid").write_text("not a pid")
    assert running_hub(settings) is None


def test_listeners_finds_the_owner_of_a_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert listeners([port]) == {port: os.getpid()}
    assert listeners([port]) == {}


def test_wait_for_returns_as_soon_as_true() -> None:
    calls = iter([False, False, True])
    assert wait_for(lambda: next(calls), timeout=5, interval=0.01)
    assert not wait_for(lambda: False, timeout=0.05, interval=0.01)


@pytest.mark.slow
def test_up_after_a_hard_kill_clears_orphaned_services(tmp_path: Path) -> None:
    fixture = seed(instance_settings(tmp_path / "var"))
    settings = fixture.settings
    first = start_hub(settings, timeout=180)
    os.kill(first.pid, signal.SIGKILL)  # services and proxy are orphaned, still listening
    assert wait_for(lambda: not psutil.pid_exists(first.pid) or
                    psutil.Process(first.pid).status() == psutil.STATUS_ZOMBIE, 10)
    orphans = listeners([settings.forms_port, settings.dashboards_port])
    mail = instance_services(settings)  # the mail worker listens on no port: found by instance
    assert any("mail worker" in " ".join(psutil.Process(pid).cmdline()) for pid in mail)
    second = start_hub(settings, timeout=180)
    try:
        now = listeners([settings.forms_port, settings.dashboards_port])
        assert set(now) == {settings.forms_port, settings.dashboards_port}
        assert not set(orphans.values()) & set(now.values())  # new services, not the orphans
    finally:
        assert stop_hub(settings) == []
    assert listeners(hub_ports(settings)) == {}
    assert second.pid != first.pid
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                   for pid in mail)  # the orphaned worker was stopped, not left delivering mail
    assert instance_services(settings) == []
