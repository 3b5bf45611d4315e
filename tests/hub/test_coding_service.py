"""The coding service: preheated standalone Voila behind hub login, the viewer as a server-minted ticket."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
from tornado.httputil import HTTPHeaders
from traitlets.config import Config, PyFileConfigLoader

from hub.coding_service import (
    CODING_BASE_URL,
    CODING_NOTEBOOK,
    CODING_VOILA_CONFIG,
    VIEWER_HEADER,
    CodingIdentityProvider,
    coding_service,
)
from hub.page_policy import page_headers
from hub.services import KERNEL_IPC_FLAG, REPO_ROOT, VOILA_SAFE_FLAGS
from workbench.errors import PermissionDenied
from workbench.settings import Settings
from workbench.viewer_ticket import mint_ticket, ticket_key, verify_ticket

HUB_ENV = {
    "JUPYTERHUB_API_TOKEN": "service-token", "JUPYTERHUB_CLIENT_ID": "service-coding",
    "JUPYTERHUB_SERVICE_PREFIX": CODING_BASE_URL, "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{CODING_BASE_URL}oauth_callback", "JUPYTERHUB_BASE_URL": "/",
}


def test_coding_service_is_preheated_standalone_voila_behind_hub_login(tmp_path: Path) -> None:
    service = coding_service(Settings(home=tmp_path), port=18650)
    command = service["command"]
    assert service["name"] == "coding" and service["url"] == "http://127.0.0.1:18650"
    assert service["oauth_no_confirm"] is True  # OAuth with the hub, as the dashboards
    assert command[0].endswith("voila") and command[1] == str(CODING_NOTEBOOK)
    assert {"--preheat_kernel=True", "--pool_size=1", f"--base_url={CODING_BASE_URL}", "--Voila.ip=127.0.0.1",
            f"--Voila.config_file_paths={CODING_VOILA_CONFIG}"} <= set(command)
    assert set(VOILA_SAFE_FLAGS) <= set(command)
    assert KERNEL_IPC_FLAG in command  # kernels on Unix sockets
    assert not [a for a in command if "strip_sources=False" in a or "show_tracebacks=True" in a]
    assert any(a.startswith("--MappingKernelManager.cull_idle_timeout=") for a in command)
    assert service["environment"]["WESHARE_HOME"] == str(tmp_path)
    assert coding_service(Settings(home=tmp_path))["url"] != ""  # a free loopback port when none is given


def test_coding_voila_config_keeps_the_page_policy_and_passes_only_the_ticket(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path))
    config: Config = PyFileConfigLoader("voila.py", path=str(CODING_VOILA_CONFIG)).load_config()
    tornado = config.Voila.tornado_settings
    assert tornado["headers"] == page_headers() and tornado["disable_check_xsrf"] is True
    assert tornado["static_immutable_cache"] == [f"{CODING_BASE_URL}voila/labextensions/"]
    assert config.Voila.identity_provider_class is CodingIdentityProvider
    assert config.VoilaConfiguration.http_header_envs == [VIEWER_HEADER]
    assert "jupyterlab-plotly" in config.VoilaConfiguration.extension_denylist
    assert config.CodingIdentityProvider.secret_key_file == str(Settings(home=tmp_path).secret_key_file)


def test_the_hub_starts_the_coding_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path))
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO_ROOT / "hub")).load_config()
    coding = [s for s in config.JupyterHub.services if s["name"] == "coding"]
    assert len(coding) == 1 and "command" in coding[0]  # managed: `make up` starts it


@pytest.fixture
def provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CodingIdentityProvider:
    for name, value in HUB_ENV.items():
        monkeypatch.setenv(name, value)
    # As Voila builds it: with the options of its own token login, which hub OAuth replaces.
    return CodingIdentityProvider(secret_key_file=str(tmp_path / "secret.key"), token="", login_handler_class=None)


def _request(provider: CodingIdentityProvider, monkeypatch: pytest.MonkeyPatch, hub_user: str | None,
             sent: str | None) -> HTTPHeaders:
    async def hub_says(self: Any, handler: Any) -> Any:
        return None if hub_user is None else SimpleNamespace(username=hub_user)

    monkeypatch.setattr(JupyterHubIdentityProvider, "get_user", hub_says)
    headers = HTTPHeaders()
    if sent is not None:
        headers.add(VIEWER_HEADER, sent)
        headers.add(VIEWER_HEADER.lower(), sent)  # twice, in another case: all are dropped
    asyncio.run(provider.get_user(SimpleNamespace(request=SimpleNamespace(headers=headers))))
    return headers


def test_a_ticket_the_browser_sends_never_reaches_the_kernel(
        provider: CodingIdentityProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ticket_key(tmp_path / "secret.key")
    forged = mint_ticket(key, "lead.one")  # even a validly signed ticket for someone else
    headers = _request(provider, monkeypatch, "coder.a", forged)
    assert headers.get_list(VIEWER_HEADER) != [forged] and len(headers.get_list(VIEWER_HEADER)) == 1
    assert verify_ticket(key, headers[VIEWER_HEADER]) == "coder.a"  # the hub's user, minted here

    headers = _request(provider, monkeypatch, None, forged)  # not signed in to the hub
    assert VIEWER_HEADER not in headers


def test_the_oauth_callback_is_under_the_service_prefix(provider: CodingIdentityProvider) -> None:
    paths = [h[0] for h in provider.get_handlers()]
    assert paths == [f"{CODING_BASE_URL}logout", f"{CODING_BASE_URL}oauth_callback"]


def test_a_ticket_of_another_instance_is_refused(tmp_path: Path) -> None:
    ours, theirs = ticket_key(tmp_path / "a.key"), ticket_key(tmp_path / "b.key")
    with pytest.raises(PermissionDenied):
        verify_ticket(ours, mint_ticket(theirs, "coder.a"))
