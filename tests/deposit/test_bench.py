"""The deposit benchmark runs and prints its figures as ratios against a baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_deposit_benchmark_prints_ratios() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_deposit.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("deposit ")]
    assert len(lines) == 2 and all("| ratio " in line for line in lines)
