"""Observation components (one measurement each) and Encounters (visit_occurrence, linked from the
events that name them), with their bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from workbench.connectors import import_fhir
from workbench.connectors.synthetic import synthetic_bundle
from workbench.connectors.vocab import ensure_connector_vocabulary
from workbench.trusted_party import TrustedParty
from workbench.warehouse.schema import LOAD_LOG, metadata

LOINC = "http://loinc.org"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _write(tmp_path: Path, entries: list[dict[str, Any]], name: str = "b.json", patients: int = 1) -> Path:
    bundle = synthetic_bundle(patients, seed=11)
    bundle["entry"] += [{"resource": r} for r in entries]
    path = tmp_path / name
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def _bp(rid: str, components: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "subject": {"reference": "Patient/p0"},
            "effectiveDateTime": "2021-03-01T10:00:00Z", "component": components, **extra}


def _part(code: str | None, value: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": {"coding": [{"system": LOINC, "code": code}]} if code else {"text": "?"}}
    if value is not None:
        out["valueQuantity"] = {"value": value, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                                "code": "mm[Hg]"}
    return out


def _visit(rid: str, cls: str, start: str = "2021-03-01T09:00:00Z", end: str = "2021-03-01T12:00:00Z",
           **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": rid, "status": "finished", "class": {"system": ACT, "code": cls},
            "subject": {"reference": "Patient/p0"}, "period": {"start": start, "end": end}, **extra}


def _reasons(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.where.split(" (")[-1].rstrip(")") if "(" in r.where else r.where: r.reason for r in report.rejected}


def test_blood_pressure_components_become_one_measurement_each(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    entries = [
        _bp("bp1", [_part("8480-6", 128), _part("8462-4", 82)]),
        # bad: a component the vocabulary does not know, one without a value, one without a code
        _bp("bp2", [_part("8480-6", 140), _part("9999-9", 1), _part("8462-4", None)]),
        _bp("bp3", [_part(None, 120)]),                                   # a code with text only
        _bp("bp4", [{"valueQuantity": {"value": 120}}]),                   # no code at all: invalid FHIR
    ]
    path = _write(tmp_path, entries)
    report = import_fhir(warehouse, tp, [path], source="CHU-V", actor="dm")
    reasons = {r.where: r.reason for r in report.rejected}
    assert len(reasons) == 4, reasons
    assert reasons["b.json entry 14 (Observation/bp2) component 2"] == f"unmapped code {LOINC}|9999-9"
    assert reasons["b.json entry 14 (Observation/bp2) component 3"] == "component 8462-4 has no value"
    assert reasons["b.json entry 15 (Observation/bp3) component 1"] == "unmapped code (none given)"
    assert reasons["b.json entry 16 (Observation/bp4)"] == "invalid FHIR: component.0.code: Field required"
    m = metadata.tables["measurement"]
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(m.c.measurement_concept_id, m.c.value_as_number, m.c.unit_source_value,
                                      m.c.measurement_source_value)
                            .where(m.c.measurement_concept_id.in_([2000150031, 2000150032, 2000150033]))
                            .order_by(m.c.value_as_number)).all()
    # the panel itself has no value: only its components are rows
    assert [tuple(r) for r in rows] == [(2000150033, 82.0, "mm[Hg]", "8462-4"),
                                        (2000150032, 128.0, "mm[Hg]", "8480-6"),
                                        (2000150032, 140.0, "mm[Hg]", "8480-6")]
    again = import_fhir(warehouse, tp, [path], source="CHU-V", actor="dm")
    assert sum(again.inserted.values()) == 0 and again.unchanged == report.rows_mapped


def test_encounters_become_visits_and_the_events_naming_them_carry_the_visit(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    visit_ref = {"reference": "Encounter/v-amb"}
    entries = [
        # the events come before their visit in the bundle: the visit is resolved first anyway
        _bp("bp1", [_part("8480-6", 128), _part("8462-4", 82)], encounter=visit_ref),
        {"resourceType": "Procedure", "id": "proc-v", "status": "completed", "subject": {"reference": "Patient/p0"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "387713003"}]},
         "performedDateTime": "2021-03-01", "encounter": {"reference": "Encounter/v-imp"}},
        {"resourceType": "Observation", "id": "wt-v", "status": "final", "subject": {"reference": "Patient/p0"},
         "code": {"coding": [{"system": LOINC, "code": "29463-7"}]}, "effectiveDateTime": "2021-03-02",
         "valueQuantity": {"value": 61.5, "unit": "kg"}, "encounter": {"reference": "Encounter/not-sent"}},
        _visit("v-amb", "AMB"),
        _visit("v-imp", "IMP", "2021-02-27T08:00:00Z", "2021-03-03T10:00:00Z"),
        _visit("v-emer", "EMER", "2021-04-01T23:00:00Z", "2021-04-02T03:00:00Z"),
        _visit("v-home", "HH"),                                             # bad: unknown class
        _visit("v-back", "AMB", "2021-03-05", "2021-03-01"),               # bad: ends before it starts
        _visit("v-plan", "AMB", status="planned"),                          # bad: did not take place
        {"resourceType": "Encounter", "id": "v-nodate", "status": "finished", "class": {"system": ACT, "code": "AMB"},
         "subject": {"reference": "Patient/p0"}},                           # bad: no period
    ]
    condition = synthetic_bundle(1, seed=11)["entry"][1]["resource"]
    assert condition["resourceType"] == "Condition"
    entries.append({**condition, "id": "c-v", "encounter": {"reference": "Encounter/v-imp"}})
    report = import_fhir(warehouse, tp, [_write(tmp_path, entries)], source="CHU-V", actor="dm")
    reasons = _reasons(report)
    assert reasons == {
        "Encounter/v-home": "unmapped encounter class HH (known: AMB, IMP, EMER)",
        "Encounter/v-back": "period.end is before period.start",
        "Encounter/v-plan": "status planned: no visit took place",
        "Encounter/v-nodate": "no date (period)",
    }
    assert report.inserted["visit_occurrence"] == 3
    assert any("1 record(s) refer to a visit (Encounter) that is not imported" in n for n in report.notes)
    v, m = metadata.tables["visit_occurrence"], metadata.tables["measurement"]
    p, c = metadata.tables["procedure_occurrence"], metadata.tables["condition_occurrence"]
    with warehouse.connect() as conn:
        visits = {r.visit_source_value: r for r in conn.execute(sa.select(v))}
        assert {k: r.visit_concept_id for k, r in visits.items()} == {"AMB": 9202, "IMP": 9201, "EMER": 9203}
        assert str(visits["IMP"].visit_end_date) == "2021-03-03" and visits["EMER"].visit_type_concept_id == 32817
        bp = conn.execute(sa.select(m.c.visit_occurrence_id).where(
            m.c.measurement_concept_id.in_([2000150032, 2000150033]))).scalars().all()
        assert bp == [visits["AMB"].visit_occurrence_id] * 2
        assert conn.execute(sa.select(m.c.visit_occurrence_id).where(
            m.c.value_as_number == 61.5)).scalar_one() is None                  # its visit was not sent
        assert conn.execute(sa.select(p.c.visit_occurrence_id).where(
            p.c.visit_occurrence_id.is_not(None))).scalars().all() == [visits["IMP"].visit_occurrence_id]
        linked = conn.execute(sa.select(c.c.visit_occurrence_id).where(c.c.visit_occurrence_id.is_not(None))).scalars()
        assert list(linked) == [visits["IMP"].visit_occurrence_id]
        concept = metadata.tables["concept"]
        assert conn.execute(sa.select(concept.c.concept_name).where(concept.c.concept_id == 9203)).scalar_one() \
            == "Emergency Room Visit"
    # The weight's visit arrives in a later run: the weight is updated to point at it.
    later = [_visit("not-sent", "AMB", "2021-03-02T08:00:00Z", "2021-03-02T09:00:00Z"),
             {"resourceType": "Observation", "id": "wt-v", "status": "final", "subject": {"reference": "Patient/p0"},
              "code": {"coding": [{"system": LOINC, "code": "29463-7"}]}, "effectiveDateTime": "2021-03-02",
              "valueQuantity": {"value": 61.5, "unit": "kg"}, "encounter": {"reference": "Encounter/not-sent"}}]
    delta = tmp_path / "delta.json"
    delta.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                 "entry": [{"resource": r} for r in later]}))
    step = import_fhir(warehouse, tp, [delta], source="CHU-V", actor="dm")
    assert step.rejected == [] and dict(step.updated) == {"measurement": 1}
    with warehouse.connect() as conn:
        new_visit = conn.execute(sa.select(v.c.visit_occurrence_id).where(
            v.c.visit_occurrence_id.not_in([r.visit_occurrence_id for r in visits.values()]))).scalar_one()
        assert conn.execute(sa.select(m.c.visit_occurrence_id).where(
            m.c.value_as_number == 61.5)).scalar_one() == new_visit


def test_a_warehouse_with_the_earlier_connector_vocabulary_gets_only_the_new_concepts(warehouse: Engine) -> None:
    ensure_connector_vocabulary(warehouse)
    new = [2000150031, 2000150032, 2000150033, 9203]
    concept = metadata.tables["concept"]
    with warehouse.begin() as conn:  # as an earlier release left it: without this release's concepts
        conn.execute(concept.delete().where(concept.c.concept_id.in_(new)))
        conn.execute(LOAD_LOG.delete().where(LOAD_LOG.c.load_id == "vocabulary:weshare-connectors-2"))
        before = conn.execute(sa.select(sa.func.count()).select_from(concept)).scalar_one()
    result = ensure_connector_vocabulary(warehouse)
    assert result is not None and result.row_counts["concept"] == len(new)
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(concept)).scalar_one() == before + len(new)
    assert ensure_connector_vocabulary(warehouse) is None  # once


def test_an_event_names_a_visit_imported_in_an_earlier_run(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    """The Encounter came in a first run; the Observation naming it, alone in a second, is linked."""
    first = import_fhir(warehouse, tp, [_write(tmp_path, [_visit("v-early", "IMP")])], source="CHU-V", actor="dm")
    assert first.inserted["visit_occurrence"] == 1 and first.rejected == []
    weight = {"resourceType": "Observation", "id": "wt-early", "status": "final",
              "subject": {"reference": "Patient/p0"}, "effectiveDateTime": "2021-03-01",
              "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
              "valueQuantity": {"value": 58.25, "unit": "kg"}, "encounter": {"reference": "Encounter/v-early"}}
    later = _write(tmp_path, [weight], "later.json")
    second = import_fhir(warehouse, tp, [later], source="CHU-V", actor="dm")
    assert second.rejected == [] and second.inserted["measurement"] == 1
    assert not any("not imported" in n for n in second.notes), second.notes
    v, m = metadata.tables["visit_occurrence"], metadata.tables["measurement"]
    with warehouse.connect() as conn:
        visit = conn.execute(sa.select(v.c.visit_occurrence_id).where(v.c.visit_source_value == "IMP")).scalar_one()
        assert conn.execute(sa.select(m.c.visit_occurrence_id).where(m.c.value_as_number == 58.25)).scalar_one() \
            == visit
