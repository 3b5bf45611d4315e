"""FHIR bundles into the warehouse: mapping, pseudonymisation, idempotence, bad input."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from workbench.connectors import import_fhir
from workbench.connectors.state import records, runs
from workbench.connectors.synthetic import synthetic_bundle
from workbench.trusted_party import Identity, TrustedParty, is_valid
from workbench.trusted_party.sources import SourcePatient, source_pseudonyms
from workbench.warehouse import Cohort, CohortQuery, HasCondition, table_counts
from workbench.warehouse.schema import metadata

CLINICAL = ("person", "observation_period", "condition_occurrence", "measurement", "observation",
            "procedure_occurrence", "drug_exposure", "survey_conduct", "death")


def _write(tmp_path: Path, bundle: dict[str, Any], name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def _counts(engine: Engine) -> dict[str, int]:
    counts = table_counts(engine)
    return {t: counts[t] for t in CLINICAL}


def _all_text(engine: Engine) -> str:
    """Every text value of the warehouse's clinical tables and the connector state, joined."""
    out = []
    with engine.connect() as conn:
        for name in CLINICAL:
            table = metadata.tables[name]
            cols = [c for c in table.columns if isinstance(c.type, sa.String)]
            if not cols:
                continue
            for row in conn.execute(sa.select(*cols)):
                out += [str(v) for v in row if v is not None]
        for row in conn.execute(sa.select(records)):
            out += [str(v) for v in row]
        out += list(conn.execute(sa.select(runs.c.report)).scalars())
    return "\n".join(out)


def test_bundle_maps_to_omop_and_identifiers_reach_only_the_trusted_party(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    bundle = synthetic_bundle(5, seed=3)
    report = import_fhir(warehouse, tp, [_write(tmp_path, bundle)], source="CHU-A", actor="dm")
    assert report.rejected == []
    assert report.read["Patient"] == 5 and report.rows_read == 60
    counts = _counts(warehouse)
    assert counts["person"] == 5 and counts["observation_period"] == 5
    assert counts["condition_occurrence"] == 5
    assert counts["measurement"] == 5 * (1 + 3 + 2)      # stage group, T/N/M, ECOG, weight
    assert counts["observation"] == 5 * (9 + 1)          # PHQ-9 answers + consent
    assert counts["drug_exposure"] == 10 and counts["procedure_occurrence"] == 5
    assert counts["survey_conduct"] == 5
    text = _all_text(warehouse)
    for entry in bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] == "Patient":
            for secret in (r["name"][0]["family"], r["identifier"][0]["value"], r["telecom"][0]["value"],
                           r["birthDate"]):
                assert secret not in text
    # The person is known by the warehouse pseudonym the trusted party issues for that MRN.
    first = bundle["entry"][0]["resource"]
    again = source_pseudonyms(tp, [SourcePatient("urn:oid:1.2.250.1.999.1", first["identifier"][0]["value"])],
                              "warehouse", actor="test", reason="check")
    with warehouse.connect() as conn:
        person = metadata.tables["person"]
        codes = list(conn.execute(sa.select(person.c.person_source_value)).scalars())
        assert all(is_valid(c) for c in codes) and again.pseudonyms[0] in codes
        m, c = metadata.tables["measurement"], metadata.tables["condition_occurrence"]
        staged = conn.execute(sa.select(m.c.value_source_value, c.c.condition_source_value)
                              .join(c, c.c.condition_occurrence_id == m.c.measurement_event_id)
                              .where(m.c.meas_event_field_concept_id == 1147127)).all()
        assert len(staged) == 20 and {v for v, _ in staged} == {"IIA", "cT2", "cN0", "cM0"}
        o = metadata.tables["observation"]
        answers = conn.execute(sa.select(o.c.value_as_number).where(
            o.c.obs_event_field_concept_id == 2000000401)).scalars().all()
        assert len(answers) == 45 and set(answers) <= {0.0, 1.0, 2.0, 3.0}
    # ICD-10 C50.9 was mapped to SNOMED breast cancer: the cohort builder finds those patients.
    breast = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
              and e["resource"]["code"]["coding"][0]["code"] == "C50.9"]
    people = CohortQuery(warehouse, audit=lambda r: None, actor="t", purpose="test").participants(Cohort("breast", (HasCondition(("SNOMED:254837009",)),)))
    assert len(people) == len(breast) > 0


def test_repeated_run_imports_nothing_twice_and_a_changed_resource_replaces_its_row(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    bundle = synthetic_bundle(4, seed=1)
    path = _write(tmp_path, bundle)
    first = import_fhir(warehouse, tp, [path], source="CHU-A", actor="dm")
    before = _counts(warehouse)
    second = import_fhir(warehouse, tp, [path], source="CHU-A", actor="dm")
    assert _counts(warehouse) == before
    assert second.unchanged == first.rows_mapped and sum(second.inserted.values()) == 0
    changed = copy.deepcopy(bundle)
    weight = next(e["resource"] for e in changed["entry"] if e["resource"]["id"] == "wt2")
    weight["valueQuantity"]["value"] = 123.4
    changed["entry"].append({"resource": {
        "resourceType": "Observation", "id": "new-ecog", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
        "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2030-01-05", "valueInteger": 2}})
    # Only the new and changed resources, as an incremental export would send them.
    delta = {"resourceType": "Bundle", "type": "collection",
             "entry": [e for e in changed["entry"] if e["resource"]["id"] in ("wt2", "new-ecog")]}
    third = import_fhir(warehouse, tp, [_write(tmp_path, delta, "delta.json")], source="CHU-A", actor="dm")
    assert third.rejected == []
    assert dict(third.updated) == {"measurement": 1} and third.inserted["measurement"] == 1
    after = _counts(warehouse)
    assert after["measurement"] == before["measurement"] + 1 and after["person"] == before["person"]
    with warehouse.connect() as conn:
        m = metadata.tables["measurement"]
        values = conn.execute(sa.select(m.c.value_as_number).where(
            m.c.measurement_concept_id == 2000150011)).scalars().all()
        assert 123.4 in values and len(values) == 4
        period = metadata.tables["observation_period"]
        ends = conn.execute(sa.select(period.c.observation_period_end_date)).scalars().all()
        assert date(2030, 1, 5) in ends and len(ends) == 4  # widened, not duplicated


def test_bad_input_rejects_rows_with_reasons_and_imports_the_valid_ones(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    bundle = synthetic_bundle(2, seed=5)
    subject = {"reference": "Patient/p0"}
    bad = [
        {"resourceType": "Observation", "id": "no-code", "status": "final", "subject": subject,
         "valueQuantity": {"value": "SECRET-abc"}},
        {"resourceType": "Condition", "id": "odd-code", "subject": subject, "onsetDateTime": "2021-01-01",
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C99.9"}]}},
        {"resourceType": "Specimen", "id": "sp1", "subject": subject},
        {"resourceType": "Observation", "id": "orphan-stage", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "21905-5"}]},
         "effectiveDateTime": "2021-01-01", "focus": [{"reference": "Condition/missing"}],
         "valueCodeableConcept": {"text": "cT1"}},
        {"resourceType": "Observation", "id": "unknown-patient", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
         "subject": {"reference": "Patient/nobody"}, "effectiveDateTime": "2021-01-01",
         "valueQuantity": {"value": 60}},
    ]
    bundle["entry"] += [{"resource": r} for r in bad]
    bundle["entry"].append({"resource": {  # valid, with a unit longer than the OMOP column: kept, cut
        "resourceType": "Observation", "id": "long-unit", "status": "final", "subject": subject,
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]}, "effectiveDateTime": "2021-01-01",
        "valueQuantity": {"value": 12.1, "unit": "g/dL " * 20}}})
    qr = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "qr1")
    qr["item"].append({"linkId": "free-text-9", "answer": [{"valueString": "private words"}]})
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Bundle", "entry": [', encoding="utf-8")
    report = import_fhir(warehouse, tp, [_write(tmp_path, bundle), broken], source="CHU-B", actor="dm")
    reasons = {r.where.split("(")[-1].rstrip(")") if "(" in r.where else r.where: r.reason for r in report.rejected}
    assert reasons["Observation/no-code"].startswith("invalid FHIR: code: Field required")
    assert "valueQuantity.value" in reasons["Observation/no-code"]
    assert reasons["Condition/odd-code"] == "unmapped code http://hl7.org/fhir/sid/icd-10|C99.9"
    assert reasons["Specimen/sp1"] == "resource type Specimen is not imported"
    assert "refers to Condition/missing" in reasons["Observation/orphan-stage"]
    assert "patient was rejected or is missing" in reasons["Patient/nobody"]
    assert reasons["broken.json"].startswith("not JSON")
    assert any("unmapped item 'free-text-9'" in r.reason for r in report.rejected)
    assert len(report.rejected) == 7
    text = str(report)
    assert "SECRET-abc" not in text and "private words" not in text and "7 ×" not in text
    assert "unmapped code http://hl7.org/fhir/sid/icd-10|C99.9" in text
    counts = _counts(warehouse)
    assert counts["person"] == 2 and counts["condition_occurrence"] == 2 and counts["observation"] == 20
    assert counts["measurement"] == 2 * 6 + 1
    # The run's report is stored next to its rows.
    with warehouse.connect() as conn:
        stored = json.loads(conn.execute(sa.select(runs.c.report)).scalar_one())
    assert len(stored["rejected"]) == 7 and stored["inserted"]["observation"] == 20


def test_a_consent_denying_research_records_opposition_and_imports_nothing_of_that_patient(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    bundle = synthetic_bundle(3, seed=2)
    consent = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "consent1")
    consent["provision"]["type"] = "deny"
    report = import_fhir(warehouse, tp, [_write(tmp_path, bundle)], source="CHU-C", actor="dm")
    assert report.withheld_opposed == 1 and report.persons_new == 2
    assert [r.reason for r in report.rejected] == [
        "patient opposed to research reuse: not imported (20 record(s) left out)"]
    assert _counts(warehouse)["person"] == 2
    mrn = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "p1")["identifier"][0]["value"]
    again = source_pseudonyms(tp, [SourcePatient("urn:oid:1.2.250.1.999.1", mrn)], "warehouse",
                              actor="test", reason="check")
    assert again.pseudonyms == [None] and again.withheld_opposed == 1
    # A later bundle with only new results for that patient is still withheld.
    later = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Observation", "id": "late", "status": "final", "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "effectiveDateTime": "2024-01-01", "valueQuantity": {"value": 70}}}]}
    late = import_fhir(warehouse, tp, [_write(tmp_path, later, "late.json")], source="CHU-C", actor="dm")
    assert late.rejected and sum(late.inserted.values()) == 0
    # A patient imported earlier whose new Consent denies research use is withheld from then on.
    other = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "consent2")
    deny = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {**other, "id": "consent2b", "provision": {"type": "deny"}}},
        {"resource": {**later["entry"][0]["resource"], "id": "late2", "subject": {"reference": "Patient/p2"}}}]}
    third = import_fhir(warehouse, tp, [_write(tmp_path, deny, "deny.json")], source="CHU-C", actor="dm")
    assert third.withheld_opposed == 1 and sum(third.inserted.values()) == 0
    assert "opposed to research reuse" in third.rejected[0].reason


def test_a_patient_known_from_a_study_gets_the_same_warehouse_person(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    bundle = synthetic_bundle(1, seed=9)
    patient = bundle["entry"][0]["resource"]
    identity = Identity(patient["name"][0]["given"][0], patient["name"][0]["family"],
                        date.fromisoformat(patient["birthDate"]), "F" if patient["gender"] == "female" else "M")
    registered = tp.register_person(identity, actor="study-team")
    study_code = tp.pseudonym(registered.person, "study:S1", actor="study-team")
    expected = tp.translate([study_code], "study:S1", "warehouse", actor="dm").pseudonyms[0]
    import_fhir(warehouse, tp, [_write(tmp_path, bundle)], source="CHU-D", actor="dm")
    with warehouse.connect() as conn:
        person = metadata.tables["person"]
        assert conn.execute(sa.select(person.c.person_source_value)).scalars().all() == [expected]


@pytest.mark.parametrize("fmt", ["ndjson", "folder"])
def test_ndjson_and_folders_are_read(warehouse: Engine, tp: TrustedParty, tmp_path: Path, fmt: str) -> None:
    bundle = synthetic_bundle(2, seed=4)
    if fmt == "ndjson":
        path = tmp_path / "export.ndjson"
        path.write_text("\n".join(json.dumps(e["resource"]) for e in bundle["entry"]) + "\n")
    else:
        path = tmp_path / "in"
        path.mkdir()
        for n, e in enumerate(bundle["entry"]):
            (path / f"r{n:03d}.json").write_text(json.dumps(e["resource"]))
    report = import_fhir(warehouse, tp, [path], source="CHU-E", actor="dm")
    assert report.rejected == [] and report.persons_new == 2 and report.rows_read == 24
