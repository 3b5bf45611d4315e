"""The gateway benchmark runs end to end and prints its figures as ratios."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_gateway_benchmark_prints_a_ratio() -> None:
    """One quick run, with ``--keep-memory`` (``make bench`` runs it without; a run costs ~40 s
    on a 2-core machine)."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gateway.py"), "--quick", "--keep-memory"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    line = next(line for line in lines if line.startswith("gateway extract"))
    assert "| ratio " in line and "target <= 1.3x" in line
    paired = next(line for line in lines if line.startswith("median of the 5 rounds' own ratios"))
    assert re.search(r": \d+(\.\d+)? x  \| target <= 1.3x$", paired), paired
    assert "this process keeping its freed memory too" in paired
    parts = [line for line in lines if line.startswith("where the time goes")]
    assert len(parts) == 2 and all("| ratio " in part for part in parts)
    size = re.search(r"as bytes only \(([\d,]+) bytes", parts[0])
    assert size and int(size.group(1).replace(",", "")) > 0
    assert f"{size.group(1)} bytes through loopback" in parts[1]
