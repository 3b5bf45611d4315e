"""On a phone-sized screen: a participant opens an invitation, creates an account, signs out and back in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from hub.testing import Fixture
from workbench.participants.models import Participant
from workbench.portal.accounts import invitation_url, invite
from workbench.storage import connect, session_scope

pytestmark = pytest.mark.browser
TIMEOUT = 90_000  # ms: a busy 2-core box
STEP = 30_000
PASSWORD = "une phrase de passe sûre"


def _invitation(hub: Fixture) -> str:
    engine = connect(hub.settings.database_url)
    try:
        with session_scope(engine) as s:
            person = s.execute(select(Participant).where(
                Participant.pseudonym == hub.participant_pseudonym)).scalar_one()
            token = invite(s, person, actor="test", public_url=hub.base_url)
    finally:
        engine.dispose()
    return invitation_url(hub.base_url, token)


def test_invitation_account_and_password_sign_in_on_a_phone(browser: Any, hub: Fixture) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 667}, has_touch=True, locale="fr-FR")
    page = context.new_page()
    page.goto(_invitation(hub), wait_until="commit")
    page.get_by_text(re.compile("Hub test study A.*vous invite")).wait_for(timeout=TIMEOUT)
    page.get_by_placeholder(re.compile("^Choisissez un nom d'utilisateur")).fill("marie.browser")
    page.get_by_placeholder(re.compile("^Mot de passe \\(facultatif")).fill(PASSWORD)
    page.get_by_placeholder("Confirmez le mot de passe").fill(PASSWORD)
    create = page.get_by_role("button", name="Ouvrir mon espace")
    box = create.bounding_box()
    assert box is not None and box["height"] >= 44  # a finger-sized target
    create.click()
    page.get_by_role("heading", name="Mes études", exact=True).wait_for(timeout=STEP)
    page.get_by_role("link", name="Remplir mes questionnaires").wait_for(timeout=STEP)  # phq-9 is due
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll

    page.get_by_role("button", name="Me déconnecter").click()
    page.get_by_placeholder("Nom d'utilisateur").fill("marie.browser")
    page.get_by_placeholder("Mot de passe", exact=True).fill("pas le bon mot de passe")
    page.get_by_role("button", name="Me connecter avec mon mot de passe").click()
    page.get_by_role("alert").filter(has_text="incorrect").wait_for(timeout=STEP)
    page.get_by_placeholder("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Me connecter avec mon mot de passe").click()
    page.get_by_role("heading", name="Mes études", exact=True).wait_for(timeout=STEP)
    link = page.get_by_role("link", name="Remplir mes questionnaires").get_attribute("href") or ""
    assert link.startswith(f"{hub.base_url}/services/forms/voila/render/home.ipynb?access=")
    context.close()
