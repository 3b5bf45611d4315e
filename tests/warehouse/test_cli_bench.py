"""`weshare warehouse …` end to end on a DuckDB file, and the benchmark's smoke run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_cli_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path))
    assert main(["warehouse", "init"]) == 0
    assert "119 concepts" in capsys.readouterr().out
    assert main(["warehouse", "init"]) == 0
    assert "already loaded" in capsys.readouterr().out
    assert main(["warehouse", "sample", "--persons", "120", "--chunk", "50"]) == 0
    assert "120 persons" in capsys.readouterr().out
    assert main(["warehouse", "counts"]) == 0
    counts = capsys.readouterr().out.splitlines()
    assert ["person", "120"] in [line.split() for line in counts]
    assert ["cdm_source", "1"] in [line.split() for line in counts]
    report = tmp_path / "dq.json"
    assert main(["warehouse", "check", "--output", str(report), "--strict"]) == 0
    assert ", 0 failed" in capsys.readouterr().out
    assert json.loads(report.read_text())["Overview"]["countFailed"] == 0
    study = tmp_path / "study.json"
    study.write_text(json.dumps({
        "identifier": "WS-1", "title": "QdV", "description": "d", "publisher": "CLCC",
        "contact_email": "dm@example.org", "start": "2020-01-01", "keywords": ["qol"]}))
    assert main(["warehouse", "describe", "--study", str(study), "--out", str(tmp_path / "cat")]) == 0
    record = json.loads((tmp_path / "cat" / "dataset.jsonld").read_text())
    assert record["@graph"][0]["dct:temporal"]["dcat:startDate"]["@value"] == "2020-01-01"
    assert (tmp_path / "cat" / "datapackage.json").exists()


def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path))
    assert main(["warehouse", "--url", "sqlite:///x.db", "init"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not supported" in err
    assert main(["warehouse", "init"]) == 0
    assert main(["warehouse", "load-vocabulary", str(tmp_path / "none")]) == 2
    assert "CONCEPT.csv" in capsys.readouterr().err
    bad = tmp_path / "study.json"
    bad.write_text(json.dumps({"identifier": "x", "title": "t", "description": "d",
                               "publisher": "p", "contact_email": "nope"}))
    assert main(["warehouse", "describe", "--study", str(bad), "--out", str(tmp_path)]) == 2
    assert "contact_email" in capsys.readouterr().err


@pytest.mark.slow
def test_benchmark_quick_run() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_warehouse.py"),
                           "--quick"], capture_output=True, text=True, timeout=170, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if "|" in line]
    assert len(lines) == 6 and "operational SQLite store" in lines[5]
    assert "rows/CPU-s" in lines[2] and "ratio" in lines[2]
    assert "hand-written DuckDB SQL" in lines[3] and "ratio" in lines[3]
