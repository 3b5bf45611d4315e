"""Coding widget in Chromium: time to an interactive transcript and the apply-a-code round trip.

A 30,000-word interview with 1,000 codings (``_coding_world.seed``) over a throwaway SQLite store.
Chromium (Debian's, through Playwright) opens the real coding dashboard
(``notebooks/dashboards/coding.ipynb``) and the naive baseline: the same transcript and codings as
one ``ipywidgets.HTML`` with ``<mark>`` spans, start/end boxes and an Apply button, every change
rebuilding and re-sending the whole HTML (served by a standalone Voila, preheated with ``--hub``
and ``--preheat``).

**Open**: from navigation start (redirects included) to interactive, read in the page
(``performance.now()``): the widget has drawn its first screenful of turns with their codings and
its keyboard handler is live (``data-wsc-ready``); the rest of the turns are drawn in background
slices, reported as ``complete_ms``. Three ways to serve the dashboard:

- ``--hub`` (what a coder gets): a live hub as ``make up`` starts it; the coder signs in (password
  + TOTP) and opens the coding service (``hub.coding_service``: preheated standalone Voila behind
  hub login, the viewer passed to the kernel as a signed ticket after the request, and its light
  page: a small client of its own instead of Voila's lab frontend, ``hub/coding_voila/share``).
  *Repeat visit*: the coder's browser has opened the page before (HTTP cache, service cookie);
  *first visit*: signed in to the hub, never opened the page (OAuth round with the hub, empty
  cache). The dashboards service's copy (Voila's lab frontend, a fresh kernel per visit: what
  coders got before the coding service) is timed too. The light page marks when its kernel
  websocket opened and when the widgets' states arrived (``wsl-open``, ``wsl-states``): reported
  as medians, they say where an open's time went.
- default / ``--preheat``: a standalone Voila with the viewer cell written into the notebook (what
  ``hub.voila_hooks`` does), fresh kernel per visit or preheated; a new browser context per visit.

**Apply round trip**: a text range is selected in the page, then the apply is triggered (Enter
with code 1 armed in the widget; a click on Apply in the baseline) and the clock stops when the
new coding is drawn (its chip for the widget, one more ``<mark>`` for the baseline): browser →
kernel → store transaction (with its audit entry) → widget state → redraw. Median and p95 of
``--applies`` applies each; the offsets stored are checked against the text selected.

    flock /tmp/weshare-bench.lock .venv/bin/python benchmarks/bench_coding.py --hub --opens 5
    .venv/bin/python benchmarks/bench_coding.py [--preheat] [--words 30000 --codings 1000 --applies 20 --opens 3]
    .venv/bin/python benchmarks/bench_coding.py --quick
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _coding_hub import copy_hub_login, service_process, sign_in, wait_until_quiet
from _coding_world import CODER, coder_totp_secret, notebooks, seed, stored_codings, voila
from _harness import report

from workbench.settings import Settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 900}
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


COMPLETE = "() => { const e = document.querySelector('[data-wsc-complete]'); return e ? +e.dataset.wscCompleteMs : null; }"
MARKS = "() => Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime]))"


def open_in(context: Any, url: str, kind: str, timeout_ms: float = 180_000) -> tuple[Any, float, float]:
    """The page, ms from navigation start to interactive, ms the widget's own first drawing took."""
    page = context.new_page()
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    handle = page.wait_for_function(READY[kind], timeout=timeout_ms, polling="raf")
    interactive, drawing = handle.json_value()
    return page, float(interactive), float(drawing)


def open_page(browser: Any, url: str, kind: str, timeout_ms: float = 180_000) -> tuple[Any, float, float]:
    """As ``open_in``, in a context of its own (an empty cache: a first visit)."""
    return open_in(browser.new_context(viewport=VIEWPORT), url, kind, timeout_ms)


def complete_ms(page: Any) -> float:
    """Ms from the widget's render to its last turn drawn (background slices after interactive)."""
    return float(page.wait_for_function(COMPLETE, timeout=120_000, polling=100).json_value())


def wait_for_refilled_pool(base: str, timeout_s: float = 180.0) -> None:
    """Until the standalone Voila at ``base`` and its kernels are quiet (``wait_until_quiet``)."""
    from urllib.parse import urlparse

    import psutil

    port = urlparse(base).port
    server = next(psutil.Process(c.pid) for c in psutil.net_connections("tcp")
                  if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid)
    wait_until_quiet(server, timeout_s)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def arm_first_code(page: Any) -> None:
    page.locator(".wsc").focus()
    page.keyboard.press("1")
    page.wait_for_function("() => document.querySelector('.wsc-code input').checked")


def widget_applies(page: Any, n: int) -> tuple[list[float], list[dict[str, Any]]]:
    page.bring_to_front()  # a background tab's animation frames are throttled to ~1 s
    arm_first_code(page)
    times, done = [], []
    for k in range(n):
        result = page.evaluate(WIDGET_APPLY, [k * 7])
        times.append(result["ms"])
        done.append(result)
    return times, done


def baseline_applies(page: Any, n: int, text_points: list[int]) -> list[float]:
    times = []
    page.bring_to_front()
    boxes = page.locator("input[type=text]")
    for k in range(n):
        a = text_points[k % len(text_points)]
        boxes.nth(0).fill(str(a))
        boxes.nth(1).fill(str(a + 20))
        page.wait_for_timeout(0)
        times.append(page.evaluate(BASELINE_APPLY)["ms"])
    return times


def check_stored(settings: Settings, version_id: int, before: int, done: list[dict[str, Any]]) -> tuple[str, int]:
    """``exact/applies`` stored at exactly the selected code points, and how many were stored."""
    rows = stored_codings(settings, version_id)
    added = rows[before:before + len(done)]
    exact = sum(1 for r, d in zip(added, done, strict=False) if r["start"] == d["start"] and r["quote"] == d["quote"])
    if exact != len(done):
        wrong = [(d["start"], d["quote"], r["start"], r["quote"]) for r, d in zip(added, done, strict=False)
                 if r["start"] != d["start"] or r["quote"] != d["quote"]]  # synthetic text: safe to print
        raise SystemExit(f"FAILED: {len(done) - exact} applies stored at other offsets than selected "
                         f"(selected start, quote → stored start, quote): {wrong}")
    return f"{exact}/{len(done)}", len(rows) - before


def report_applies(words: int, codings: int, w_times: list[float], b_times: list[float], stored: tuple[str, int],
                   where: str) -> None:
    report(f"coding: apply a code, round trip to redraw ({words} words, {codings} codings{where}), median",
           statistics.median(w_times), "ms", baseline=statistics.median(b_times),
           baseline_name="whole-HTML re-render per change", target="<= 150 ms", applies=len(w_times),
           p95=round(p95(w_times), 1), baseline_p95=round(p95(b_times), 1),
           stored_exactly=stored[0], stored_total=stored[1])


def report_open(label: str, coding: list[float], baseline: list[float], baseline_name: str, **extra: Any) -> None:
    report(label, statistics.median(coding) / 1000, "s", baseline=statistics.median(baseline) / 1000,
           baseline_name=baseline_name, target="<= 1 s", opens=len(coding), p95=round(p95(coding) / 1000, 3),
           worst=round(max(coding) / 1000, 3), baseline_p95=round(p95(baseline) / 1000, 3),
           load_avg_1min=round(os.getloadavg()[0], 2), **extra)  # the machine is shared: say how busy


def run(words: int, codings: int, applies: int, opens: int, preheat: bool) -> None:
    """Standalone Voila, the viewer written into the notebook; a new browser context per visit."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "var")
        version_id = seed(settings, words=words, codings=codings)
        paths = notebooks(Path(tmp) / "nb", version_id)
        before = len(stored_codings(settings, version_id))
        with voila(settings, paths["coding"].parent, preheat=preheat) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
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
                        page.context.close()
            done_ms = complete_ms(pages["coding"])
            w_times, done = widget_applies(pages["coding"], applies)
            b_times = baseline_applies(pages["baseline"], applies, [r["start"] + 400 for r in done])
            browser.close()
        stored = check_stored(settings, version_id, before, done)
    mode = "preheated kernel" if preheat else "fresh kernel per visit"
    report_open(f"coding: open {words}-word transcript with {codings} codings, interactive "
                f"(standalone Voila, {mode}, first visit), median", opened["coding"], opened["baseline"],
                "whole transcript as one ipywidgets.HTML", widget_drawing_ms=round(statistics.median(drawing), 1),
                complete_ms=round(done_ms, 1))
    report_applies(words, codings, w_times, b_times, stored, "")


def run_hub(words: int, codings: int, applies: int, opens: int) -> None:
    """Through a live hub, signed in as the coder: the coding service (repeat and first visits),
    the dashboards service's copy (fresh kernel), and the naive baseline (preheated standalone)."""
    from playwright.sync_api import sync_playwright

    from hub.testing import PASSWORD, live_hub

    with tempfile.TemporaryDirectory() as tmp, live_hub(Path(tmp) / "var") as (fixture, hub_process):
        settings, hub = fixture.settings, fixture.base_url
        version_id = seed(settings, words=words, codings=codings, password=PASSWORD)
        paths = notebooks(Path(tmp) / "nb", version_id)
        before = len(stored_codings(settings, version_id))
        coding_server = service_process(hub_process.pid, "--base_url=/services/coding/")
        urls = {"service": f"{hub}/services/coding/",
                "dashboards": f"{hub}/services/dashboards/voila/render/coding.ipynb"}
        with voila(settings, paths["coding"].parent, preheat=True) as base, sync_playwright() as p:
            urls["baseline"] = f"{base}voila/render/baseline.ipynb"
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            coder = browser.new_context(viewport=VIEWPORT)  # the coder's browser: cache and cookies kept
            sign_in(coder.new_page(), hub, CODER, coder_totp_secret(settings))
            times: dict[str, list[float]] = {k: [] for k in
                                             ("service", "service_first", "dashboards", "baseline", "baseline_first")}
            drawing: list[float] = []
            marks: dict[str, list[float]] = {"wsl-open": [], "wsl-states": []}
            for round_ in range(opens + 1):  # round 0 warms caches (server and the coder's browser)
                for name, kind, first in [("service", "coding", False), ("service_first", "coding", True),
                                          ("baseline", "baseline", False), ("baseline_first", "baseline", True),
                                          ("dashboards", "coding", False)]:
                    url = urls[name.removesuffix("_first")]
                    wait_until_quiet(coding_server)
                    wait_for_refilled_pool(base)
                    context = browser.new_context(viewport=VIEWPORT) if first else coder
                    if first and kind == "coding":
                        copy_hub_login(coder, context)
                    page, ms, drawn = open_in(context, url, kind)
                    if round_:
                        times[name].append(ms)
                        if name == "service":
                            drawing.append(drawn)
                            seen = page.evaluate(MARKS)
                            for mark, values in marks.items():
                                values.append(float(seen.get(mark, "nan")))
                    if round_ == opens and name in ("service", "baseline"):
                        continue  # kept open for the applies
                    page.close()
                    if first:
                        context.close()
            service_page = next(pg for pg in coder.pages if pg.url.startswith(urls["service"]))
            baseline_page = next(pg for pg in coder.pages if pg.url.startswith(urls["baseline"]))
            done_ms = complete_ms(service_page)
            for server in (coding_server, service_process(hub_process.pid, "dashboards_server_config.py")):
                wait_until_quiet(server)  # pools refilled, the last fresh kernel done: a coder at work
            w_times, done = widget_applies(service_page, applies)
            b_times = baseline_applies(baseline_page, applies, [r["start"] + 400 for r in done])
            browser.close()
        stored = check_stored(settings, version_id, before, done)
    label = f"coding: open {words}-word transcript with {codings} codings through the hub, interactive"
    naive = "whole transcript as one ipywidgets.HTML (preheated standalone Voila)"
    report_open(f"{label} (coding service, light page, repeat visit), median", times["service"], times["baseline"],
                f"{naive}, repeat visit", widget_drawing_ms=round(statistics.median(drawing), 1),
                complete_ms=round(done_ms, 1), kernel_socket_open_ms=round(statistics.median(marks["wsl-open"]), 1),
                widget_states_ms=round(statistics.median(marks["wsl-states"]), 1))
    report_open(f"{label} (coding service, light page, first visit: OAuth with the hub, empty cache), median",
                times["service_first"], times["baseline_first"], f"{naive}, first visit")
    report_open(f"{label} (dashboards service, Voila's lab frontend, fresh kernel per visit), median",
                times["dashboards"], times["baseline"], f"{naive}, repeat visit")
    report_applies(words, codings, w_times, b_times, stored, ", coding service through the hub")


def chromium() -> str:
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    return executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--codings", type=int, default=1_000)
    parser.add_argument("--applies", type=int, default=20)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--preheat", action="store_true", help="standalone Voila, preheated kernel")
    parser.add_argument("--hub", action="store_true", help="through a live hub, as a signed-in coder")
    parser.add_argument("--quick", action="store_true", help="full-size transcript, 1 open, 5 applies")
    args = parser.parse_args()
    if args.quick:
        args.opens, args.applies = 1, 5
    if args.hub:
        run_hub(args.words, args.codings, args.applies, args.opens)
    else:
        run(args.words, args.codings, args.applies, args.opens, args.preheat)


if __name__ == "__main__":
    main()
