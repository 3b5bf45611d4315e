"""The light query-string reader speaks Voila's protocol: same names, same URL, same result."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
import voila.utils
import websockets

from hub.testing import free_ports
from widgets.voila_query import ENV, get_query_string, query_url

PREHEAT_ENV = {"VOILA_PREHEAT": "True", "VOILA_KERNEL_ID": "k-123", "VOILA_APP_IP": "127.0.0.1",
               "VOILA_SERVER_URL": "/services/forms/"}


def test_names_are_the_installed_voilas() -> None:
    assert set(ENV.values()) <= {v.value for v in voila.utils.ENV_VARIABLE}


def test_url_is_the_one_voila_waits_on(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**PREHEAT_ENV, "VOILA_APP_PORT": "18866"}.items():
        monkeypatch.setenv(key, value)
    seen: list[str] = []

    async def capture(ws_url: str) -> None:
        seen.append(ws_url)

    monkeypatch.setattr(voila.utils, "_get_request_info", capture)
    voila.utils.wait_for_request()
    assert seen == [query_url()] == ["ws://127.0.0.1:18866/services/forms/voila/query/k-123"]


def test_without_preheating_the_query_string_is_already_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv("QUERY_STRING", "access=abc")
    assert get_query_string() == "access=abc"


@pytest.fixture
def voila_query_socket() -> Iterator[int]:
    """What Voila does when a visitor takes a preheated kernel: send the request's variables."""
    port = free_ports(1)[0]
    ready, done = threading.Event(), threading.Event()
    paths: list[str] = []

    async def handler(socket) -> None:  # type: ignore[no-untyped-def]
        paths.append(socket.request.path)
        await socket.send(json.dumps({"QUERY_STRING": "access=tok-42", "PATH_INFO": "/home.ipynb"}))

    async def serve() -> None:
        async with websockets.serve(handler, "127.0.0.1", port):
            ready.set()
            while not done.is_set():
                await asyncio.sleep(0.01)

    thread = threading.Thread(target=lambda: asyncio.run(serve()))
    thread.start()
    assert ready.wait(30)
    yield port
    done.set()
    thread.join(30)
    assert paths == ["/services/forms/voila/query/k-123"]


def test_preheated_kernel_waits_for_its_visitor(voila_query_socket: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**PREHEAT_ENV, "VOILA_APP_PORT": str(voila_query_socket)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.delenv("PATH_INFO", raising=False)
    assert get_query_string() == "access=tok-42"


def test_forms_service_preheats_the_questionnaire_page_most(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hub.services import FORMS_BURST_NOTEBOOK, FORMS_POOL_SIZE, REPO_ROOT, forms_service
    from workbench.settings import Settings

    command = forms_service(Settings(home=tmp_path), pool_size=5)["command"]
    flag = next(c for c in command if c.startswith("--VoilaKernelManager.kernel_pools_config="))
    pools = json.loads(flag.split("=", 1)[1])
    assert pools == {"default": {"pool_size": 1}, FORMS_BURST_NOTEBOOK: {"pool_size": 5}}
    assert FORMS_POOL_SIZE >= 2
    home = json.loads((REPO_ROOT / "notebooks" / "forms" / FORMS_BURST_NOTEBOOK).read_text())
    source = "".join("".join(c["source"]) for c in home["cells"])
    assert "widgets.voila_query import get_query_string" in source and "voila.utils" not in source


def test_a_kernel_that_connects_before_the_service_listens_still_gets_its_visitor() -> None:
    """Preheated kernels connect while the service may still be starting: the first refused
    connection must not leave the kernel with an empty query string (a "bad link" page)."""
    from widgets.voila_query import _receive

    port = free_ports(1)[0]

    async def scenario() -> str | None:
        async def visitor(socket: websockets.ServerConnection) -> None:
            await socket.send(json.dumps({"QUERY_STRING": "access=abc"}))

        waiting = asyncio.create_task(_receive(f"ws://127.0.0.1:{port}/q", tries=5))
        await asyncio.sleep(1.5)  # nothing listens yet: the first attempt is refused
        async with websockets.serve(visitor, "127.0.0.1", port):
            return await asyncio.wait_for(waiting, 30)

    assert json.loads(asyncio.run(scenario()) or "{}") == {"QUERY_STRING": "access=abc"}
