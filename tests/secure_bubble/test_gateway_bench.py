"""The gateway benchmark runs end to end and prints its figure as a ratio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_gateway_benchmark_prints_a_ratio() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gateway.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("gateway extract"))
    assert "| ratio " in line and "target <= 1.3x" in line
    parts = [line for line in proc.stdout.splitlines() if line.startswith("where the time goes")]
    assert len(parts) == 2 and all("| ratio " in part for part in parts)
    size = re.search(r"as bytes only \(([\d,]+) bytes", parts[0])
    assert size and int(size.group(1).replace(",", "")) > 0
    assert f"{size.group(1)} bytes through loopback" in parts[1]
