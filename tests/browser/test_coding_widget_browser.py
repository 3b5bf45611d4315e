"""The coding widget in Chromium through Voila: a mouse selection across emoji is stored in code points.

The browser measures selections in UTF-16 code units, where 😟 counts two; the widget's
JavaScript converts them, so the store must hold exactly Python's ``text[start:end]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _coding_hub import sign_in
from _coding_world import CODER, coder_totp_secret, notebooks, seed, stored_codings, voila

from hub.testing import PASSWORD, Fixture
from tests.browser.conftest import assert_refused_by_page_policy, watch_outside_requests
from workbench.qualitative import build_transcript
from workbench.settings import Settings

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


def test_a_coder_opens_the_preheated_coding_service_through_the_hub(browser, hub: Fixture) -> None:  # type: ignore[no-untyped-def]
    """The coding service is behind hub login, and its kernel codes as the signed-in coder (a
    ticket the service minted after the hub's OAuth), under the page policy."""
    seed(hub.settings, codings=2, turns=TURNS, password=PASSWORD)
    anonymous = browser.new_context()
    try:
        page = anonymous.new_page()
        page.goto(f"{hub.base_url}/services/coding/", timeout=180_000)
        page.wait_for_url("**/hub/login**", timeout=180_000)
    finally:
        anonymous.close()
    context = browser.new_context()
    try:
        sign_in(context.new_page(), hub.base_url, CODER, coder_totp_secret(hub.settings))
        page = context.new_page()
        outside = watch_outside_requests(page, hub.base_url)
        response = page.goto(f"{hub.base_url}/services/coding/", wait_until="commit", timeout=180_000)
        assert response is not None and "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("[data-wsc-ready]", timeout=180_000)
        assert page.get_by_text(CODER, exact=True).is_visible()  # the dashboard names its viewer
        assert page.locator(".wsc-chip").count() == 2  # the coder's own codings (blind)
    finally:
        context.close()
    assert_refused_by_page_policy(outside)
