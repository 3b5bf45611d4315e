"""The scoring benchmark, small: vectorised QLQ-C30 scores equal the per-row loop's, reported as a ratio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_scoring_benchmark_agrees_with_the_loop_and_is_faster() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_scoring.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]  # the agreement asserts ran
    line = next(x for x in proc.stdout.splitlines() if x.startswith("score 50,000 QLQ-C30 responses"))
    assert "baseline per-row Python loop" in line
    ratio = float(re.search(r"\| ratio ([0-9.e+-]+)x", line).group(1))
    assert ratio < 1.0, line  # the vectorised path beats the loop it is checked against
