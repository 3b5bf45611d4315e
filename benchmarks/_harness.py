"""Benchmark output convention: every figure is printed with the baseline it is compared to.

Machines here are noisy, so a figure means something only as a ratio against a baseline run in
the same process. Each benchmark script calls ``report`` once per figure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["report", "timed"]

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def report(
    name: str, value: float, unit: str, *, baseline: float | None = None,
    baseline_name: str = "", target: str = "", **extra: Any,
) -> None:
    """Print one figure as ``name: value unit (ratio × baseline)`` and keep it as JSON."""
    line = f"{name}: {value:.4g} {unit}"
    if baseline is not None and baseline > 0:
        line += f"  | baseline {baseline_name or 'baseline'}: {baseline:.4g} {unit}"
        line += f"  | ratio {value / baseline:.3g}x"
    if target:
        line += f"  | target {target}"
    for key, val in extra.items():
        line += f"  | {key} {val}"
    print(line, flush=True)
    RESULTS.mkdir(exist_ok=True)
    record = {"name": name, "value": value, "unit": unit, "baseline": baseline,
              "baseline_name": baseline_name, "target": target, **extra}
    with (RESULTS / "latest.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
