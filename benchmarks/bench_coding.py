"""Coding widget in Chromium: time to an interactive transcript and the apply-a-code round trip.

A 30,000-word interview with 1,000 codings (``_coding_world.seed``) is served by a standalone
Voila started here on a loopback port, over a throwaway SQLite store. Chromium (Debian's, through
Playwright) opens two pages of that same server:

- the real coding dashboard (``notebooks/dashboards/coding.ipynb`` with the viewer cell the hub's
  prelaunch hook would add): interactive = the widget's view has drawn every turn and every
  coding (``data-wsc-ready``), its keyboard handler is live;
- the naive baseline: the same transcript and codings as one ``ipywidgets.HTML`` with ``<mark>``
  spans, start/end boxes and an Apply button; every change rebuilds and re-sends the whole HTML.

**Open**: from navigation start to interactive, read in the page (``performance.now()``), for a
fresh kernel per visit (the dashboards service does not preheat) and, with ``--preheat``, from a
preheated kernel (what the widget itself costs once the kernel is running; each visit waits until
the pool has refilled after the previous one).

**Apply round trip**: a text range is selected in the page, then the apply is triggered (Enter
with code 1 armed in the widget; a click on Apply in the baseline) and the clock stops when the
new coding is drawn (its chip for the widget, one more ``<mark>`` for the baseline): browser →
kernel → store transaction (with its audit entry) → widget state → redraw. Median and p95 of
``--applies`` applies each; the offsets stored are checked against the text selected.

    .venv/bin/python benchmarks/bench_coding.py [--words 30000 --codings 1000 --applies 20 --opens 3]
    .venv/bin/python benchmarks/bench_coding.py --quick
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _coding_world import notebooks, seed, stored_codings, voila
from _harness import report

from workbench.settings import Settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
READY = {"coding": "() => { const e = document.querySelector('[data-wsc-ready]');"
                   " return e ? [performance.now(), +e.dataset.wscRenderMs] : null; }",
         "baseline": "() => { const e = document.querySelector('.wsb-ready mark');"
                     " const b = [...document.querySelectorAll('button')].find(x => x.textContent.includes('Apply'));"
                     " return e && b ? [performance.now(), 0] : null; }"}

# Select [a, b) of piece k's text (UTF-16 inside one node), press the key, wait for one more chip.
WIDGET_APPLY = """async ([k]) => {
  const pieces = [...document.querySelectorAll('.wsc-turn:nth-child(even) .wsc-p:not(.wsc-coded)')]
    .filter(p => p.textContent.length > 30);
  const p = pieces[k % pieces.length];
  const text = p.textContent;
  // Selection ends on code-point boundaries (never inside an emoji's surrogate pair): the expected
  // start is then the piece's code-point start plus the code points before the selection.
  const low = (i) => { const c = text.charCodeAt(i); return c >= 0xDC00 && c <= 0xDFFF; };
  const a = low(3) ? 4 : 3, b = low(25) ? 26 : 25;
  const r = document.createRange();
  r.setStart(p.firstChild, a); r.setEnd(p.firstChild, b);
  const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r);
  const root = document.querySelector('.wsc');
  const before = document.querySelectorAll('.wsc-chip').length;
  const t0 = performance.now();
  root.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  await new Promise((resolve) => {
    const check = () => document.querySelectorAll('.wsc-chip').length > before ? resolve() : requestAnimationFrame(check);
    check();
  });
  return {ms: performance.now() - t0, start: +p.dataset.s + [...text.slice(0, a)].length, quote: text.slice(a, b)};
}"""
BASELINE_APPLY = """async () => {
  const before = document.querySelectorAll('.wsb-ready mark').length;
  const b = [...document.querySelectorAll('button')].find(x => x.textContent.includes('Apply'));
  const t0 = performance.now();
  b.click();
  await new Promise((resolve) => {
    const check = () => document.querySelectorAll('.wsb-ready mark').length !== before ? resolve() : requestAnimationFrame(check);
    check();
  });
  return {ms: performance.now() - t0};
}"""


def open_page(browser: Any, url: str, kind: str, timeout_ms: float = 180_000) -> tuple[Any, float, float]:
    """The page, ms from navigation start to interactive, ms the widget's own drawing took."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    handle = page.wait_for_function(READY[kind], timeout=timeout_ms, polling="raf")
    interactive, drawing = handle.json_value()
    return page, float(interactive), float(drawing)


def wait_for_refilled_pool(base: str, timeout_s: float = 180.0) -> None:
    """Until Voila and its kernels have been quiet (< 10 % of a core) for a second: with
    ``--preheat`` the pool refills after each visit (a kernel started, the notebook run), and a
    visit arriving before that measures the refill, not the preheated page. Standalone Voila has
    no kernels API to ask, so the server's process tree is watched."""
    import time
    from urllib.parse import urlparse

    import psutil

    port = urlparse(base).port
    server = next(psutil.Process(c.pid) for c in psutil.net_connections("tcp")
                  if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid)
    deadline, quiet = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        tree = [server, *server.children(recursive=True)]
        before = sum(p.cpu_times().user + p.cpu_times().system for p in tree)
        time.sleep(0.5)
        after = sum(p.cpu_times().user + p.cpu_times().system for p in tree if p.is_running())
        quiet = quiet + 1 if after - before < 0.05 else 0
        if quiet >= 2:
            return
    raise SystemExit("Voila never went quiet: the pool did not refill")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def arm_first_code(page: Any) -> None:
    page.locator(".wsc").focus()
    page.keyboard.press("1")
    page.wait_for_function("() => document.querySelector('.wsc-code input').checked")


def widget_applies(page: Any, n: int) -> tuple[list[float], list[dict[str, Any]]]:
    arm_first_code(page)
    times, done = [], []
    for k in range(n):
        result = page.evaluate(WIDGET_APPLY, [k * 7])
        times.append(result["ms"])
        done.append(result)
    return times, done


def baseline_applies(page: Any, n: int, text_points: list[int]) -> list[float]:
    times = []
    boxes = page.locator("input[type=text]")
    for k in range(n):
        a = text_points[k % len(text_points)]
        boxes.nth(0).fill(str(a))
        boxes.nth(1).fill(str(a + 20))
        page.wait_for_timeout(0)
        times.append(page.evaluate(BASELINE_APPLY)["ms"])
    return times


def run(words: int, codings: int, applies: int, opens: int, preheat: bool) -> None:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "var")
        version_id = seed(settings, words=words, codings=codings)
        paths = notebooks(Path(tmp) / "nb", version_id)
        before = len(stored_codings(settings, version_id))
        with voila(settings, paths["coding"].parent, preheat=preheat) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            opened: dict[str, list[float]] = {"coding": [], "baseline": []}
            drawing: list[float] = []
            pages: dict[str, Any] = {}
            for round_ in range(opens + 1):  # the first visit warms the server's caches, not counted
                for kind in ("coding", "baseline"):
                    if preheat:
                        wait_for_refilled_pool(base)
                    page, ms, drawn = open_page(browser, f"{base}voila/render/{kind}.ipynb", kind)
                    if round_:
                        opened[kind].append(ms)
                        if kind == "coding":
                            drawing.append(drawn)
                    if round_ == opens:
                        pages[kind] = page
                    else:
                        page.close()
            w_times, done = widget_applies(pages["coding"], applies)
            b_times = baseline_applies(pages["baseline"], applies, [r["start"] + 400 for r in done])
            browser.close()
        rows = stored_codings(settings, version_id)
    added = rows[before:before + applies]
    exact = sum(1 for r, d in zip(added, done, strict=False) if r["start"] == d["start"] and r["quote"] == d["quote"])
    mode = "preheated kernel" if preheat else "fresh kernel per visit"
    report(f"coding: open {words}-word transcript with {codings} codings, interactive ({mode}), median",
           statistics.median(opened["coding"]) / 1000, "s", baseline=statistics.median(opened["baseline"]) / 1000,
           baseline_name="whole transcript as one ipywidgets.HTML", target="<= 1 s", opens=opens,
           worst=round(max(opened["coding"]) / 1000, 3),
           widget_drawing_ms=round(statistics.median(drawing), 1))
    report(f"coding: apply a code, round trip to redraw ({words} words, {codings} codings), median",
           statistics.median(w_times), "ms", baseline=statistics.median(b_times),
           baseline_name="whole-HTML re-render per change", target="<= 150 ms", applies=applies,
           p95=round(p95(w_times), 1), baseline_p95=round(p95(b_times), 1),
           stored_exactly=f"{exact}/{applies}", stored_total=len(rows) - before)
    if exact != applies:
        wrong = [(d["start"], d["quote"], r["start"], r["quote"]) for r, d in zip(added, done, strict=False)
                 if r["start"] != d["start"] or r["quote"] != d["quote"]]  # synthetic text: safe to print
        raise SystemExit(f"FAILED: {applies - exact} applies stored at other offsets than selected "
                         f"(selected start, quote → stored start, quote): {wrong}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--codings", type=int, default=1_000)
    parser.add_argument("--applies", type=int, default=20)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--preheat", action="store_true", help="serve from a preheated kernel")
    parser.add_argument("--quick", action="store_true", help="full-size transcript, 1 open, 5 applies")
    args = parser.parse_args()
    if args.quick:
        args.opens, args.applies = 1, 5
    run(args.words, args.codings, args.applies, args.opens, args.preheat)


if __name__ == "__main__":
    main()
