"""The agreement benchmark runs end to end (its own cross-check against the naive baseline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_agreement_quick() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_agreement.py"),
                             "--quick"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "baseline naive pure-Python pairwise loop" in result.stdout
    assert "| ratio " in result.stdout
