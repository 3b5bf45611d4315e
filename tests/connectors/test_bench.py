"""The FHIR import benchmark runs (quick mode) and prints each figure against its baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fhir_import.py"


def test_quick_benchmark_reports_against_baselines() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and all("| baseline" in line and "| ratio" in line for line in lines)
    assert lines[0].startswith("fhir import 2,400 resources (200 patients)")
    assert "json_parse_rate" in lines[0] and "omop_rows 4200" in lines[0]
