"""In a real browser: the staff home links a researcher's dashboards, the access request form
answers a click through the live kernel, and the transparency register needs no login."""

from __future__ import annotations

from typing import Any

import pytest

from hub.testing import PASSWORD, Fixture, totp_code
from tests.browser.conftest import assert_refused_by_page_policy, watch_outside_requests

pytestmark = pytest.mark.browser
TIMEOUT = 120_000  # ms; a cold Voila render on a busy 2-core box


def test_researcher_opens_the_access_request_form_from_the_staff_home(browser: Any, hub: Fixture) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.base_url}/hub/login")
    page.locator("#username_input").fill("researcher.one")
    page.locator("#password_input").fill(PASSWORD)
    page.get_by_label("Code (application d'authentification").fill(totp_code(hub.secrets["researcher.one"]))
    page.locator("#login_submit").click()
    page.wait_for_url("**/services/dashboards/**", timeout=TIMEOUT)

    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    outside = watch_outside_requests(page, hub.base_url)
    page.goto(f"{hub.base_url}/services/dashboards/voila/render/home.ipynb")
    link = page.get_by_role("link", name="Demande d'accès / Access request")
    link.wait_for(timeout=TIMEOUT)
    assert not [u for u in loaded if "jupyterlab-plotly" in u]  # the service's extension denylist holds
    assert_refused_by_page_policy(outside)
    assert page.get_by_role("link", name="Comités / Committees").count() == 0  # not this viewer's role
    link.click()
    page.get_by_role("heading", name="Demande d’accès aux données de l’entrepôt / Warehouse data access request") \
        .wait_for(timeout=TIMEOUT)
    assert page.get_by_role("button", name="Déposer la demande / Submit").is_disabled()  # tariff first
    page.get_by_role("button", name="Voir le tarif / Show tariff").click()
    # No study added: the domain's message reaches the page through the guarded callback.
    page.get_by_role("alert").filter(has_text="request at least one variable").wait_for(timeout=TIMEOUT)
    context.close()


def test_transparency_register_is_public(browser: Any, hub: Fixture) -> None:
    context = browser.new_context()
    page = context.new_page()
    reply = page.goto(f"{hub.base_url}/hub/transparency")
    assert reply is not None and reply.status == 200 and "/hub/transparency" in page.url  # no login redirect
    page.get_by_role("heading", name="Registre de transparence des réutilisations de données").wait_for()
    assert page.get_by_text("No approved project yet.").is_visible()
    assert page.get_by_text("vous opposer").is_visible()
    context.close()
