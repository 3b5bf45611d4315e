"""Browser fixtures: one live hub and Debian's chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hub.testing import Fixture, live_hub

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


_RUNNING: list[tuple[ExitStack, Fixture]] = []  # the shared hub while this folder's tests run


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """One live hub for consecutive browser test files (starting one costs 15-30 s here).

    Started on first use, stopped as soon as the next test is outside this folder (with xdist a
    worker may come back later: it then starts a new one)."""
    if not _RUNNING:
        stack = ExitStack()
        fixture, _process = stack.enter_context(live_hub(Path(tmp_path_factory.mktemp("browser")) / "var"))
        _RUNNING.append((stack, fixture))
    return _RUNNING[0][1]


def _stop_hub() -> None:
    while _RUNNING:
        _RUNNING.pop()[0].close()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Kept up for the rest of the run, its kernels and workers would only load the machine."""
    here = Path(__file__).parent
    if nextitem is None or here not in Path(nextitem.path).parents:
        _stop_hub()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Per module: Playwright's sync API keeps an event loop running in the main thread while open,
    which would break every later test that calls ``asyncio.run``."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make chromium` (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _stop_hub()  # an interrupted run never reaches the teardown above


def watch_outside_requests(page: Any, base_url: str) -> list[Any]:
    """Requests of ``page`` to any other server (blob: and data: URLs aside), as they happen."""
    own = urlsplit(base_url).netloc
    outside: list[Any] = []
    page.on("request", lambda r: outside.append(r) if urlsplit(r.url).netloc not in ("", own) else None)
    return outside


def assert_refused_by_page_policy(outside: list[Any]) -> None:
    """Every request to another server was stopped by the page's Content-Security-Policy (Voila's
    templates link a CDN): none left the browser."""
    assert [(r.url, r.failure) for r in outside if r.failure != "csp"] == []
