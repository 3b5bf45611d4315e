"""Quality checks catch planted faults; catalogue records describe the contents without leaking
small counts; an Athena bundle retires the provisional concepts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.errors import NotFoundError, ValidationError
from workbench.warehouse import (
    Cohort,
    CohortQuery,
    HasCondition,
    StudyMetadata,
    datapackage,
    dcat_record,
    load_athena_bundle,
    load_tables,
    resolve_codes,
    run_checks,
    write_report,
)
from workbench.warehouse.catalog import publishable_count
from workbench.warehouse.sample import sample_cohort
from workbench.warehouse.schema import metadata

T = metadata.tables
STUDY = StudyMetadata("WS-QOL-01", "Qualité de vie après cancer du sein", "Cohorte QdV",
                      "Centre de lutte contre le cancer", "dm@example.org",
                      access_rights="restricted", access_url="https://weshare.invalid/access",
                      keywords=("quality of life", "oncology"))


def _failed(report: dict) -> set[tuple[str, str, str | None]]:
    return {(r["checkName"], r["cdmTableName"], r["cdmFieldName"])
            for r in report["CheckResults"] if r["failed"]}


def test_clean_sample_passes_and_planted_faults_are_found(warehouse: sa.Engine,
                                                          tmp_path: Path) -> None:
    for i, batch in enumerate(sample_cohort(200, seed=3, chunk=100)):
        load_tables(warehouse, f"s{i}", batch, source="t", loaded_by="me")
    clean = run_checks(warehouse)
    assert _failed(clean) == set()
    assert {r["category"] for r in clean["CheckResults"]} == {
        "Conformance", "Completeness", "Plausibility"}
    # Faults written around the loader, as a careless ETL would.
    orphan_row = T["observation"].insert().values(
        observation_id=1, person_id=99_999, observation_concept_id=2000000402,
        observation_date=dt.date(2021, 1, 1), observation_type_concept_id=32817)
    duck = warehouse.dialect.name == "duckdb"
    if duck:  # DuckDB keeps no foreign keys: only the check can see the orphan
        with warehouse.begin() as conn:
            conn.execute(orphan_row)
    else:
        with pytest.raises(sa.exc.IntegrityError), warehouse.begin() as conn:
            conn.execute(orphan_row)
    with warehouse.begin() as conn:
        conn.execute(T["measurement"].insert().values(
            measurement_id=2, person_id=1, measurement_concept_id=2000100011,
            measurement_date=dt.date(2021, 1, 1), measurement_type_concept_id=32862,
            value_as_number=30.0))
        conn.execute(T["drug_exposure"].update().where(T["drug_exposure"].c.person_id == 1)
                     .values(drug_exposure_end_date=dt.date(1999, 1, 1)))
        conn.execute(T["person"].update().where(T["person"].c.person_id == 2)
                     .values(year_of_birth=2090))
    if duck:  # PostgreSQL's primary key refuses this outright
        with warehouse.begin() as conn:
            conn.execute(T["survey_conduct"].insert().from_select(
                [c.name for c in T["survey_conduct"].columns],
                sa.select(T["survey_conduct"]).limit(1)))
    report = run_checks(warehouse)
    failed = _failed(report)
    assert ("plausibleValueHigh", "measurement", "value_as_number") in failed
    assert ("plausibleStartBeforeEnd", "drug_exposure", "drug_exposure_start_date") in failed
    assert ("plausibleValueLow", "person", "year_of_birth") in failed
    if duck:
        assert ("isPrimaryKey", "survey_conduct", "survey_conduct_id") in failed
        assert ("isForeignKey", "observation", "person_id") in failed
        orphan = next(r for r in report["CheckResults"] if r["checkName"] == "isForeignKey"
                      and r["cdmTableName"] == "observation" and r["cdmFieldName"] == "person_id")
        assert orphan["numViolatedRows"] == 1
    assert report["Overview"]["countFailed"] == sum(r["failed"] for r in report["CheckResults"])
    path = write_report(report, tmp_path / "dq.json")
    assert json.loads(path.read_text())["Overview"] == report["Overview"]


def test_catalogue_records(warehouse: sa.Engine) -> None:
    for i, batch in enumerate(sample_cohort(40, seed=5, chunk=40)):
        load_tables(warehouse, f"s{i}", batch, source="t", loaded_by="me")
    package = datapackage(warehouse, STUDY)
    names = [r["name"] for r in package["resources"]]
    assert "person" in names and "survey_conduct" in names and "note" not in names
    person = next(r for r in package["resources"] if r["name"] == "person")
    assert person["schema"]["primaryKey"] == ["person_id"]
    fields = {f["name"]: f for f in person["schema"]["fields"]}
    assert fields["year_of_birth"] == {"name": "year_of_birth", "type": "integer",
                                       "constraints": {"required": True}}
    obs = next(r for r in package["resources"] if r["name"] == "observation")
    assert {"fields": "person_id", "reference": {"resource": "person", "fields": "person_id"}} \
        in obs["schema"]["foreignKeys"]
    record = dcat_record(warehouse, STUDY)
    dataset = record["@graph"][0]
    assert dataset["@type"] == "dcat:Dataset"
    assert dataset["dct:accessRights"]["@id"].endswith("RESTRICTED")
    assert dataset["healthdcatap:numberOfUniqueIndividuals"] == 40
    assert {"@id": "http://loinc.org"} in dataset["healthdcatap:hasCodingSystem"]
    assert dataset["dct:temporal"]["dcat:startDate"]["@value"] < \
        dataset["dct:temporal"]["dcat:endDate"]["@value"]
    json.dumps(record)


def test_small_counts_are_withheld(warehouse: sa.Engine) -> None:
    assert [publishable_count(n) for n in (0, 10, 11, 14, 15, 1234)] == [
        None, None, 10, 10, 20, 1230]
    batch = next(sample_cohort(6, seed=1))
    load_tables(warehouse, "tiny", batch, source="t", loaded_by="me")
    dataset = dcat_record(warehouse, STUDY)["@graph"][0]
    assert "healthdcatap:numberOfUniqueIndividuals" not in dataset


def test_study_metadata_is_checked() -> None:
    with pytest.raises(ValidationError, match="title"):
        StudyMetadata("id", " ", "d", "p", "a@b.org")
    with pytest.raises(ValidationError, match="access_rights"):
        StudyMetadata("id", "t", "d", "p", "a@b.org", access_rights="open")


def _write_athena(folder: Path) -> None:
    """A two-concept bundle in Athena's format: tab-separated, unquoted, dates as YYYYMMDD."""
    folder.mkdir()
    (folder / "CONCEPT.csv").write_text(
        "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\tstandard_concept\t"
        "concept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason\n"
        "40000001\tMalignant neoplasm of breast \"NOS\"\tCondition\tSNOMED\tClinical Finding\tS\t"
        "254837009\t20020131\t20991231\t\n"
        "40000002\tInfiltrating duct carcinoma of breast\tCondition\tSNOMED\tClinical Finding\tS\t"
        "408643008\t20020131\t20991231\t\n", encoding="utf-8")
    (folder / "CONCEPT_ANCESTOR.csv").write_text(
        "ancestor_concept_id\tdescendant_concept_id\tmin_levels_of_separation\t"
        "max_levels_of_separation\n40000001\t40000001\t0\t0\n40000001\t40000002\t1\t1\n"
        "40000002\t40000002\t0\t0\n", encoding="utf-8")


def test_athena_bundle_retires_provisional_concepts(warehouse: sa.Engine, tmp_path: Path) -> None:
    batch = next(sample_cohort(300, seed=2))
    load_tables(warehouse, "s", batch, source="t", loaded_by="me")
    query = CohortQuery(warehouse, audit=[].append, actor="a", purpose="p")
    before = query.participants(Cohort("b", (HasCondition(("SNOMED:254837009",)),)))
    _write_athena(tmp_path / "athena")
    result = load_athena_bundle(warehouse, tmp_path / "athena", loaded_by="me")
    assert result.row_counts["concept"] == 2
    with warehouse.connect() as conn:
        assert resolve_codes(conn, ["SNOMED:254837009"]) == {"SNOMED:254837009": 40000001}
        name = conn.execute(sa.select(T["concept"].c.concept_name)
                            .where(T["concept"].c.concept_id == 40000001)).scalar_one()
        retired = conn.execute(sa.select(T["concept"].c.invalid_reason)
                               .where(T["concept"].c.concept_id == 2000200002)).scalar_one()
    assert name == 'Malignant neoplasm of breast "NOS"' and retired == "U"
    after = query.participants(Cohort("b", (HasCondition(("SNOMED:254837009",)),)))
    assert set(after.person_id) == set(before.person_id) and len(after) > 0
    assert load_athena_bundle(warehouse, tmp_path / "athena", loaded_by="me").already_loaded
    with pytest.raises(NotFoundError, match=r"CONCEPT\.csv"):
        load_athena_bundle(warehouse, tmp_path, loaded_by="me")
