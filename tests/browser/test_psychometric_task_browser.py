"""The cognitive tasks' JavaScript in Chromium: answers timed in the page, then scored by the kernel."""

from __future__ import annotations

import json

import pytest

from widgets.psychometric_task import _CSS, _SD_ESM, _VF_ESM, TEXTS
from workbench.psychometrics import make_form, score_task

pytestmark = pytest.mark.browser

HARNESS = """<!doctype html><html><head><style>{css}</style></head><body><div id="host"></div>
<script type="module">
{js}
const state = {state};
window.sent = [];
const model = {{ get: (k) => state[k], send: (m) => window.sent.push(m), on: () => {{}}, off: () => {{}} }};
render({{ model, el: document.getElementById("host") }});
window.ready = true;
</script></body></html>"""


def _page(browser, esm: str, state: dict):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.set_content(HARNESS.format(css=_CSS, js=esm.replace("export default { render };", ""),
                                    state=json.dumps(state)))
    page.wait_for_function("window.ready === true")
    return page


def test_symbol_digit_answers_carry_browser_times_and_stop_at_the_limit(browser) -> None:  # type: ignore[no-untyped-def]
    form = make_form(4)
    state = {"key": list(form.key), "items": [form.key[form.digit_of(i) - 1] for i in form.items],
             "limit_ms": 8000, "texts": TEXTS["en"]}
    page = _page(browser, _SD_ESM, state)
    try:
        page.get_by_role("button", name="Start").click()
        for i in range(6):
            shown = page.locator(".wb-glyph").text_content()
            assert shown == state["items"][i]
            digit = form.key.index(shown) + 1
            if i == 2:
                page.keyboard.press(str(digit % 9 + 1))  # one wrong answer, from the keyboard
            else:
                page.get_by_role("button", name=str(digit), exact=True).click()
        page.wait_for_function("window.sent.some((m) => m.event === 'done')", timeout=30_000)
        sent = page.evaluate("window.sent")
        assert page.locator(".wb-pad").is_hidden()
    finally:
        page.close()
    assert sent[0] == {"event": "start"}
    answers = [m for m in sent if m["event"] == "answer"]
    done = sent[-1]
    assert [m["position"] for m in answers] == list(range(6)) and done["n"] == 6
    times = [m["t"] for m in answers]
    assert times == sorted(times) and 0 < times[0] < done["t"] and done["t"] >= 8000
    stored = score_task("symbol-digit", {"seed": 4, "limit_ms": 10_000,
                                         "trials": [{k: m[k] for k in ("position", "answer", "t")} for m in answers]})
    assert (stored["sd_correct"], stored["sd_errors"]) == (5, 1)


def test_fluency_words_typed_with_enter_are_timed_until_the_limit(browser) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, _VF_ESM, {"limit_ms": 8000, "texts": TEXTS["fr"]})
    try:
        field = page.get_by_role("textbox", name="Mot entendu")
        assert field.is_disabled()
        page.get_by_role("button", name="Commencer").click()
        for word in ("chat", "chien", "Chats"):
            field.fill(word)
            field.press("Enter")
        page.wait_for_function("window.sent.some((m) => m.event === 'done')", timeout=30_000)
        sent = page.evaluate("window.sent")
        assert field.is_disabled() and page.locator(".wb-words li").count() == 3
    finally:
        page.close()
    words = [m for m in sent if m["event"] == "word"]
    assert [w["text"] for w in words] == ["chat", "chien", "Chats"] and sent[-1]["n"] == 3
    stored = score_task("verbal-fluency", {"mode": "category", "cue": "animaux", "limit_ms": 10_000,
                                           "words": [{"text": w["text"], "t": w["t"]} for w in words]})
    assert (stored["vf_correct"], stored["vf_repetitions"]) == (2, 1)
