"""The signature pad in Chromium: mouse and touch-like strokes arrive normalised to the box."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PAD = Path(__file__).resolve().parents[2] / "widgets" / "signature"

HARNESS = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<style>{css}</style></head><body><div id="host" style="width:300px"></div>
<script type="module">
{js}
const state = {{strokes: [], label: "Sign here", clear_label: "Clear"}};
const listeners = {{}};
const model = {{
  get: (k) => state[k], set: (k, v) => {{ state[k] = v; }},
  save_changes: () => {{ window.saved = (window.saved || 0) + 1; }},
  on: (name, fn) => {{ listeners[name] = fn; }},
}};
window.state = state;
render({{model, el: document.getElementById("host")}});
window.ready = true;
</script></body></html>"""


def test_strokes_are_recorded_in_box_coordinates_and_clear_works(browser) -> None:  # type: ignore[no-untyped-def]
    js = (PAD / "pad.js").read_text().replace("export default { render };", "")
    page = browser.new_page(viewport={"width": 375, "height": 667})
    try:
        page.set_content(HARNESS.format(css=(PAD / "pad.css").read_text(), js=js))
        page.wait_for_function("window.ready === true")
        box = page.locator("canvas").bounding_box()
        assert box is not None and box["width"] == pytest.approx(300, abs=2)
        page.mouse.move(box["x"] + 30, box["y"] + 40)
        page.mouse.down()
        for i in range(1, 11):
            page.mouse.move(box["x"] + 30 + i * 20, box["y"] + 40 + (i % 2) * 30)
        page.mouse.up()
        strokes = page.evaluate("window.state.strokes")
        assert len(strokes) == 1 and len(strokes[0]) >= 10
        xs = [p[0] for p in strokes[0]]
        assert xs[0] == pytest.approx(30 / box["width"], abs=0.02) and max(xs) == pytest.approx(230 / box["width"], abs=0.02)
        assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in strokes[0])
        page.mouse.move(box["x"] + 10, box["y"] + 10)  # a click without movement is not a stroke
        page.mouse.down()
        page.mouse.up()
        assert len(page.evaluate("window.state.strokes")) == 1
        page.get_by_role("button", name="Clear").press("Enter")  # keyboard reachable
        assert page.evaluate("window.state.strokes") == [] and page.evaluate("window.saved") >= 2
    finally:
        page.close()
