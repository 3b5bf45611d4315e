"""The forms benchmark, small: forms reached over HTTP + websocket, and submits surviving SIGKILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_forms_benchmark_reports_ratios_and_loses_no_acknowledged_submit() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_forms.py"), "--quick"],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("forms: time to interactive form p95") and "| ratio " in line for line in lines)
    crash = next(line for line in lines if "SIGKILLed and restarted" in line)
    assert "| acknowledged_but_missing 0 " in crash and "| duplicates 0 " in crash
    assert "| acknowledged_before_kill 0 " not in crash  # the kill did come midway
