"""Randomisation through the store: sealed design, concealment, refusals, verify from the study code."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from workbench import audit
from workbench.errors import ConfigError, ConflictError, ValidationError
from workbench.keys import load_or_create_key
from workbench.participants.models import Participant
from workbench.randomisation.store import (
    AllocationRow,
    randomise,
    setup_randomisation,
    unblind,
    verify_study,
    view,
)
from workbench.storage.engine import session_scope
from workbench.studies import service as studies


@pytest.fixture
def trial(engine: Engine, kit, tmp_path: Path) -> bytes:  # type: ignore[no-untyped-def]
    key = load_or_create_key(tmp_path / "secret.key")
    with session_scope(engine) as s:
        st = studies.create_study(s, "QOL-01", "Trial", actor="sm", design="interventional")
        s.add_all([Participant(study_id=st.id, pseudonym=f"P{i:04d}", inclusion_date=date(2026, 3, 1))
                   for i in range(12)])
        setup_randomisation(s, "QOL-01", kit.design("minimisation"), key=key, actor="stat",
                            now=kit.T0)
    return key


def _p(s, name: str) -> Participant:  # type: ignore[no-untyped-def]
    return s.execute(select(Participant).where(Participant.pseudonym == name)).scalar_one()


def test_allocate_conceal_and_verify(engine: Engine, trial: bytes, kit) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        for i in range(10):
            shown = randomise(s, "QOL-01", _p(s, f"P{i:04d}"), {"site": "IGR", "stage": "II"}, eligible=True,
                              key=trial, actor="inv1", roles={"investigator"},
                              now=kit.T0 + timedelta(minutes=i + 1))
            assert shown.arm is None  # investigators stay blind
        assert view(s, "QOL-01", "P0003", key=trial, roles={"data_steward"}).arm in {"A", "B"}
        assert view(s, "QOL-01", "P0003", key=trial, roles={"investigator", "study_manager"}).arm is None
        with pytest.raises(ConflictError, match="already randomised"):
            randomise(s, "QOL-01", _p(s, "P0001"), {"site": "IGR", "stage": "II"}, eligible=True,
                      key=trial, actor="inv1", roles=set(), now=kit.T0 + timedelta(hours=1))
        with pytest.raises(ValidationError, match="not confirmed eligible"):
            randomise(s, "QOL-01", _p(s, "P0011"), {"site": "IGR", "stage": "II"}, eligible=False,
                      key=trial, actor="inv1", roles=set(), now=kit.T0 + timedelta(hours=1))
        entries = s.execute(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "randomisation.allocate")).scalars().all()
        assert len(entries) == 10 and all("arm" not in e.after for e in entries)
        assert verify_study(s, "QOL-01", key=trial).ok


def test_tampering_is_detected(engine: Engine, trial: bytes, kit) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        for i in range(4):
            randomise(s, "QOL-01", _p(s, f"P{i:04d}"), {"site": "CLB", "stage": "I"}, eligible=True,
                      key=trial, actor="inv1", roles=set(), now=kit.T0 + timedelta(minutes=i + 1))
    with engine.begin() as conn:  # someone deletes the newest allocation directly in the database
        conn.execute(text("DELETE FROM allocations WHERE seq = 4"))
    with session_scope(engine) as s:
        report = verify_study(s, "QOL-01", key=trial)
        assert not report.ok
        with pytest.raises(ConflictError, match="suspended"):
            randomise(s, "QOL-01", _p(s, "P0009"), {"site": "CLB", "stage": "I"}, eligible=True,
                      key=trial, actor="inv1", roles=set(), now=kit.T0 + timedelta(hours=1))


def test_wrong_key_and_unblinding(engine: Engine, trial: bytes, kit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        randomise(s, "QOL-01", _p(s, "P0000"), {"site": "IPC", "stage": "III"}, eligible=True,
                  key=trial, actor="inv1", roles=set(), now=kit.T0 + timedelta(minutes=1))
        other = load_or_create_key(tmp_path / "other.key")
        with pytest.raises(ConfigError, match="cannot open"):
            verify_study(s, "QOL-01", key=other)
        design = kit.design("minimisation")
        role = sorted(design.unblind_roles)[0]
        arm = unblind(s, "QOL-01", "P0000", key=trial, roles={role}, actor="dr.who",
                      reason="Severe adverse event needing the treatment known")
        assert arm in design.arm_names
        entry = s.execute(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "randomisation.emergency_unblind")).scalar_one()
        assert arm not in str(entry.after)
        assert s.execute(select(AllocationRow)).scalars().first().record["arm"] == arm


def test_cli_verify_study(tmp_path: Path, kit, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                          capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main
    from workbench.settings import Settings
    from workbench.storage.engine import make_engine
    from workbench.storage.migrate import upgrade

    monkeypatch.setenv("WESHARE_HOME", str(tmp_path))
    cfg = Settings(home=tmp_path)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    key = load_or_create_key(cfg.secret_key_file)
    with session_scope(engine) as s:
        st = studies.create_study(s, "QOL-01", "Trial", actor="sm", design="interventional")
        s.add(Participant(study_id=st.id, pseudonym="P0000", inclusion_date=date(2026, 3, 1)))
        s.flush()
        setup_randomisation(s, "QOL-01", kit.design("blocks"), key=key, actor="stat", now=kit.T0)
        randomise(s, "QOL-01", _p(s, "P0000"), {"site": "IGR", "stage": "I"}, eligible=True, key=key,
                  actor="inv1", roles=set(), now=kit.T0 + timedelta(minutes=1))
    assert main(["randomisation", "verify", "QOL-01"]) == 0
    assert "1 log records intact" in capsys.readouterr().out
    with engine.begin() as conn:  # flip the stored arm, as a forger with database access would
        record = json.loads(conn.execute(text("SELECT record FROM allocations")).scalar_one())
        record["arm"] = "B" if record["arm"] == "A" else "A"
        conn.execute(text("UPDATE allocations SET record = :r"), {"r": json.dumps(record)})
    engine.dispose()
    assert main(["randomisation", "verify", "qol-01"]) == 2
    assert "NOT verified at allocation 1" in capsys.readouterr().err
