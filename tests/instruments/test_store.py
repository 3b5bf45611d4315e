"""Imports are all or nothing; licensed texts; submits are checked, scored and raise alerts."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from workbench.cli import main
from workbench.errors import ConfigError, ConflictError, ValidationError
from workbench.instruments.library import get_library_instrument, require_texts
from workbench.instruments.store import (
    InstrumentRecord,
    available_instruments,
    get_instrument,
    import_file,
    load_licensed_texts,
)
from workbench.participants.drafts import load_draft, save_draft
from workbench.participants.models import Participant, Response
from workbench.participants.submit import submit_response
from workbench.storage.engine import session_scope
from workbench.studies import alerts
from workbench.studies import service as studies
from workbench.studies.models import Alert

from .test_formats import FIXTURE


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_dictionary_import_stores_every_form_or_none(engine: Engine, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(FIXTURE, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(FIXTURE.replace("help_contact,phq9,,yesno", "help_contact,phq9,,matrix"), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"bad\.csv, row 10"), session_scope(engine) as s:
        import_file(s, bad, actor="sm")
    assert _count(engine, InstrumentRecord) == 0
    with session_scope(engine) as s:
        instruments, _ = import_file(s, good, actor="sm")
    assert [i.id for i in instruments] == ["baseline", "phq9"]
    with session_scope(engine) as s:
        assert get_instrument(s, "phq9").item("phq9_total").calculation == "sum([phq9_1],[phq9_9])"
        assert {"baseline", "phq9", "qlq-c30"} <= {row[0] for row in available_instruments(s)}
        with pytest.raises(ConflictError, match="already stored"):
            import_file(s, good, actor="sm")


def test_licensed_texts_are_loaded_from_the_licensees_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="load the licensee's texts"):
        require_texts(get_library_instrument("qlq-c30"))
    texts = {"instrument": "qlq-c30", "items": {
        f"q{i}": {"label": {"en": f"[licensed item {i}]"}, "choices": {"1": {"en": "[not at all]"}}}
        for i in range(1, 31)}}
    path = tmp_path / "qlq.json"
    path.write_text(json.dumps({**texts, "items": {k: v for k, v in texts["items"].items() if k != "q30"}}))
    with pytest.raises(ValidationError, match="texts missing for 1 items, first q30"), session_scope(engine) as s:
        load_licensed_texts(s, "qlq-c30", path, actor="admin")
    path.write_text(json.dumps(texts))
    with session_scope(engine) as s:
        load_licensed_texts(s, "qlq-c30", path, actor="admin")
    with session_scope(engine) as s:
        loaded = get_instrument(s, "qlq-c30")
    require_texts(loaded)
    assert loaded.item("q7").label == {"en": "[licensed item 7]"} and loaded.scoring == "qlq-c30"
    assert loaded.item("q1").choices[0].label == {"en": "[not at all]"}


@pytest.fixture
def patient(engine: Engine) -> int:
    with session_scope(engine) as s:
        study = studies.create_study(s, "SCORE", "Scoring study", actor="sm")
        studies.add_event(s, study, "BL", "Baseline", 0, actor="sm", instruments=["phq-9", "qlq-c30"])
        alerts.add_rule(s, "SCORE", instrument_id="phq-9", variable="q9", kind="above", threshold=0,
                        label="PHQ-9 item 9 > 0", actor="sm")
        alerts.add_rule(s, "SCORE", instrument_id="phq-9", variable="TOTAL", kind="above", threshold=19,
                        label="Severe depression", actor="sm", severity="medium")
        person = Participant(study_id=study.id, pseudonym="P-SCORE001", inclusion_date=date.today(), language="en")
        s.add(person)
        s.flush()
        return person.id


def test_submit_checks_scores_and_raises_item9_alert(engine: Engine, patient: int) -> None:
    with pytest.raises(ValidationError, match=r"phq-9, item 'q3': Please answer"):
        submit_response(engine, patient, "BL", "phq-9", {"q1": 1, "q2": 1}, uuid.uuid4().hex)
    with pytest.raises(ValidationError, match=r"item 'q1': Choose one"):
        submit_response(engine, patient, "BL", "phq-9", {f"q{i}": 7 for i in range(1, 10)}, uuid.uuid4().hex)
    assert _count(engine, Response) == 0
    key = uuid.uuid4().hex
    with session_scope(engine) as s:
        save_draft(s, patient, "BL", "phq-9", {"q1": 3}, 1, key)
    answers = {f"q{i}": v for i, v in enumerate([3, 3, 2, 2, 2, 1, 1, 0, 1], start=1)}
    receipt = submit_response(engine, patient, "BL", "phq-9", answers, key)
    with session_scope(engine) as s:
        stored = s.get(Response, receipt.response_id)
        assert stored.answers["_scores"] == {"TOTAL": 15.0, "SEVERITY": "moderately severe",
                                             "ITEM9_FLAG": 1.0, "MISSING": 0.0}
        assert load_draft(s, patient, "BL", "phq-9") is None  # cleared with the commit
        queue = alerts.open_alerts(s, "SCORE")
        assert [(rule.label, alert.value) for alert, rule, _ in queue] == [("PHQ-9 item 9 > 0", 1.0)]
    assert _count(engine, Alert) == 1


def test_cli_imports_checks_and_exports(settings, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WESHARE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WESHARE_HOME", str(settings.home))
    source = tmp_path / "dictionary.csv"
    source.write_text(FIXTURE, encoding="utf-8")
    assert main(["instrument", "import", str(source), "--dry-run"]) == 0
    assert "checked phq9" in capsys.readouterr().out
    assert main(["instrument", "import", str(source)]) == 0
    assert "imported baseline" in capsys.readouterr().out
    out = tmp_path / "phq9.json"
    assert main(["instrument", "export", "phq9", "--format", "fhir-r5", "-o", str(out)]) == 0
    resource = json.loads(out.read_text())
    assert resource["resourceType"] == "Questionnaire" and resource["item"][0]["type"] == "coding"
    assert main(["instrument", "export", "phq-9", "--format", "redcap", "-o", str(tmp_path / "phq.csv")]) == 0
    assert main(["instrument", "import", str(tmp_path / "missing.txt")]) == 2
    assert "REDCap data dictionary (.csv)" in capsys.readouterr().err


def test_demo_responses_carry_scores_and_recent_alerts(engine: Engine, tmp_path: Path) -> None:
    from workbench.demo import seed_demo
    from workbench.settings import Settings
    from workbench.trusted_party import init_store, open_trusted_party

    cfg = Settings(home=tmp_path)
    init_store(cfg, actor="test")
    tp = open_trusted_party(cfg)
    with session_scope(engine) as s:
        seed_demo(s, tp, participants=60, seed=4)
    tp.close()
    with session_scope(engine) as s:
        stored = s.execute(select(Response).where(Response.instrument_id == "qlq-c30")).scalars().all()
        assert stored and all("SUMMARY" in r.answers["_scores"] for r in stored)
        assert s.execute(select(func.count()).select_from(alerts.AlertRule)).scalar_one() == 3
