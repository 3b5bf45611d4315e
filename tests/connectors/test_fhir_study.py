"""FHIR bundles into a study: participants enrolled, identities only at the trusted party, answers
stored once, bad input rejected with its place and reason, one failing patient written not at all."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.cli import main
from workbench.connectors import fhir_study, import_fhir_into_study
from workbench.connectors.synthetic import synthetic_bundle
from workbench.consent.models import Withdrawal
from workbench.participants.models import Participant, Response
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies
from workbench.trusted_party import TrustedParty
from workbench.trusted_party.sources import SourcePatient, source_pseudonyms

MRN_SYSTEM = "urn:oid:1.2.250.1.999.1"


def _write(tmp_path: Path, bundle: dict[str, Any], name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def _study(engine: Engine, code: str = "FHIR-S") -> str:
    with session_scope(engine) as s:
        study = studies.create_study(s, code, "FHIR import study", actor="dm")
        studies.add_event(s, study, "M0", "Inclusion", 0, window_after=14, instruments=["phq-9"], actor="dm")
        studies.add_event(s, study, "M1", "One month", 30, window_before=7, window_after=7,
                          instruments=["phq-9", "gad-7"], actor="dm")
        studies.set_status(s, code, "active", actor="dm")
    return code


def _import(engine: Engine, tp: TrustedParty, path: Path, study: str = "FHIR-S", **kw: Any):  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return import_fhir_into_study(s, tp, [path], study=study, source="CHU-A", actor="dm", **kw)


def _resource(bundle: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == rid)


@pytest.fixture
def study(engine: Engine) -> Iterator[str]:
    yield _study(engine)


def test_patients_become_participants_and_identities_reach_only_the_trusted_party(
        engine: Engine, tp: TrustedParty, study: str, tmp_path: Path) -> None:
    bundle = synthetic_bundle(4, seed=3)
    report = _import(engine, tp, _write(tmp_path, bundle))
    assert report.rejected == [], report.rejected
    assert report.inserted == {"participants": 4, "responses": 4} and report.persons_new == 4
    assert any("Observation 20" in n for n in report.notes)  # hospital results go to the warehouse
    with session_scope(engine) as s:
        people = s.execute(select(Participant).order_by(Participant.id)).scalars().all()
        assert len(people) == 4
        for i, person in enumerate(people):
            patient = _resource(bundle, f"p{i}")
            condition = _resource(bundle, f"c{i}")
            mrn = patient["identifier"][0]["value"]
            expected = source_pseudonyms(tp, [SourcePatient(MRN_SYSTEM, mrn)], f"study:{study}",
                                         actor="test", reason="check").pseudonyms[0]
            assert person.pseudonym == expected
            assert person.baseline == {
                "sex": {"female": "F", "male": "M"}[patient["gender"]],
                "birth_year": int(patient["birthDate"][:4]), "icd10": condition["code"]["coding"][0]["code"],
                "cancer_site": {"C50": "breast", "C34": "lung", "C18": "colorectal", "C61": "prostate",
                                "C56": "ovary"}[condition["code"]["coding"][0]["code"][:3]],
                "diagnosis_date": condition["onsetDateTime"], "stage": "IIA"}
            assert person.inclusion_date.isoformat() == _resource(bundle, f"consent{i}")["dateTime"][:10]
            # The trusted party holds the name (re-identification for a study purpose finds it).
            who = tp.reidentify(person.pseudonym, f"study:{study}", purpose="consent_management", actor="test")
            assert who.last_name == patient["name"][0]["family"] and who.email == patient["telecom"][0]["value"]
        responses = s.execute(select(Response).order_by(Response.id)).scalars().all()
        assert [(r.event_code, r.instrument_id) for r in responses] == [("M1", "phq-9")] * 4
        qr = _resource(bundle, "qr0")
        ordinal = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
        first = [ordinal[item["answer"][0]["valueCoding"]["code"]] for item in qr["item"]]
        assert [responses[0].answers[f"q{n}"] for n in range(1, 10)] == first
        assert responses[0].answers["_scores"]["TOTAL"] == sum(first)
        stored = json.dumps([p.baseline for p in people]) + json.dumps([r.answers for r in responses]) + "".join(
            json.dumps([e.before, e.after, e.reason, e.object_id]) for e in s.execute(select(audit.AuditEntry)).scalars())
    for i in range(4):
        patient = _resource(bundle, f"p{i}")
        for secret in (patient["name"][0]["family"], patient["identifier"][0]["value"],
                       patient["telecom"][0]["value"], patient["birthDate"]):
            assert secret not in stored


def test_a_second_run_imports_nothing_twice(engine: Engine, tp: TrustedParty, study: str, tmp_path: Path) -> None:
    bundle = synthetic_bundle(3, seed=1)
    path = _write(tmp_path, bundle)
    _import(engine, tp, path)
    again = _import(engine, tp, path)
    assert sum(again.inserted.values()) == 0 and again.rejected == []
    assert again.unchanged == 3 + 3  # participants and responses
    # A later bundle adds a GAD-7 and names the event through the workbench's own extension.
    later = copy.deepcopy(bundle)
    gad = {"resourceType": "QuestionnaireResponse", "id": "gad0", "status": "completed",
           "questionnaire": "http://loinc.org/q/69737-5", "subject": {"reference": "Patient/p0"},
           "authored": _resource(bundle, "qr0")["authored"],
           "extension": [{"url": "urn:weshare:event", "valueString": "M1"}],
           "item": [{"linkId": f"q{n}", "answer": [{"valueInteger": 1}]} for n in range(1, 8)]}
    later["entry"].append({"resource": gad})
    third = _import(engine, tp, _write(tmp_path, later, "later.json"))
    assert dict(third.inserted) == {"responses": 1} and third.rejected == []
    with session_scope(engine) as s:
        assert s.execute(select(func.count(Participant.id))).scalar_one() == 3
        assert s.execute(select(func.count(Response.id))).scalar_one() == 4
        assert audit.verify_chain(s).ok


def test_bad_input_is_rejected_with_where_and_why_and_the_rest_is_imported(
        engine: Engine, tp: TrustedParty, study: str, tmp_path: Path) -> None:
    bundle = synthetic_bundle(3, seed=5)
    subject = {"reference": "Patient/p0"}
    del _resource(bundle, "p2")["birthDate"]
    _resource(bundle, "c1")["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}
    out_of_range = _resource(bundle, "qr1")
    out_of_range["item"][0]["answer"] = [{"valueInteger": 7}]
    bundle["entry"] += [{"resource": r} for r in [
        {"resourceType": "QuestionnaireResponse", "id": "broken", "status": "completed", "subject": subject,
         "authored": "not-a-date"},
        {"resourceType": "QuestionnaireResponse", "id": "who5", "status": "completed", "subject": subject,
         "questionnaire": "urn:weshare:Questionnaire/who-5", "authored": "2021-01-01"},
        {"resourceType": "QuestionnaireResponse", "id": "orphan", "status": "completed",
         "questionnaire": "http://loinc.org/q/44249-1", "subject": {"reference": "Patient/nobody"},
         "authored": "2021-01-01"},
        {"resourceType": "QuestionnaireResponse", "id": "late", "status": "completed", "subject": subject,
         "questionnaire": "http://loinc.org/q/44249-1", "authored": "2029-01-01T10:00:00Z",
         "item": [{"linkId": f"q{n}", "answer": [{"valueInteger": 0}]} for n in range(1, 10)]},
    ]]
    extra = _resource(bundle, "qr0")
    extra["item"].append({"linkId": "free-text", "answer": [{"valueString": "private words"}]})
    report = _import(engine, tp, _write(tmp_path, bundle))
    reasons = {r.where: r.reason for r in report.rejected}
    assert len(report.rejected) == 8, reasons
    assert reasons["bundle.json entry 25 (Patient/p2)"].startswith("no birth date")
    assert reasons["bundle.json entry 14 (Condition/c1)"] == "unmapped cancer site http://snomed.info/sct|1"
    assert reasons["bundle.json entry 23 (QuestionnaireResponse/qr1)"].startswith(
        "answers refused: phq-9, item 'q1':")
    assert reasons["bundle.json entry 37 (QuestionnaireResponse/broken)"].startswith("invalid FHIR: authored")
    assert "not an instrument of this study (instruments: gad-7, phq-9)" in reasons[
        "bundle.json entry 38 (QuestionnaireResponse/who5)"]
    assert reasons["Patient/nobody"].startswith("not a Patient of this input")
    assert "no window of the schedule holds phq-9" in reasons["bundle.json entry 40 (QuestionnaireResponse/late)"]
    # the unknown item is left out, the rest of that response is kept
    assert reasons["bundle.json entry 11 (QuestionnaireResponse/qr0) item free-text"] == \
        "unmapped item 'free-text' of phq-9"
    assert report.inserted == {"participants": 2, "responses": 1}
    assert "private words" not in str(report) and "7" not in reasons["bundle.json entry 23 (QuestionnaireResponse/qr1)"]
    with session_scope(engine) as s:
        people = s.execute(select(Participant).order_by(Participant.id)).scalars().all()
        assert len(people) == 2 and "icd10" not in people[1].baseline  # c1 rejected: no diagnosis
        assert s.execute(select(func.count(Response.id))).scalar_one() == 1


def test_a_consent_denying_research_records_the_opposition(
        engine: Engine, tp: TrustedParty, study: str, tmp_path: Path) -> None:
    bundle = synthetic_bundle(2, seed=2)
    _resource(bundle, "consent1")["provision"]["type"] = "deny"
    report = _import(engine, tp, _write(tmp_path, bundle))
    assert report.rejected == [] and report.inserted["participants"] == 2
    assert any("1 participant(s) whose Consent denies research use" in n for n in report.notes)
    with session_scope(engine) as s:
        people = s.execute(select(Participant).order_by(Participant.id)).scalars().all()
        assert [p.reuse_opposed for p in people] == [False, True]
        withdrawals = s.execute(select(Withdrawal)).scalars().all()
        assert [(w.participant_id, w.scope) for w in withdrawals] == [(people[1].id, "reuse")]
        codes = [p.pseudonym for p in people]
    assert tp.opposed(codes, f"study:{study}", actor="test") == [False, True]
    assert tp.translate(codes, f"study:{study}", "warehouse", actor="test").pseudonyms[1] is None
    again = _import(engine, tp, _write(tmp_path, bundle))  # recorded once
    assert not any("denies" in n for n in again.notes)


def test_a_patient_whose_write_fails_leaves_nothing_and_the_others_are_kept(
        engine: Engine, tp: TrustedParty, study: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = synthetic_bundle(3, seed=4)
    bundle["entry"].append({"resource": {
        "resourceType": "QuestionnaireResponse", "id": "gad1", "status": "completed",
        "questionnaire": "http://loinc.org/q/69737-5", "subject": {"reference": "Patient/p1"},
        "authored": _resource(bundle, "qr1")["authored"],
        "item": [{"linkId": f"q{n}", "answer": [{"valueInteger": 3}]} for n in range(1, 8)]}})
    real = fhir_study.alerts.evaluate

    def failing(session: Session, response: Response, values: dict[str, float | None]):  # type: ignore[no-untyped-def]
        if response.instrument_id == "gad-7":  # p1's second response, after their first was written
            raise fhir_study.ConflictError("simulated failure")
        return real(session, response, values)

    monkeypatch.setattr(fhir_study.alerts, "evaluate", failing)
    report = _import(engine, tp, _write(tmp_path, bundle))
    assert [(r.where, r.reason) for r in report.rejected] == [
        ("bundle.json entry 13 (Patient/p1)", "simulated failure: nothing of this patient was written")]
    with session_scope(engine) as s:
        assert s.execute(select(func.count(Participant.id))).scalar_one() == 2
        assert s.execute(select(func.count(Response.id))).scalar_one() == 2
        assert audit.verify_chain(s).ok
    monkeypatch.setattr(fhir_study.alerts, "evaluate", real)
    retry = _import(engine, tp, _write(tmp_path, bundle))  # the same input, once fixed, completes
    assert retry.rejected == [] and dict(retry.inserted) == {"participants": 1, "responses": 2}


def test_a_study_that_is_not_active_is_refused(engine: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        studies.create_study(s, "DRAFTY", "Draft", actor="dm")
    with pytest.raises(fhir_study.ConflictError, match="DRAFTY is draft"):
        _import(engine, tp, _write(tmp_path, synthetic_bundle(1)), study="DRAFTY")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cli_imports_into_a_study_and_prints_the_report(
        engine: Engine, study: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(settings.home))
    monkeypatch.setenv("WESHARE_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("WESHARE_TRUSTED_PARTY_URL", raising=False)
    assert main(["ttp", "init"]) == 0
    bundle = synthetic_bundle(2, seed=8)
    path = _write(tmp_path, bundle)
    capsys.readouterr()
    out = tmp_path / "report.json"
    assert main(["import", "fhir", str(path), "--study", study.lower(), "--source", "CHU-A", "--quiet",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fhir-study import from CHU-A" in printed and "inserted 4: participants 2, responses 2" in printed
    assert json.loads(out.read_text())["inserted"] == {"participants": 2, "responses": 2}
    _resource(bundle, "qr0")["status"] = "in-progress"
    assert main(["import", "fhir", _write(tmp_path, bundle, "b2.json").as_posix(), "--study", study,
                 "--source", "CHU-A", "--quiet", "--strict"]) == 1
    assert "only completed answers are imported" in capsys.readouterr().out
    assert main(["import", "fhir", str(path), "--study", "NOPE", "--source", "CHU-A", "--quiet"]) == 2
    assert os.environ["WESHARE_DATABASE_URL"] == settings.database_url


def test_a_subject_reference_naming_no_patient_is_not_echoed(
        engine: Engine, tp: TrustedParty, study: str, tmp_path: Path) -> None:
    """A conditional reference carries the MRN: the report and the audit log say where, not what."""
    bundle = synthetic_bundle(1, seed=6)
    bundle["entry"].append({"resource": {
        "resourceType": "QuestionnaireResponse", "id": "by-mrn", "status": "completed",
        "questionnaire": "http://loinc.org/q/44249-1", "authored": "2021-01-01",
        "subject": {"reference": f"Patient?identifier={MRN_SYSTEM}|0987654321"}}})
    report = _import(engine, tp, _write(tmp_path, bundle))
    [rejected] = report.rejected
    assert rejected.reason.startswith("not a Patient of this input")
    assert "0987654321" not in str(report) and "0987654321" not in report.to_json()
    with session_scope(engine) as s:
        logged = "".join(json.dumps([e.after, e.reason, e.object_id]) for e in s.execute(select(audit.AuditEntry)).scalars())
    assert "0987654321" not in logged


def test_the_baseline_diagnosis_is_one_condition_the_earliest_dated(
        engine: Engine, tp: TrustedParty, study: str, tmp_path: Path) -> None:
    """Fields of two primary cancer Conditions are never mixed: a dated one beats an undated one."""
    bundle = synthetic_bundle(2, seed=9)
    for i, first_dated in ((0, True), (1, False)):
        dated = _resource(bundle, f"c{i}")
        undated = copy.deepcopy(dated)
        undated.update(id=f"c{i}-undated", code={"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                                              "code": "C61"}]})
        for name in ("onsetDateTime", "onsetPeriod", "recordedDate"):
            undated.pop(name, None)
        if first_dated:
            undated.pop("stage", None)
        else:
            dated.pop("stage", None)
        at = next(n for n, e in enumerate(bundle["entry"]) if e["resource"] is dated) + (1 if first_dated else 0)
        bundle["entry"].insert(at, {"resource": undated})
    report = _import(engine, tp, _write(tmp_path, bundle))
    assert report.rejected == [], report.rejected
    with session_scope(engine) as s:
        people = s.execute(select(Participant).order_by(Participant.id)).scalars().all()
        for i, person in enumerate(people):
            dated = _resource(bundle, f"c{i}")
            assert person.baseline["icd10"] == dated["code"]["coding"][0]["code"] != "C61"
            assert person.baseline["diagnosis_date"] == dated["onsetDateTime"]
            assert ("stage" in person.baseline) == (i == 0)  # p1's dated Condition has no stage


def test_cli_refuses_a_site_without_a_study(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WESHARE_HOME", str(tmp_path / "var"))
    for name in ("WESHARE_DATABASE_URL", "WESHARE_WAREHOUSE_URL", "WESHARE_TRUSTED_PARTY_URL"):
        monkeypatch.delenv(name, raising=False)
    path = _write(tmp_path, synthetic_bundle(1))
    assert main(["import", "fhir", str(path), "--site", "S1", "--source", "CHU-A", "--quiet"]) == 2
    assert "--site goes with --study" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()  # refused before any store is opened
