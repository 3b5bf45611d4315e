"""The dashboards service lists every governance page; the staff home links what a viewer's roles
open; the public transparency register shows every approved project and nothing private."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from hub.transparency_page import register_body
from secure_bubble.transparency import register
from widgets.access_request import AccessRequestForm, access_request_page
from widgets.staff_home import DASHBOARDS, StaffHome, links_for, staff_home_page
from workbench.accounts import get_user

from ._world import World

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "notebooks" / "dashboards"
GOVERNANCE = {"access_request.ipynb", "sponsor.ipynb", "committee.ipynb", "airlock.ipynb",
              "output_checking.ipynb"}


def _builder(notebook: Path):  # type: ignore[no-untyped-def]
    cells = json.loads(notebook.read_text())["cells"]
    assert len(cells) <= 3 and all(not c.get("outputs") for c in cells), notebook.name
    first = "".join(cells[0]["source"]).splitlines()[0]  # "from widgets.x import page"
    _, module, _, name = first.split()
    return getattr(importlib.import_module(module), name)


def test_every_dashboard_notebook_is_linked_from_the_staff_home_and_builds() -> None:
    on_disk = {p.name for p in DASHBOARDS_DIR.glob("*.ipynb")}
    linked = {d.notebook for d in DASHBOARDS}
    assert linked >= GOVERNANCE and linked <= on_disk
    assert on_disk - linked == {"home.ipynb"}, "a dashboard notebook is missing from widgets.staff_home"
    for name in on_disk:
        assert callable(_builder(DASHBOARDS_DIR / name))


@pytest.mark.parametrize(("viewer", "expected"), [
    ("researcher.u", {"studies.ipynb", "access_request.ipynb", "airlock.ipynb", "catalog.ipynb"}),
    ("committee.u", {"studies.ipynb", "committee.ipynb", "catalog.ipynb"}),
    ("checker.u", {"studies.ipynb", "output_checking.ipynb", "catalog.ipynb"}),
    ("sponsor.u", {"studies.ipynb", "sponsor.ipynb", "indicators.ipynb", "catalog.ipynb",
                   "transcription.ipynb"}),
    ("participant.u", set()),
])
def test_staff_home_links_the_dashboards_of_the_viewer_roles(world: World, viewer: str, expected: set[str]) -> None:
    assert {d.notebook for d in world.run(lambda s: links_for(get_user(s, viewer)))} == expected
    page = staff_home_page(world.settings, viewer)
    assert isinstance(page, StaffHome)
    for d in DASHBOARDS:
        assert (f'href="{d.notebook}"' in page.links.value) == (d.notebook in expected), d.notebook
    assert 'href="../../../../hub/transparency"' in page.links.value


def test_pages_refuse_a_missing_viewer_and_build_for_a_named_one(world: World) -> None:
    assert "Please sign in first" in access_request_page(world.settings, None).children[0].value
    assert isinstance(access_request_page(world.settings, "researcher.u"), AccessRequestForm)


def test_transparency_register_lists_approved_projects_for_patients(world: World) -> None:
    html = register_body(world.run(register))
    for expected in (world.project, "Fatigue trajectories", "qlq-c30", "S-A", "Recherche sur la qualité de vie",
                     "rita", "researcher.u", "Committee date", "vous opposer"):
        assert expected in html, expected
    assert "1 approved project(s)" in html
    assert "to_vote" not in html and "phq-9" not in html  # requests not yet approved are not listed
    assert "<script" not in register_body([])
