"""The coding notebook's cell: the dashboard for the viewer the hub names.

In the dashboards service the viewer is written into the notebook (``hub.voila_hooks``) and the
dashboard is built at once. In the coding service (``hub.coding_service``) the kernel is
preheated: it runs this cell before anyone asks for the page, so the cell returns a holder at
once and builds the dashboard when the visit arrives (a task on the kernel's event loop). The
page is then sent complete as soon as the coder asks for it, and the dashboard is built while
the browser loads the page's JavaScript instead of before it starts to. Before the visit the
kernel also pays what the first store access costs in a process (``warm_up``): with the coding
service's light page, the dashboard's build is most of what a coder waits for.
"""

from __future__ import annotations

import asyncio
import contextlib

import ipywidgets as w

from widgets.coding.backend import StoreBackend
from widgets.coding.dashboard import coding_dashboard, request_viewer
from widgets.guarded import show_error
from widgets.voila_query import preheated, receive_request
from workbench.settings import Settings

__all__ = ["LOADING", "CodingPage", "coding_page", "warm_up"]

LOADING = "<p role='status'>Chargement… <span lang='en'>/ Loading…</span></p>"


def warm_up(settings: Settings) -> None:
    """A store access for nobody: imports (alembic, for the schema check), the ORM's set-up and
    the first queries cost ~0.4 s once per process here, paid before the visit instead of in it.
    Any failure is left to the visit's own build, which says what is wrong."""
    with contextlib.suppress(Exception):
        backend = StoreBackend(settings, "")
        try:
            backend.studies()  # no such user: refused after the queries were compiled
        finally:
            backend.close()


class CodingPage(w.VBox):  # type: ignore[misc]
    """Holds the dashboard; in a preheated kernel, fills itself when the visit arrives."""

    def __init__(self, settings: Settings) -> None:
        super().__init__([w.HTML(LOADING)])
        self._settings = settings
        self.filled: asyncio.Task[None] | None = None

    def fill(self, viewer: str | None) -> None:
        self.children = [coding_dashboard(self._settings, viewer)]

    async def fill_on_visit(self) -> None:
        try:
            await asyncio.sleep(0)  # the cell's reply first: Voila renders the page meanwhile
            warm_up(self._settings)  # Voila keeps the request for us if the visit comes meanwhile
            await receive_request()
            self.fill(request_viewer(self._settings))
        except Exception as exc:  # never a traceback to the viewer, never a page stuck on "Loading"
            status = w.HTML()
            show_error(status, exc)
            self.children = [status]


def coding_page(settings: Settings, viewer: str | None) -> w.Widget:
    """``viewer``: the one the dashboards service wrote into the notebook, if any."""
    if viewer:
        return coding_dashboard(settings, viewer)
    page = CodingPage(settings)
    if not preheated():
        page.fill(request_viewer(settings))  # a kernel started for this request: the ticket is here
    else:
        page.filled = asyncio.get_running_loop().create_task(page.fill_on_visit())
    return page
