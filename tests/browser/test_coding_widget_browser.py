"""The coding widget in Chromium through Voila: a mouse selection across emoji is stored in code points.

The browser measures selections in UTF-16 code units, where 😟 counts two; the widget's
JavaScript converts them, so the store must hold exactly Python's ``text[start:end]``. Through the
hub, the coding service's light page (``hub/coding_voila/share``: its own small client instead of
Voila's frontend) codes by keyboard, opens another transcript and says when the kernel is gone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _coding_hub import sign_in
from _coding_world import CODER, STUDY, coder_totp_secret, notebooks, seed, stored_codings, voila

from hub.testing import PASSWORD, Fixture
from tests.browser.conftest import assert_refused_by_page_policy, watch_outside_requests
from workbench.qualitative import build_transcript, store
from workbench.settings import Settings
from workbench.storage import connect, session_scope

pytestmark = pytest.mark.browser

TURNS = [("Enquêtrice", "Bonjour 👋🏽, on parle du retour au travail 💼 ?", 0, 4000),
         ("P-BENCH0001", "Oui 🙂. J'avais peur que ça revienne 😟, la récidive, tout le temps.", 4000, 9000)]
WANTED = "peur que ça revienne 😟, la récidive"

# Viewport rectangles of UTF-16 range [a, b) of the text node holding `needle`.
RECTS = """([needle, a, b]) => {
  const p = [...document.querySelectorAll('.wsc-p')].find(x => x.textContent.includes(needle));
  const r = document.createRange();
  const i = p.textContent.indexOf(needle);
  r.setStart(p.firstChild, i + a); r.setEnd(p.firstChild, i + b);
  const box = r.getBoundingClientRect();
  return {x: box.x, y: box.y, w: box.width, h: box.height};
}"""


def test_mouse_selection_across_emoji_is_stored_in_code_points(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path / "var")
    version_id = seed(settings, codings=0, turns=TURNS)
    text = build_transcript("x", TURNS).text
    start = text.index(WANTED)
    assert len(text[:start].encode("utf-16-le")) // 2 - start == 4  # 👋🏽 💼 🙂 are 2 units each, 🏽 too
    paths = notebooks(tmp_path / "nb", version_id)
    with voila(settings, paths["coding"].parent) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            page.goto(f"{base}voila/render/coding.ipynb", wait_until="commit", timeout=180_000)
            page.wait_for_selector("[data-wsc-ready]", timeout=180_000)
            units = len(WANTED.encode("utf-16-le")) // 2
            first = page.evaluate(RECTS, [WANTED, 0, 1])
            last = page.evaluate(RECTS, [WANTED, units - 1, units])
            page.mouse.move(first["x"] + 1, first["y"] + first["h"] / 2)
            page.mouse.down()
            page.mouse.move(last["x"] + last["w"] / 2, last["y"] + last["h"] / 2, steps=8)
            page.mouse.move(last["x"] + last["w"] - 1, last["y"] + last["h"] / 2)
            page.mouse.up()
            assert page.evaluate("window.getSelection().toString()") == WANTED
            page.locator(".wsc").focus()
            page.keyboard.press("4")  # arm code 4 (fear of recurrence)
            page.wait_for_function("() => document.querySelectorAll('.wsc-code input')[3].checked")
            page.keyboard.press("Enter")
            page.wait_for_selector(".wsc-chip", timeout=60_000)
            chip = page.locator(".wsc-chip").first.text_content() or ""
            assert "récidive" in chip.lower() or "recurrence" in chip.lower()
        finally:
            page.close()
    (row,) = stored_codings(settings, version_id)
    assert (row["start"], row["end"]) == (start, start + len(WANTED))
    assert row["quote"] == WANTED == text[row["start"]:row["end"]]
    assert row["code"] == "fear_of_recurrence"


def test_figure_widgets_draw_without_the_plotly_page_extension(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The pages' Voila flags deny jupyterlab-plotly (4.8 MB on every page); a FigureWidget, what
    every dashboard figure is, still draws: it brings its own plotly.js."""
    import nbformat

    folder = tmp_path / "nb"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import plotly.graph_objects as go\n"
        "go.FigureWidget(data=[go.Bar(x=['BL', 'W06'], y=[61, 70])], layout={'title': {'text': 'QL2'}})")]
    nbformat.write(nb, folder / "figure.ipynb")
    (tmp_path / "var").mkdir()
    with voila(Settings(home=tmp_path / "var"), folder) as base:
        page = browser.new_page()
        loaded: list[str] = []
        page.on("request", lambda request: loaded.append(request.url))
        outside = watch_outside_requests(page, base)
        try:
            page.goto(f"{base}voila/render/figure.ipynb", wait_until="commit", timeout=180_000)
            page.wait_for_selector(".js-plotly-plot .bars path", timeout=180_000)
        finally:
            page.close()
    assert loaded and not [u for u in loaded if "jupyterlab-plotly" in u]
    assert_refused_by_page_policy(outside)


SECOND = [("Enquêtrice", "Et la fatigue ?", 0, 2000),
          ("P-BENCH0002", "La fatigue 😴 m'a suivie des mois après la chimiothérapie.", 2000, 6000)]


@pytest.fixture(scope="module")
def coding_world(hub: Fixture) -> dict[str, int]:
    """The coder, the interview with two of their codings, and a second, uncoded interview."""
    first = seed(hub.settings, codings=2, turns=TURNS, password=PASSWORD)
    engine = connect(hub.settings.database_url)
    with session_scope(engine) as s:
        second = store.add_document(s, STUDY, build_transcript("entretien-suite", SECOND), actor="test",
                                    participant="P-BENCH0002").id
    engine.dispose()
    return {"first": first, "second": second}


_LOGINS: dict[str, Any] = {}  # one sign-in for the module: a TOTP code is accepted once


def signed_in(browser: Any, hub: Fixture) -> Any:
    """A new browser context with the coder's cookies (hub and services)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  storage_state=_LOGINS.get(hub.base_url))
    if hub.base_url not in _LOGINS:
        sign_in(context.new_page(), hub.base_url, CODER, coder_totp_secret(hub.settings))
        _LOGINS[hub.base_url] = context.storage_state()
    return context


def test_a_coder_opens_the_preheated_coding_service_through_the_hub(  # type: ignore[no-untyped-def]
        browser, hub: Fixture, coding_world: dict[str, int]) -> None:
    """The coding service is behind hub login, and its kernel codes as the signed-in coder (a
    ticket the service minted after the hub's OAuth), under the page policy; the page is the
    light one (none of Voila's frontend is loaded)."""
    anonymous = browser.new_context()
    try:
        page = anonymous.new_page()
        page.goto(f"{hub.base_url}/services/coding/", timeout=180_000)
        page.wait_for_url("**/hub/login**", timeout=180_000)
    finally:
        anonymous.close()
    context = signed_in(browser, hub)
    try:
        page = context.new_page()
        outside = watch_outside_requests(page, hub.base_url)
        loaded: list[str] = []
        page.on("request", lambda r: loaded.append(r.url))
        response = page.goto(f"{hub.base_url}/services/coding/", wait_until="commit", timeout=180_000)
        assert response is not None and "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("[data-wsc-ready]", timeout=180_000)
        assert page.get_by_text(CODER, exact=True).is_visible()  # the dashboard names its viewer
        assert page.locator(".wsc-chip").count() == 2  # the coder's own codings (blind)
        page.wait_for_selector("body[data-wsl-state=ready]")
    finally:
        context.close()
    assert_refused_by_page_policy(outside)
    assert [u for u in loaded if "weshare-coding/static/coding-page.js?v=" in u]
    assert not [u for u in loaded if "/voila/static/" in u or "labextensions" in u]  # no lab frontend


# Select `needle` in the text node holding it (UTF-16 inside one node).
SELECT = """(needle) => {
  const p = [...document.querySelectorAll('.wsc-p')].find(x => x.textContent.includes(needle));
  const i = p.textContent.indexOf(needle);
  const r = document.createRange();
  r.setStart(p.firstChild, i); r.setEnd(p.firstChild, i + needle.length);
  const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r);
}"""


def test_the_light_page_codes_by_keyboard_at_the_selected_code_points(  # type: ignore[no-untyped-def]
        browser, hub: Fixture, coding_world: dict[str, int]) -> None:
    """Keys 1 then Enter, as a coder works: the coding is stored at exactly the selected code
    points (the interviewer's turn holds emoji before the selection), then undone with U."""
    wanted = "on parle du retour au travail 💼"
    text = build_transcript("x", TURNS).text
    start = text.index(wanted)
    assert len(text[:start].encode("utf-16-le")) // 2 > start  # 👋🏽: UTF-16 offsets differ
    before = stored_codings(hub.settings, coding_world["first"])
    context = signed_in(browser, hub)
    try:
        page = context.new_page()
        page.goto(f"{hub.base_url}/services/coding/", wait_until="commit", timeout=180_000)
        page.wait_for_selector("[data-wsc-ready]", timeout=180_000)
        chips = page.locator(".wsc-chip").count()
        page.evaluate(SELECT, wanted)
        page.locator(".wsc").focus()
        page.keyboard.press("1")
        page.wait_for_function("() => document.querySelector('.wsc-code input').checked")
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => document.querySelectorAll('.wsc-chip').length === {chips + 1}",
                               timeout=60_000)
        added = stored_codings(hub.settings, coding_world["first"])[len(before):]
        assert [(r["start"], r["end"], r["quote"]) for r in added] == [(start, start + len(wanted), wanted)]
        page.locator(".wsc").focus()
        page.keyboard.press("u")
        page.wait_for_function(f"() => document.querySelectorAll('.wsc-chip').length === {chips}",
                               timeout=60_000)
    finally:
        context.close()
    assert stored_codings(hub.settings, coding_world["first"]) == before


def test_the_light_page_opens_another_transcript(  # type: ignore[no-untyped-def]
        browser, hub: Fixture, coding_world: dict[str, int]) -> None:
    """Picking the second interview and Open builds a new coding widget (a comm the kernel opens
    after the page is drawn); the first one's text is gone."""
    context = signed_in(browser, hub)
    try:
        page = context.new_page()
        page.goto(f"{hub.base_url}/services/coding/", wait_until="commit", timeout=180_000)
        page.wait_for_selector("[data-wsc-ready]", timeout=180_000)
        picker = page.locator("select:has(option:text-matches('entretien-suite'))")
        picker.select_option(label=picker.locator("option", has_text="entretien-suite").text_content())
        page.get_by_role("button", name="Ouvrir / Open").click()
        page.locator(".wsc-p", has_text="m'a suivie des mois").wait_for(timeout=60_000)
        assert page.locator(".wsc-p", has_text="retour au travail").count() == 0
        assert page.locator("[data-wsc-ready]").count() == 1  # the first widget's view was removed
    finally:
        context.close()


def test_the_light_page_says_when_the_kernel_is_gone(  # type: ignore[no-untyped-def]
        browser, hub: Fixture, coding_world: dict[str, int]) -> None:
    """The kernel shut down under the page: a bilingual alert with a reload link, not a page that
    silently stops answering."""
    context = signed_in(browser, hub)
    try:
        page = context.new_page()
        page.goto(f"{hub.base_url}/services/coding/", wait_until="commit", timeout=180_000)
        page.wait_for_selector("body[data-wsl-state=ready]", timeout=180_000)
        status = page.evaluate("""async () => {
          const c = JSON.parse(document.getElementById('wsl-config').textContent);
          return (await fetch(`${c.baseUrl}voila/api/shutdown/${c.kernelId}`, {method: 'POST'})).status;
        }""")
        assert status == 204
        page.wait_for_selector("body[data-wsl-state=lost]", timeout=60_000)
        alert = page.get_by_role("alert")
        assert "connexion au serveur est perdue" in alert.inner_text()
        assert "connection to the server was lost" in alert.inner_text()
        assert alert.get_by_role("link", name="Recharger / Reload").is_visible()
    finally:
        context.close()


def test_the_light_page_draws_the_analysis_figure_when_asked(  # type: ignore[no-untyped-def]
        browser, hub: Fixture, coding_world: dict[str, int]) -> None:
    """The analysis panel's plotly FigureWidget (an anywidget of its own, ~5 MB) is drawn by the
    same anywidget host, only once asked for; and nothing leaves the page for it."""
    context = signed_in(browser, hub)
    try:
        page = context.new_page()
        outside = watch_outside_requests(page, hub.base_url)
        page.goto(f"{hub.base_url}/services/coding/", wait_until="commit", timeout=180_000)
        page.wait_for_selector("body[data-wsl-state=ready]", timeout=180_000)
        assert page.locator(".js-plotly-plot").count() == 0
        page.get_by_role("button", name="Co-occurrences").click()
        page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=120_000)
        assert page.locator(".wsl-unsupported").count() == 0
    finally:
        context.close()
    assert_refused_by_page_policy(outside)


def test_the_full_page_stays_one_link_away(browser, hub: Fixture, coding_world: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """The light page links to Voila's own page of the same service (?template=lab: a fresh
    kernel, Voila's frontend), where the same widget codes as the same coder."""
    context = signed_in(browser, hub)
    try:
        page = context.new_page()
        page.goto(f"{hub.base_url}/services/coding/", wait_until="commit", timeout=180_000)
        page.wait_for_selector("body[data-wsl-state=ready]", timeout=180_000)
        page.get_by_role("link", name="Page complète (graphiques) / Full page (charts)").click()
        page.wait_for_url("**/services/coding/?template=lab", timeout=60_000)
        page.wait_for_selector("[data-wsc-ready]", timeout=180_000)
        assert page.locator("script[src*='voila.js']").count() == 1  # Voila's frontend this time
        assert page.get_by_text(CODER, exact=True).is_visible()
    finally:
        context.close()
