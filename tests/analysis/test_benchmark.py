"""The analysis benchmark runs end to end in its quick mode and prints ratio figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_analysis_quick() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_analysis.py"), "--quick"],
                         capture_output=True, text=True, timeout=170, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if "| ratio" in line]
    assert len(lines) == 4
    assert all("(quick)" in line and "baseline" in line for line in lines)
    assert "converged True" in run.stdout
