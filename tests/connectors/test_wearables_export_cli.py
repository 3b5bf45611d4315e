"""Wearable exports, the participant's FHIR bundle for data portability, and `weshare import`."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.engine import Engine

from workbench.cli import main
from workbench.connectors import (
    import_fhir,
    import_wearables,
    participant_bundle,
    sitting_covariates,
)
from workbench.connectors.state import samples
from workbench.connectors.synthetic import synthetic_bundle, wearable_csv, wearable_fitbit_json
from workbench.participants.models import Participant, Response
from workbench.settings import Settings
from workbench.storage.engine import make_engine, session_scope
from workbench.studies.service import create_study
from workbench.trusted_party import Identity, TrustedParty
from workbench.warehouse import connect, create_schema, load_mini_vocabulary
from workbench.warehouse.schema import metadata


def _hospital_patient(warehouse: Engine, tp: TrustedParty, tmp_path: Path, study: str = "S1") -> tuple[str, date]:
    """Import one patient's hospital bundle (with a PHQ-9 total), enrol them in a study; return
    their study pseudonym and the day they answered the PHQ-9."""
    bundle = synthetic_bundle(1, seed=11)
    qr = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    qr["item"].append({"linkId": "44261-6", "answer": [{"valueInteger": 14}]})
    path = tmp_path / "hospital.json"
    path.write_text(json.dumps(bundle))
    assert import_fhir(warehouse, tp, [path], source="CHU-W", actor="dm").rejected == []
    p = bundle["entry"][0]["resource"]
    identity = Identity(p["name"][0]["given"][0], p["name"][0]["family"], date.fromisoformat(p["birthDate"]),
                        "F" if p["gender"] == "female" else "M")
    ref = tp.register_person(identity, actor="study-team").person
    return tp.pseudonym(ref, f"study:{study}", actor="study-team"), date.fromisoformat(qr["authored"][:10])


def test_wearable_exports_give_samples_and_daily_covariates_next_to_scores(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    code, answered = _hospital_patient(warehouse, tp, tmp_path)
    start = answered - timedelta(days=3)
    csv_path = tmp_path / "apple.csv"
    csv_path.write_text(wearable_csv(code, days=3, start=start, seed=1) + f"{code},Teleport,2024-01-01T00:00,,1,x,watch\n")
    report = import_wearables(warehouse, tp, [csv_path], study="S1", actor="dm")
    assert [r.reason for r in report.rejected] == ["unknown sample type 'Teleport'"]
    hours = len(range(7 * 60, 23 * 60, 60))
    assert report.samples_new == 3 * (2 * hours + 1)
    assert report.inserted["measurement"] == 3 * 2 + 3  # steps + mean HR per day, sleep on 3 wake days
    with warehouse.connect() as conn:
        m = metadata.tables["measurement"]
        daily = dict(conn.execute(sa.select(m.c.measurement_date, m.c.value_as_number)
                                  .where(m.c.measurement_source_value == "wearable:steps")).all())
        held = conn.execute(sa.select(samples.c.start_time, samples.c.value)
                            .where(samples.c.metric == "steps")).all()
    by_day: dict[date, float] = {}
    for moment, value in held:
        by_day[moment.date()] = by_day.get(moment.date(), 0) + value
    assert daily == by_day and len(daily) == 3
    # The same file again: no sample and no summary twice. A Fitbit export of the next days adds.
    again = import_wearables(warehouse, tp, [csv_path], study="S1", actor="dm")
    assert again.samples_new == 0 and sum(again.inserted.values()) == 0 and again.unchanged == 9
    fitbit = tmp_path / "fitbit.json"
    fitbit.write_text(json.dumps(wearable_fitbit_json(days=2, start=answered, seed=2)))
    more = import_wearables(warehouse, tp, [fitbit], study="S1", actor="dm", participant=code)
    assert more.rejected == [] and more.samples_new == 2 + 2 + 2 * 14 + 2
    table = sitting_covariates(warehouse, window_days=7)
    assert len(table) == 1 and table.loc[0, "44261-6"] == 14
    expected = sum(by_day.values()) / 3
    assert table.loc[0, "steps_7d"] == pytest.approx((expected * 3 + _fitbit_steps(fitbit, answered)) / 4)
    assert 55 <= table.loc[0, "hr_mean_7d"] <= 120 and table.loc[0, "sleep_minutes_7d"] > 400


def _fitbit_steps(path: Path, day: date) -> float:
    data = json.loads(path.read_text())
    return sum(float(s["value"]) for s in data["activities-steps"] if s["dateTime"] == day.isoformat())


def test_wearables_of_unknown_or_absent_participants_are_rejected(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    ref = tp.register_person(Identity("Zoé", "Absente", date(1970, 1, 1), "F"), actor="t").person
    absent = tp.pseudonym(ref, "study:S2", actor="t")
    path = tmp_path / "w.csv"
    path.write_text(wearable_csv(absent, days=1) + wearable_csv("NOT-A-CODE", days=1).split("\n", 1)[1])
    report = import_wearables(warehouse, tp, [path], study="S2", actor="dm")
    reasons = sorted(r.reason for r in report.rejected)
    assert len(reasons) == 2 and "not a participant of study S2" in reasons[0]
    assert "not in the warehouse yet" in reasons[1]
    assert report.samples_new == 0


def test_participant_bundle_is_valid_fhir_with_study_and_warehouse_data(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path, store_url: str) -> None:
    code, _ = _hospital_patient(warehouse, tp, tmp_path, study="PORT")
    engine = make_engine(store_url)
    with session_scope(engine) as s:
        study = create_study(s, "PORT", "Portability study", actor="sm")
        p = Participant(study_id=study.id, pseudonym=code, inclusion_date=date(2024, 1, 1),
                        baseline={"sex": "F", "birth_year": 1960, "icd10": "C50.9", "diagnosis_date": "2023-11-02"})
        s.add(p)
        s.flush()
        s.add(Response(participant_id=p.id, event_code="baseline", instrument_id="phq-9", submission_key="k1",
                       answers={"q1": 2, "q2": 1, "_draft": "x"}, submitted_at=datetime(2024, 1, 2, 9, 0).astimezone()))
        s.flush()
        bundle = participant_bundle(s, p, actor="dpo", warehouse=warehouse, tp=tp)
        local_only = participant_bundle(s, p, actor="dpo")
    engine.dispose()
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Patient" and kinds.count("QuestionnaireResponse") == 1
    assert kinds.count("Condition") == 2          # baseline diagnosis + the hospital's
    assert "MedicationStatement" in kinds and "Procedure" in kinds and kinds.count("Observation") >= 6
    assert len(local_only["entry"]) == 3
    text = json.dumps(bundle)
    assert '"_draft"' not in text and code in text
    hospital = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
                    and e["resource"]["code"]["coding"][0]["system"] == "http://snomed.info/sct")
    assert hospital["code"]["coding"][0]["code"] == "254837009" or hospital["code"]["text"]


def test_weshare_import_command_prints_the_report(tmp_path: Path, ttp_settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(ttp_settings.home))
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    wh = connect(url)
    create_schema(wh)
    load_mini_vocabulary(wh)
    wh.dispose()
    bundle = synthetic_bundle(2, seed=8)
    bundle["entry"].append({"resource": {"resourceType": "Condition", "id": "bad", "subject": {"reference": "Patient/p0"},
                                         "onsetDateTime": "2020-01-01",
                                         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}}})
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    out = tmp_path / "report.json"
    assert main(["import", "--url", url, "fhir", str(path), "--source", "CHU-CLI", "--quiet", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fhir import from CHU-CLI" in printed and "new persons 2" in printed
    assert "unmapped code http://snomed.info/sct|1" in printed
    assert json.loads(out.read_text())["inserted"]["person"] == 2
    assert main(["import", "--url", url, "fhir", str(path), "--source", "CHU-CLI", "--quiet", "--strict"]) == 1
    assert "unchanged (already imported) 42" in capsys.readouterr().out
    assert main(["import", "--url", url, "runs"]) == 0
    assert capsys.readouterr().out.count("CHU-CLI") == 2
    assert main(["import", "--url", url, "fhir", str(tmp_path / "nope.json"), "--source", "X"]) == 2


def test_a_portability_request_is_answered_with_a_fhir_bundle(store_url: str) -> None:
    from workbench.participants.rights import copy_for_request, file_request

    engine = make_engine(store_url)
    with session_scope(engine) as s:
        study = create_study(s, "RQ", "Rights study", actor="sm")
        p = Participant(study_id=study.id, pseudonym="RQ-0001", inclusion_date=date(2024, 1, 1),
                        baseline={"sex": "M", "birth_year": 1955})
        s.add(p)
        s.flush()
        s.add(Response(participant_id=p.id, event_code="M3", instrument_id="gad-7", submission_key="k2",
                       answers={"q1": 3}, submitted_at=datetime(2024, 4, 1, 8, 0).astimezone()))
        portability = file_request(s, p, "portability")
        copy = file_request(s, p, "copy")
        s.flush()
        bundle = json.loads(copy_for_request(s, portability.id, actor="dm"))
        plain = json.loads(copy_for_request(s, copy.id, actor="dm"))
    engine.dispose()
    Bundle.model_validate(bundle)
    qr = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    assert qr["item"] == [{"linkId": "q1", "answer": [{"valueInteger": 3}]}]
    assert qr["extension"][0]["valueString"] == "M3" and bundle["entry"][0]["resource"]["birthDate"] == "1955"
    assert plain["format"] == "weshare-participant-copy/1"
