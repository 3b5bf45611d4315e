"""The `weshare` command: user errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("WESHARE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path))
    return tmp_path


def test_commands_before_upgrade_name_the_fix(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `weshare db upgrade`" in err


def test_malformed_database_url_is_one_line_in_a_real_process(home: Path) -> None:
    env = {**os.environ, "WESHARE_DATABASE_URL": "oops://"}
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "user", "list"], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("weshare: error: WESHARE_DATABASE_URL")
    assert "Traceback" not in proc.stderr


def test_user_lifecycle_and_audit_verify(home: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert main(["user", "add", "lea", "--role", "committee_member", "--email", "lea@x.fr"]) == 0
    out = capsys.readouterr().out
    assert "/hub/enrol?token=" in out
    assert main(["user", "grant", "lea", "data_steward"]) == 0
    assert main(["user", "revoke", "lea", "committee_member", "--reason", "term ended"]) == 0
    assert main(["user", "roles", "lea"]) == 0
    assert "data_steward" in capsys.readouterr().out
    assert main(["user", "grant", "lea", "wizard"]) == 2
    assert "unknown role 'wizard'" in capsys.readouterr().err
    assert main(["audit", "verify"]) == 0
    assert "audit chain intact" in capsys.readouterr().out


def test_totp_is_refused_outside_demo_mode(home: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WESHARE_DATABASE_URL", f"sqlite:///{home / 'prod.sqlite'}")
    monkeypatch.setenv("WESHARE_HOME", str(home / "elsewhere"))
    assert main(["db", "upgrade"]) == 0
    assert main(["demo"]) == 2
    assert "refusing to seed demo data" in capsys.readouterr().err
    assert main(["totp", "anyone"]) == 2
    assert "only works on a demo instance" in capsys.readouterr().err


def test_demo_is_idempotent_and_prints_how_to_log_in(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["demo", "--participants", "50"]) == 0
    first = capsys.readouterr().out
    assert "manager.demo" in first and "weshare totp" in first and "?access=" in first
    assert main(["demo", "--participants", "50"]) == 0
    assert "already seeded" in capsys.readouterr().out
    assert main(["totp", "manager.demo"]) == 0
    code = capsys.readouterr().out.strip()
    assert code.isdigit() and len(code) == 6
    assert main(["user", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.count(".demo") == 8
    assert main(["audit", "verify"]) == 0
