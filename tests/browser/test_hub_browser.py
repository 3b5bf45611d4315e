"""In a real browser: staff login with password + TOTP to the studies dashboard; participant link."""

from __future__ import annotations

from typing import Any

import pytest

from hub.testing import PASSWORD, Fixture, totp_code
from tests.browser.conftest import assert_refused_by_page_policy, watch_outside_requests

pytestmark = pytest.mark.browser
TIMEOUT = 90_000  # ms; a cold Voila render plus the page's JS on a busy 2-core box


def _sign_in(page: Any, hub: Fixture, username: str, otp: str) -> None:
    page.goto(f"{hub.base_url}/hub/login")
    page.locator("#username_input").fill(username)
    page.locator("#password_input").fill(PASSWORD)
    page.get_by_label("Code (application d'authentification").fill(otp)
    page.locator("#login_submit").click()


def test_wrong_code_is_refused_then_the_manager_sees_the_study(browser: Any, hub: Fixture) -> None:
    context = browser.new_context()
    page = context.new_page()
    good = totp_code(hub.secrets["manager.one"])
    _sign_in(page, hub, "manager.one", f"{(int(good) + 3) % 1_000_000:06d}")
    page.locator(".login_error").wait_for(timeout=TIMEOUT)
    assert "/hub/login" in page.url

    _sign_in(page, hub, "manager.one", good)
    page.get_by_role("rowheader", name="HUB-A", exact=True).wait_for(timeout=TIMEOUT)
    assert "/services/dashboards/" in page.url
    assert page.get_by_text("En cours / Active").is_visible()
    assert page.get_by_role("rowheader", name="HUB-B", exact=True).count() == 0  # not this manager's
    context.close()


def test_participant_link_greets_by_pseudonym_and_switches_language(browser: Any, hub: Fixture) -> None:
    context = browser.new_context()
    page = context.new_page()
    outside = watch_outside_requests(page, hub.base_url)
    reply = page.goto(hub.participant_url(), wait_until="commit")
    heading = page.get_by_role("heading", name="Bonjour, participant P-HUBTEST1")
    heading.wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="English").click()
    page.get_by_role("heading", name="Hello, participant P-HUBTEST1").wait_for(timeout=TIMEOUT)
    assert reply is not None and "default-src 'self'" in (reply.header_value("content-security-policy") or "")
    context.close()
    assert_refused_by_page_policy(outside)


def test_unknown_participant_link_says_so(browser: Any, hub: Fixture) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(hub.participant_url("not-a-valid-token"), wait_until="commit")
    page.get_by_text("This link is unknown or has expired").wait_for(timeout=TIMEOUT)
    assert page.get_by_text("P-HUBTEST1").count() == 0
    context.close()
