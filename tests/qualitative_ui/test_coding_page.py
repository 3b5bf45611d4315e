"""The coding page's viewer: written in by the dashboards service, or a hub-minted ticket in the
coding service's preheated kernel (read once the visit arrives); anything else names nobody."""

from __future__ import annotations

import asyncio
from pathlib import Path

import ipywidgets as w
import pytest

import widgets.coding.page as page_module
from widgets.coding import CodingDashboard, CodingPage, coding_page, request_viewer
from widgets.coding.dashboard import VIEWER_TICKET_ENV
from widgets.coding.page import warm_up
from workbench.errors import PermissionDenied
from workbench.settings import Settings
from workbench.viewer_ticket import TICKET_SECONDS, mint_ticket, ticket_key, verify_ticket

from .conftest import STUDY, World

NOW = 1_800_000_000


def _ticket(world: World, viewer: str, **kwargs: float) -> str:
    return mint_ticket(ticket_key(world.settings.secret_key_file), viewer, **kwargs)  # type: ignore[arg-type]


def test_a_ticket_names_its_viewer_until_it_expires(world: World) -> None:
    key = ticket_key(world.settings.secret_key_file)
    ticket = mint_ticket(key, "coder.a", now=NOW)
    assert verify_ticket(key, ticket, now=NOW + TICKET_SECONDS) == "coder.a"
    expires, viewer, signature = ticket.split(":")
    for bad in [f"{expires}:lead.one:{signature}",  # another viewer, same signature
                f"{int(expires) + 3600}:{viewer}:{signature}",  # a longer life
                f"{expires}:{viewer}:{signature[:-1]}{'1' if signature.endswith('0') else '0'}",  # one digit off
                "", "coder.a", f"{expires}:{viewer}",
                f"{expires}:Coder A:{signature}", f"x{expires}:{viewer}:{signature}"]:
        with pytest.raises(PermissionDenied):
            verify_ticket(key, bad, now=NOW)
    with pytest.raises(PermissionDenied):
        verify_ticket(key, ticket, now=NOW + TICKET_SECONDS + 1)
    with pytest.raises(ValueError):
        mint_ticket(key, "not:a user")


def test_request_viewer_reads_only_a_valid_ticket_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VIEWER_TICKET_ENV, _ticket(world, "coder.a"))
    assert request_viewer(world.settings) == "coder.a"
    assert request_viewer(world.settings) is None  # taken out of the environment
    monkeypatch.setenv(VIEWER_TICKET_ENV, "4102444800:coder.a:" + "0" * 64)
    assert request_viewer(world.settings) is None


def _message(page: w.Widget) -> str:
    return " ".join(c.value for c in page.children[0].children if isinstance(c, w.HTML))


def test_in_a_fresh_kernel_the_page_is_built_for_the_ticket_s_viewer(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv(VIEWER_TICKET_ENV, _ticket(world, "coder.a"))
    page = coding_page(world.settings, None)
    assert isinstance(page, CodingPage)
    board = page.children[0]
    assert isinstance(board, CodingDashboard) and board.widget is not None
    assert board.widget.coder == "coder.a" and board.widget.blind and board.study.value == STUDY

    page = coding_page(world.settings, None)  # no ticket: nobody, whatever else the request held
    assert not isinstance(page.children[0], CodingDashboard) and "sign in" in _message(page)


def test_the_dashboards_service_s_viewer_is_used_as_is(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VIEWER_TICKET_ENV, _ticket(world, "coder.b"))  # ignored: no ticket is read there
    board = coding_page(world.settings, "coder.a")
    assert isinstance(board, CodingDashboard) and board.widget is not None and board.widget.coder == "coder.a"


@pytest.mark.parametrize(("ticket_for", "expected"), [("coder.a", "coder.a"), ("forged", None)])
def test_a_preheated_page_returns_at_once_and_fills_on_the_visit(
        world: World, monkeypatch: pytest.MonkeyPatch, ticket_for: str, expected: str | None) -> None:
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    visit = asyncio.Event()

    async def receive_request() -> None:  # what Voila's request-info socket does on the visit
        await visit.wait()
        ticket = _ticket(world, "coder.a") if ticket_for == "coder.a" else "4102444800:lead.one:" + "0" * 64
        monkeypatch.setenv(VIEWER_TICKET_ENV, ticket)

    monkeypatch.setattr(page_module, "receive_request", receive_request)

    async def kernel() -> CodingPage:
        page = coding_page(world.settings, None)  # the cell, run before anyone asks for the page
        assert isinstance(page, CodingPage) and "Loading" in page.children[0].value
        await asyncio.sleep(0)
        assert "Loading" in page.children[0].value  # still waiting: nobody has come
        visit.set()
        assert page.filled is not None
        await page.filled
        return page

    page = asyncio.run(kernel())
    board = page.children[0]
    if expected is None:
        assert not isinstance(board, CodingDashboard) and "sign in" in _message(page)
    else:
        assert isinstance(board, CodingDashboard) and board.widget is not None and board.widget.coder == expected


def test_the_staff_home_sends_coders_to_the_coding_service() -> None:
    from urllib.parse import urljoin

    from widgets.staff_home import DASHBOARDS, StaffHome

    coding = [d for d in DASHBOARDS if d.notebook == "coding.ipynb"]
    links = StaffHome(lambda: ("Coder", coding)).links.value
    href = links.split('href="', 1)[1].split('"', 1)[0]
    home = "https://weshare.example/services/dashboards/voila/render/home.ipynb"
    assert urljoin(home, href) == "https://weshare.example/services/coding/"


def test_the_warm_up_before_the_visit_writes_nothing_and_never_fails(world: World, tmp_path: Path) -> None:
    """Run in the preheated kernel before anyone comes: a read for nobody, no audit entry; with
    no store at all it stays silent (the visit's own build says what is wrong)."""
    from sqlalchemy import func, select

    from workbench.audit import AuditEntry
    from workbench.storage import connect, session_scope

    def entries() -> int:
        engine = connect(world.settings.database_url)
        with session_scope(engine) as s:
            count = int(s.execute(select(func.count(AuditEntry.seq))).scalar_one())
        engine.dispose()
        return count

    before = entries()
    warm_up(world.settings)
    assert entries() == before
    warm_up(Settings(home=tmp_path / "no-store-here"))
