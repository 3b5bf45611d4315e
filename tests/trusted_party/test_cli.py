"""`weshare ttp`: init, verify, reidentify (allowed purposes only), purposes, reviews, rotation."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest

from workbench.audit import AuditEntry
from workbench.cli import main
from workbench.settings import load_settings
from workbench.storage.engine import session_scope
from workbench.trusted_party import Identity, open_trusted_party


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("WESHARE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("USER", "tester")
    return tmp_path / "var"


def test_init_verify_reidentify(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ttp", "init"]) == 0
    out = capsys.readouterr().out
    key = home / "ttp-master.key"
    assert "initialised" in out and str(key) in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "trusted_party.sqlite").stat().st_mode) == 0o600
    assert main(["ttp", "init"]) == 0 and "nothing changed" in capsys.readouterr().out

    with open_trusted_party(load_settings(), key) as tp:
        p = tp.register_person(Identity("Odile", "Faure", date(1948, 7, 1), "F",
                                        email="odile@example.org"), actor="clerk").person
        code = tp.pseudonym(p, "study:ABC", actor="dm")

    assert main(["ttp", "reidentify", code.lower(), "--domain", "study:ABC",
                 "--purpose", "safety_alert"]) == 0
    out = capsys.readouterr().out
    assert "Odile Faure" in out and "1948-07-01" in out and "odile@example.org" in out

    assert main(["ttp", "reidentify", code, "--domain", "study:ABC", "--purpose", "research"]) == 2
    captured = capsys.readouterr()
    assert "Odile" not in captured.out + captured.err and "not allowed" in captured.err

    assert main(["ttp", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit chain intact" in out and "1 person(s)" in out

    with open_trusted_party(load_settings(), key) as tp, session_scope(tp.engine) as s:
        actors = {e.actor for e in s.query(AuditEntry).filter(
            AuditEntry.action.like("ttp.reidentify%"))}
    assert actors == {"cli:tester"}


def test_rotation_and_key_errors_are_one_line(home: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["ttp", "verify"]) == 2
    assert "no trusted-party master key" in capsys.readouterr().err
    assert main(["ttp", "init"]) == 0
    new = tmp_path / "new.key"
    assert main(["ttp", "rotate-master", "--new-key", str(new)]) == 0
    capsys.readouterr()
    assert main(["ttp", "verify"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not the key of this trusted-party store" in err
    assert main(["ttp", "verify", "--master-key", str(new)]) == 0
    monkeypatch.setenv("WESHARE_TTP_MASTER_KEY", str(new))
    assert main(["ttp", "verify"]) == 0


def test_purposes_listed_in_both_languages(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ttp", "purposes"]) == 0
    out = capsys.readouterr().out
    assert "safety_alert" in out and "alerte de sécurité" in out and "new_study_invitation" in out
