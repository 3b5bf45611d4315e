"""The consent PDF benchmark runs and prints its figure as a ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_consent_benchmark_prints_a_ratio() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_consent.py"), "--quick"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| ratio " in proc.stdout and proc.stdout.startswith("consent PDF")
