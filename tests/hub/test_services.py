"""Service definitions: Voila's safe defaults, forms flags, viewer injection, settings hand-over."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from tornado.web import HTTPError
from traitlets.config import Config, PyFileConfigLoader
from voila.configuration import VoilaConfiguration

from hub.readonly_contents import ReadOnlyContentsManager
from hub.services import REPO_ROOT, dashboards_service, forms_service, settings_environment
from hub.voila_hooks import VIEWER_VARIABLE, inject_viewer
from workbench.settings import Settings, load_settings


def test_voila_defaults_hide_sources_and_tracebacks() -> None:
    # If an upgrade flips these defaults, viewers could see code or values from an error: fail here.
    config = VoilaConfiguration()
    assert config.strip_sources is True
    assert config.show_tracebacks is False


def test_services_never_turn_on_sources_or_tracebacks(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    for service in (dashboards_service(settings, as_root=True), forms_service(settings)):
        joined = " ".join(service["command"])
        assert "--VoilaConfiguration.strip_sources=True" in joined
        assert "--VoilaConfiguration.show_tracebacks=False" in joined
        assert "show_tracebacks=True" not in joined and "strip_sources=False" not in joined
    assert "--VoilaConfiguration.extension_denylist=jupyterlab-plotly" in forms_service(settings)["command"]


def test_forms_service_is_preheated_culls_and_does_not_leak_kernels(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, forms_port=18123)
    command = forms_service(settings)["command"]
    assert "--preheat_kernel=True" in command
    assert "--Voila.port_retries=0" in command
    assert "--base_url=/services/forms/" in command
    config = PyFileConfigLoader("voila.py", path=str(REPO_ROOT / "hub" / "forms_voila")).load_config()
    assert f"--Voila.config_file_paths={REPO_ROOT / 'hub' / 'forms_voila'}" in command
    assert config.Voila.tornado_settings["disable_check_xsrf"] is True
    assert config.Voila.tornado_settings["headers"]["Content-Security-Policy"].startswith("default-src 'self'")
    assert any(part.startswith("--MappingKernelManager.cull_idle_timeout=") for part in command)
    assert "--port=18123" in command
    # kernels on Unix sockets: no port picked for a kernel can be taken before it binds it
    assert "--KernelManager.transport=ipc" in command


def test_dashboards_run_as_root_only_with_the_flag(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert "--allow-root" in dashboards_service(settings, as_root=True)["command"]
    assert "--allow-root" not in dashboards_service(settings, as_root=False)["command"]
    assert dashboards_service(settings, as_root=False)["oauth_no_confirm"] is True


def test_dashboards_server_config_is_voila_only_and_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "")  # the file sets it for its server: restored after
    loader = PyFileConfigLoader("dashboards_server_config.py", path=str(REPO_ROOT / "hub"))
    config: Config = loader.load_config()
    assert config.VoilaConfiguration.prelaunch_hook is inject_viewer
    assert config.VoilaConfiguration.show_tracebacks is False
    assert config.ServerApp.contents_manager_class is ReadOnlyContentsManager
    assert "default-src 'self'" in config.ServerApp.tornado_settings["headers"]["Content-Security-Policy"]
    assert config.ServerApp.jpserver_extensions["jupyterlab"] is False
    assert config.ServerApp.terminals_enabled is False
    assert "execute_request" not in config.MappingKernelManager.allowed_message_types
    # kernels on Unix sockets whose paths stay under the 107-byte limit wherever the instance lives
    assert config.KernelManager.transport == "ipc"
    sockets = Path(os.environ["JUPYTER_RUNTIME_DIR"])
    assert sockets.is_dir() and sockets.stat().st_mode & 0o077 == 0
    assert len(f"{sockets}/kernel-{'0' * 36}-ipc-65535") <= 107
    sockets.rmdir()


def test_settings_environment_rebuilds_the_same_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "inst", hub_port=18555, demo=True, public_url="https://x.example")
    assert load_settings(settings_environment(settings)) == settings


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    return nb


def test_viewer_is_injected_from_the_authenticated_user_only() -> None:
    nb = _notebook()
    req = SimpleNamespace(current_user=SimpleNamespace(username="manager.one"),
                          request=SimpleNamespace(query="viewer=admin.one"))
    scoped = inject_viewer(req, notebook=nb, cwd=".")
    assert scoped.cells[0].source == f"{VIEWER_VARIABLE} = 'manager.one'"
    assert scoped.cells[1].source == "x = 1"
    assert len(nb.cells) == 1  # the shared cached notebook is untouched


@pytest.mark.parametrize("user", [None, SimpleNamespace(username="x'); import os; ('"),
                                  SimpleNamespace(username="")])
def test_no_or_odd_viewer_is_refused(user: object) -> None:
    with pytest.raises(HTTPError) as err:
        inject_viewer(SimpleNamespace(current_user=user), notebook=_notebook(), cwd=".")
    assert err.value.status_code == 403


def test_read_only_contents_refuses_writes(tmp_path: Path) -> None:
    import asyncio

    manager = ReadOnlyContentsManager(root_dir=str(tmp_path))
    with pytest.raises(HTTPError):
        asyncio.run(manager.save({"type": "file", "format": "text", "content": "x"}, "new.txt"))
    with pytest.raises(HTTPError):
        asyncio.run(manager.delete_file("studies.ipynb"))
    assert not (tmp_path / "new.txt").exists()


def test_gateway_service_starts_only_once_the_trusted_party_has_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.services import gateway_port, managed_services

    monkeypatch.delenv("WESHARE_TTP_MASTER_KEY", raising=False)
    settings = Settings(home=tmp_path, dashboards_port=18500, gateway_port=18501)
    assert [s["name"] for s in managed_services(settings, as_root=False)] == ["dashboards", "forms", "mail"]
    (tmp_path / "ttp-master.key").write_bytes(b"k" * 32)
    services = {s["name"]: s for s in managed_services(settings, as_root=False)}
    gateway = services["warehouse-gateway"]
    assert gateway["url"] == f"http://127.0.0.1:{gateway_port(settings)}" and gateway_port(settings) == 18501
    assert gateway["command"][-2:] == ["-m", "secure_bubble.gateway"]
    assert load_settings(gateway["environment"]) == settings
