"""On a phone-sized screen, with the keyboard only: a participant fills in PHQ-9 and sends it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hub.testing import Fixture
from workbench.participants.models import Participant, Response
from workbench.storage import connect, session_scope

pytestmark = pytest.mark.browser
TIMEOUT = 90_000  # ms: a busy 2-core box
STEP = 30_000
# The progress line is redrawn before the next question's radios: until they are, the focus is
# still on the previous (checked) answer and a key press would land there. A new question has
# nothing checked yet.
FRESH_RADIO_FOCUSED = ("document.activeElement && document.activeElement.type === 'radio' && "
                       "document.activeElement.isConnected && "
                       "document.querySelectorAll('input[type=radio]:checked').length === 0")


def _progress(page: Any, n: int, total: int) -> None:
    page.get_by_text(re.compile(rf"^Question {n} / {total}$")).wait_for(timeout=STEP)


def test_phq9_on_a_phone_with_the_keyboard(browser: Any, hub: Fixture) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 667}, has_touch=True, locale="fr-FR")
    page = context.new_page()
    page.goto(hub.participant_url(), wait_until="commit")
    open_phq = page.get_by_role("button", name=re.compile(r"^Remplir : .*PHQ-9"))
    open_phq.wait_for(timeout=TIMEOUT)
    open_phq.focus()
    page.keyboard.press("Enter")

    _progress(page, 1, 9)
    page.get_by_role("heading", name="Peu d'intérêt ou de plaisir à faire les choses").wait_for(timeout=STEP)
    first = page.get_by_role("radio", name="Jamais").first
    page.wait_for_function("document.activeElement && document.activeElement.type === 'radio'",
                           timeout=STEP)  # the focus is already on the answers
    box = page.locator(".widget-radio-box label").first.bounding_box()
    assert box is not None and box["height"] >= 44  # a finger-sized target
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll

    page.keyboard.press("Enter")  # nothing chosen yet: explained inline, we stay
    page.get_by_role("alert").filter(has_text="Merci de répondre à cette question.").wait_for(timeout=STEP)
    page.wait_for_function(FRESH_RADIO_FOCUSED, timeout=STEP)  # the focus is back on the answers
    page.keyboard.press("ArrowDown")  # radio group: arrows move and choose ("Plusieurs jours" = 1)
    expect(page.get_by_role("radio", name="Plusieurs jours")).to_be_checked(timeout=STEP)
    page.keyboard.press("ArrowUp")    # back to "Jamais" = 0
    expect(first).to_be_checked(timeout=STEP)
    page.keyboard.press("Enter")
    _progress(page, 2, 9)
    for n in range(2, 10):  # q2 = 1 (so q10 appears), the others 0
        page.wait_for_function(FRESH_RADIO_FOCUSED, timeout=STEP)
        page.keyboard.press("ArrowDown" if n == 2 else "Space")
        expect(page.locator("input[type=radio]:checked")).to_have_count(1, timeout=STEP)
        page.keyboard.press("Enter")
        if n < 9:
            _progress(page, n + 1, 10)
    _progress(page, 10, 10)
    page.wait_for_function(FRESH_RADIO_FOCUSED, timeout=STEP)
    page.keyboard.press("Space")
    expect(page.locator("input[type=radio]:checked")).to_have_count(1, timeout=STEP)
    page.keyboard.press("Enter")

    send = page.get_by_role("button", name="Envoyer mes réponses")
    send.wait_for(timeout=STEP)
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'BUTTON' && "
                           "document.activeElement.textContent.includes('Envoyer')", timeout=STEP)
    page.keyboard.press("Enter")
    page.get_by_text("Merci ! Vos réponses ont bien été enregistrées.").wait_for(timeout=TIMEOUT)
    page.get_by_role("heading", name="Bonjour, participant P-HUBTEST1").wait_for(timeout=STEP)
    assert page.get_by_role("button", name=re.compile("PHQ-9")).count() == 0  # no longer due
    context.close()

    engine = connect(hub.settings.database_url)
    try:
        with session_scope(engine) as s:
            rows = s.execute(select(Response).join(Participant, Participant.id == Response.participant_id)
                             .where(Participant.pseudonym == hub.participant_pseudonym)).scalars().all()
            assert len(rows) == 1
            answers = rows[0].answers
            assert [answers[f"q{i}"] for i in range(1, 11)] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
            assert answers["_scores"]["TOTAL"] == 1
    finally:
        engine.dispose()
