"""The trusted-party benchmark runs (quick mode) and prints every figure against its baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_trusted_party.py"


def test_quick_benchmark_reports_against_baselines() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                          text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4
    assert all("| baseline" in line and "| ratio" in line for line in lines)
    assert any(line.startswith("ttp translate 5000 study→warehouse, first") for line in lines)
