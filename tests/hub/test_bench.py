"""The hub benchmark's quick mode runs and prints its figure against a baseline."""

from __future__ import annotations

import subprocess
import sys

from hub.services import REPO_ROOT


def test_bench_hub_quick_prints_a_ratio() -> None:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "bench_hub.py"), "--quick"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("hub login check"))
    assert "baseline bare argon2 password check" in line and "ratio" in line
