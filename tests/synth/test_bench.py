"""The benchmark's smoke run works and prints its figure against the loop baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_synth_quick_runs() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_synth.py"), "--quick"],
                          capture_output=True, text=True, check=False, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("synth answer rows/s, 5,000 participants:")
    assert "baseline per-participant loop (200, best of 2)" in line and "ratio" in line
