"""`weshare randomisation`: commit, allocate and verify on files; errors are one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main


@pytest.fixture
def files(kit, tmp_path: Path) -> dict[str, Path]:
    design = tmp_path / "design.json"
    design.write_text(kit.design("minimisation").to_json(), encoding="utf-8")
    return {"design": design, "commitment": tmp_path / "commitment.json", "log": tmp_path / "log.jsonl"}


def _allocate(files: dict[str, Path], who: str, site: str, *extra: str) -> int:
    return main(["randomisation", "allocate", str(files["design"]), str(files["commitment"]),
                 str(files["log"]), who, "--level", f"site={site}", "--level", "stage=II",
                 "--actor", "inv1", *extra])


def test_commit_allocate_verify_round_trip(files, capsys) -> None:
    assert main(["randomisation", "commit", str(files["design"]), "--out", str(files["commitment"])]) == 0
    digest = json.loads(files["commitment"].read_text())["digest"]
    assert digest in capsys.readouterr().out
    assert main(["randomisation", "commit", str(files["design"]), "--out", str(files["commitment"])]) == 2
    assert "made once" in capsys.readouterr().err
    assert _allocate(files, "P1", "IGR", "--eligible", "--role", "study_manager") == 0
    assert "masqué" in capsys.readouterr().out
    assert _allocate(files, "P2", "CLB", "--eligible", "--role", "data_steward") == 0
    out = capsys.readouterr().out
    assert "Randomised: A" in out or "Randomised: B" in out
    assert main(["randomisation", "correct", str(files["design"]), str(files["commitment"]), str(files["log"]),
                 "P1", "--level", "site=IGR", "--level", "stage=III", "--reason", "stage misread at entry",
                 "--actor", "dm1"]) == 0
    assert "arm is unchanged" in capsys.readouterr().out
    assert main(["randomisation", "verify", str(files["design"]), str(files["commitment"]),
                 str(files["log"])]) == 0
    assert "3 log records intact" in capsys.readouterr().out


def test_refusals_and_tampering_are_one_line_exit_2(files, capsys) -> None:
    main(["randomisation", "commit", str(files["design"]), "--out", str(files["commitment"])])
    _allocate(files, "P1", "IGR", "--eligible")
    capsys.readouterr()
    before = files["log"].read_text()
    assert _allocate(files, "P2", "IGR") == 2  # not --eligible
    assert _allocate(files, "P1", "IGR", "--eligible") == 2
    assert _allocate(files, "P3", "Lyon", "--eligible") == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "eligible" in err[0] and "already randomised" in err[1] and "'Lyon'" in err[2]
    assert files["log"].read_text() == before
    record = json.loads(before)
    record["arm"] = "B" if record["arm"] == "A" else "A"
    files["log"].write_text(json.dumps(record) + "\n")
    assert main(["randomisation", "verify", str(files["design"]), str(files["commitment"]),
                 str(files["log"])]) == 2
    assert "NOT verified at allocation 1" in capsys.readouterr().err


def test_real_process_shows_no_traceback(files) -> None:
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "randomisation", "verify",
                           str(files["design"]), str(files["commitment"]), str(files["log"])],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "commitment" in done.stderr
