"""In a real browser: a data steward opens the connectors page from the staff home, uploads a FHIR
bundle and reads the run report the live kernel sends back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.testing import PASSWORD, Fixture, totp_code
from tests.browser.conftest import assert_refused_by_page_policy, watch_outside_requests
from workbench import accounts
from workbench.connectors.synthetic import synthetic_bundle
from workbench.storage import connect, session_scope
from workbench.trusted_party import init_store

pytestmark = pytest.mark.browser
TIMEOUT = 120_000  # ms; a cold Voila render on a busy 2-core box


def _steward(hub: Fixture) -> str:
    """A data steward on the shared hub (added here: the other browser tests need none)."""
    init_store(hub.settings, actor="test")  # False, and nothing changed, if the hub has one
    engine = connect(hub.settings.database_url)
    with session_scope(engine) as s:
        user = accounts.add_user(s, "steward.one", actor="test", password=PASSWORD, roles=["data_steward"],
                                 enrol_totp=True, email="steward.one@example.org")
        secret = str(user.totp_secret)
    engine.dispose()
    return secret


def test_steward_imports_a_bundle_from_the_connectors_page(browser: Any, hub: Fixture) -> None:
    secret = _steward(hub)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.base_url}/hub/login")
    page.locator("#username_input").fill("steward.one")
    page.locator("#password_input").fill(PASSWORD)
    page.get_by_label("Code (application d'authentification").fill(totp_code(secret))
    page.locator("#login_submit").click()
    page.wait_for_url("**/services/dashboards/**", timeout=TIMEOUT)
    outside = watch_outside_requests(page, hub.base_url)
    page.goto(f"{hub.base_url}/services/dashboards/voila/render/home.ipynb")
    link = page.get_by_role("link", name="Connecteurs / Connectors")
    link.wait_for(timeout=TIMEOUT)
    link.click()
    page.get_by_role("heading", name="Connecteurs / Connectors").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Importer / Run").click()  # nothing chosen: the one-line message
    page.get_by_role("alert").filter(has_text="choose a file first").wait_for(timeout=TIMEOUT)
    bundle = json.dumps(synthetic_bundle(1, seed=4)).encode()
    with page.expect_file_chooser(timeout=TIMEOUT) as chooser:  # the widget's input is not in the page
        page.locator(".widget-upload").click()
    chooser.value.set_files(files=[{"name": "chu.json", "mimeType": "application/json", "buffer": bundle}])
    page.get_by_placeholder("CHU-Lyon").fill("CHU-Browser")
    page.get_by_role("button", name="Importer / Run").click()
    page.get_by_role("status").filter(has_text="Import done").wait_for(timeout=TIMEOUT)
    assert page.get_by_text("fhir import from CHU-Browser").is_visible()
    assert_refused_by_page_policy(outside)
    context.close()
