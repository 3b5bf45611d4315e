"""Widgets without a browser: set values, click, read what the viewer would see."""

from __future__ import annotations

import ipywidgets as w
import pytest

from hub.testing import Fixture
from widgets.guarded import UNEXPECTED, guarded
from widgets.participant_home import participant_home, token_from_query
from widgets.studies_dashboard import StudiesDashboard, studies_dashboard
from workbench.errors import ValidationError
from workbench.studies.service import StudyRow


def test_guarded_shows_user_errors_and_hides_bugs() -> None:
    status = w.HTML()

    @guarded(status)
    def refuse(_: object) -> None:
        raise ValidationError("must be a number", where="age")

    @guarded(status)
    def crash(_: object) -> None:
        raise KeyError("secret-row-value")

    button = w.Button()
    button.on_click(refuse)
    button.click()
    assert "age: must be a number" in status.value and 'role="alert"' in status.value
    button2 = w.Button()
    button2.on_click(crash)
    button2.click()
    assert UNEXPECTED[1] in status.value
    assert "secret-row-value" not in status.value and "Traceback" not in status.value


def test_dashboard_lists_rows_escaped_and_refresh_reloads() -> None:
    calls = []
    rows = [StudyRow("S-1", "<b>Title</b>", "active", "observational", "Sponsor", 3)]

    def load() -> list[StudyRow]:
        calls.append(1)
        return rows

    dash = StudiesDashboard(load, "manager.one")
    assert "S-1" in dash.table.value and "&lt;b&gt;Title" in dash.table.value
    assert "En cours / Active" in dash.table.value
    dash.refresh_button.click()
    assert len(calls) == 2


def test_dashboard_is_scoped_to_the_viewer(store: Fixture) -> None:
    manager = studies_dashboard(store.settings, "manager.one")
    assert "HUB-A" in manager.table.value and "HUB-B" not in manager.table.value
    admin = studies_dashboard(store.settings, "admin.one")
    assert "HUB-A" in admin.table.value and "HUB-B" in admin.table.value


@pytest.mark.parametrize("viewer", [None, "patient.one", "ghost.user"])
def test_dashboard_refuses_missing_non_staff_or_unknown_viewers(store: Fixture, viewer: str | None) -> None:
    dash = studies_dashboard(store.settings, viewer)
    assert dash.table.value == ""
    assert 'role="alert"' in dash.status.value


def test_participant_home_greets_and_lists_due_items(store: Fixture) -> None:
    page = participant_home(store.settings, f"access={store.participant_token}")
    assert "Bonjour, participant P-HUBTEST1" in page.page.value
    assert any("PHQ-9" in b.description for b in page.due_box.children)
    page.switch.value = True
    assert "Hello, participant P-HUBTEST1" in page.page.value
    assert all(b.description.startswith("Fill in:") for b in page.due_box.children)


@pytest.mark.parametrize("query", ["", "access=not-a-real-token", "token=whatever"])
def test_participant_home_bad_link_is_a_plain_page(store: Fixture, query: str) -> None:
    page = participant_home(store.settings, query)
    assert isinstance(page, w.HTML)
    assert "inconnu ou a expiré" in page.value and "unknown or has expired" in page.value
    assert "P-HUBTEST1" not in page.value


def test_token_is_read_from_the_access_parameter_only() -> None:
    assert token_from_query("access=abc&token=zzz") == "abc"
    assert token_from_query("token=zzz") == ""
