"""Hospital warehouses: an establishment's OMOP database and CSV extracts with a mapping file."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from workbench.connectors import import_csv, import_omop
from workbench.errors import ValidationError
from workbench.trusted_party import TrustedParty
from workbench.warehouse import table_counts
from workbench.warehouse.schema import metadata

ALL = ("person", "condition_occurrence", "measurement", "drug_exposure", "observation_period", "death")


def _counts(engine: Engine) -> dict[str, int]:
    c = table_counts(engine)
    return {t: c[t] for t in ALL}


def _source(path: Path) -> tuple[str, Engine]:
    """A hospital OMOP database in SQLite with its own ids and Athena-style concept ids."""
    url = f"sqlite:///{path}"
    src = sa.create_engine(url)
    with src.begin() as conn:
        for ddl in (
            "CREATE TABLE person (person_id INTEGER PRIMARY KEY, gender_concept_id INTEGER, year_of_birth INTEGER,"
            " race_concept_id INTEGER, ethnicity_concept_id INTEGER, person_source_value TEXT, gender_source_value TEXT)",
            "CREATE TABLE condition_occurrence (condition_occurrence_id INTEGER PRIMARY KEY, person_id INTEGER,"
            " condition_concept_id INTEGER, condition_start_date TEXT, condition_type_concept_id INTEGER,"
            " condition_source_value TEXT, visit_occurrence_id INTEGER)",
            "CREATE TABLE measurement (measurement_id INTEGER PRIMARY KEY, person_id INTEGER,"
            " measurement_concept_id INTEGER, measurement_date TEXT, measurement_type_concept_id INTEGER,"
            " value_as_number REAL, unit_concept_id INTEGER, value_source_value TEXT,"
            " measurement_event_id INTEGER, meas_event_field_concept_id INTEGER)",
            "CREATE TABLE death (person_id INTEGER, death_date TEXT, death_type_concept_id INTEGER)",
        ):
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("INSERT INTO person VALUES (10, 8532, 1961, 0, 0, 'IPP-0010', 'F'), "
                             "(11, 8507, 1950, 0, 0, 'IPP-0011', 'M'), (12, 8532, 1972, 0, 0, '', 'F')")
        conn.exec_driver_sql("INSERT INTO condition_occurrence VALUES "
                             "(100, 10, 2000200002, '2022-03-01', 32817, 'C50.9', 7), "
                             "(101, 11, 2000200004, '2021-06-10', 32817, 'C34.9', 8), "
                             "(102, 12, 4112853, '2023-01-01', 32817, 'C71.9', NULL), "
                             "(103, 12, 0, '2023-01-02', 32817, 'XYZ', NULL)")
        conn.exec_driver_sql("INSERT INTO measurement VALUES "
                             "(500, 10, 2000150003, '2022-03-02', 32817, NULL, NULL, 'cT2', 100, 1147127), "
                             "(501, 10, 2000150011, '2022-03-02', 32817, 61.5, 9529, NULL, NULL, NULL)")
        conn.exec_driver_sql("INSERT INTO death VALUES (11, '2023-02-01', 32817)")
    return url, src


def test_omop_source_is_copied_pseudonymised_and_incrementally(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    url, src = _source(tmp_path / "hospital.sqlite")
    report = import_omop(warehouse, tp, url, source="CHU-OMOP", actor="dm")
    reasons = sorted(r.reason for r in report.rejected)
    assert reasons == ["concept 4112853 is not in the warehouse vocabulary (load the site's Athena bundle)",
                       "unmapped (condition_concept_id is 0)"]
    assert report.notes == ["unit_concept_id: 1 value(s) not in the warehouse vocabulary set to 0 (rows kept)"]
    counts = _counts(warehouse)
    assert counts == {"person": 3, "condition_occurrence": 2, "measurement": 2, "drug_exposure": 0,
                      "observation_period": 2, "death": 1}
    with warehouse.connect() as conn:
        person = metadata.tables["person"]
        codes = conn.execute(sa.select(person.c.person_source_value)).scalars().all()
        assert not any("IPP" in c for c in codes)
        m, c = metadata.tables["measurement"], metadata.tables["condition_occurrence"]
        linked = conn.execute(sa.select(c.c.condition_source_value).join(
            m, m.c.measurement_event_id == c.c.condition_occurrence_id)).scalars().all()
        assert linked == ["C50.9"]  # the stage follows its condition to the warehouse's id
        assert conn.execute(sa.select(c.c.visit_occurrence_id)).scalars().all() == [None, None]
    again = import_omop(warehouse, tp, url, source="CHU-OMOP", actor="dm")
    assert again.read["condition_occurrence"] == 0 and sum(again.inserted.values()) == 0
    with src.begin() as conn:  # new rows at the source: only they are read next time
        conn.exec_driver_sql("INSERT INTO measurement VALUES "
                             "(502, 11, 2000150011, '2022-05-01', 32817, 80.0, NULL, NULL, NULL, NULL)")
        conn.exec_driver_sql("UPDATE measurement SET value_as_number = 62.0 WHERE measurement_id = 501")
    third = import_omop(warehouse, tp, url, source="CHU-OMOP", actor="dm")
    assert third.read["measurement"] == 1 and third.inserted["measurement"] == 1
    full = import_omop(warehouse, tp, url, source="CHU-OMOP", actor="dm", full=True)
    assert dict(full.updated) == {"measurement": 1} and sum(full.inserted.values()) == 0
    assert _counts(warehouse)["measurement"] == 3
    src.dispose()
    with pytest.raises(ValidationError, match="no person table"):
        import_omop(warehouse, tp, f"sqlite:///{tmp_path / 'empty.sqlite'}", source="X", actor="dm")


MAPPING = """
[options]
delimiter = ";"
date_format = "%d/%m/%Y"

[patients]
file = "patients.csv"
id = "ipp"
sex = "sexe"
sex_values = { F = "female", M = "male" }
birth_date = "naissance"
death_date = "deces"
last_name = "nom"
first_name = "prenom"

[[tables]]
name = "diagnoses"
file = "diagnostics.csv"
key = "id"
patient = "ipp"
code = "cim10"
vocabulary = "ICD10"
date = "date"
target = "condition_occurrence"
updated = "maj"

[[tables]]
name = "stages"
file = "stades.csv"
key = "id"
patient = "ipp"
code = "loinc"
vocabulary = "LOINC"
date = "date"
value_text = "valeur"
linked_to = { table = "diagnoses", column = "id_diag" }

[[tables]]
name = "labs"
file = "biologie.csv"
key = "id"
patient = "ipp"
code = "code_loinc"
vocabulary = "LOINC"
date = "date"
value = "resultat"
"""


def _extract(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "patients.csv").write_text(
        "ipp;nom;prenom;sexe;naissance;deces\n"
        "A1;Durand;Alice;F;03/04/1960;\n"
        "A2;Petit;Bruno;M;12/12/1948;01/02/2024\n"
        "A3;Leroy;Chloé;F;31/02/1970;\n", encoding="utf-8")
    (folder / "diagnostics.csv").write_text(
        "id;ipp;cim10;date;maj\n"
        "D1;A1;C50.9;01/03/2022;2024-01-01\n"
        "D2;A2;C34.9;15/06/2021;2024-01-01\n"
        "D3;A2;Z99.9;15/06/2021;2024-01-01\n"
        "D4;A1;C50;32/13/2022;2024-01-01\n", encoding="utf-8")
    (folder / "stades.csv").write_text(
        "id;ipp;loinc;date;valeur;id_diag\n"
        "S1;A1;21908-9;01/03/2022;IIA;D1\n"
        "S2;A2;21908-9;15/06/2021;IV;D9\n", encoding="utf-8")
    (folder / "biologie.csv").write_text("id;ipp;code;date;resultat\nB1;A1;718-7;01/03/2022;12,5\n",
                                         encoding="utf-8")
    (folder / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    return folder / "mapping.toml"


def test_csv_extract_with_a_mapping_file_reports_bad_rows_and_a_broken_section(
        warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    mapping = _extract(tmp_path / "extract")
    report = import_csv(warehouse, tp, mapping, source="CHU-CSV", actor="dm")
    reasons = {r.where: r.reason for r in report.rejected}
    assert reasons["patients.csv row 4"] == "birth or death date not in format %d/%m/%Y"
    assert reasons["diagnostics.csv row 4"] == "unmapped code ICD10:Z99.9"
    assert reasons["diagnostics.csv row 5"] == "column date: not a date in format %d/%m/%Y"
    assert "refers to diagnoses/D9" in reasons["stades.csv row 3"]
    assert reasons["mapping.toml [[tables]] labs"] == \
        "code: column 'code_loinc' is not in biologie.csv: section skipped"
    assert len(report.rejected) == 5
    counts = _counts(warehouse)
    assert counts["person"] == 2 and counts["condition_occurrence"] == 2 and counts["measurement"] == 1
    assert counts["death"] == 1
    with warehouse.connect() as conn:
        m = metadata.tables["measurement"]
        row = conn.execute(sa.select(m.c.value_source_value, m.c.meas_event_field_concept_id)).one()
        assert tuple(row) == ("IIA", 1147127)
    # Fix the mapping and run again: only the labs section brings anything new.
    mapping.write_text(MAPPING.replace('code = "code_loinc"', 'code = "code"'), encoding="utf-8")
    again = import_csv(warehouse, tp, mapping, source="CHU-CSV", actor="dm")
    assert dict(again.inserted) == {"measurement": 1}
    assert again.read["diagnoses"] == 0  # not newer than the watermark of column maj
    with warehouse.connect() as conn:
        values = conn.execute(sa.select(metadata.tables["measurement"].c.value_as_number)).scalars().all()
    assert 12.5 in values and _counts(warehouse)["measurement"] == 2


def test_a_broken_mapping_file_is_refused_with_its_name(warehouse: Engine, tp: TrustedParty, tmp_path: Path) -> None:
    mapping = _extract(tmp_path / "x")
    mapping.write_text("[patients\nfile = 1", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"mapping\.toml: not a TOML file"):
        import_csv(warehouse, tp, mapping, source="CHU-CSV", actor="dm")
    mapping.write_text('[patients]\nfile = "patients.csv"\nid = "ipp"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="birth_date or birth_year is required"):
        import_csv(warehouse, tp, mapping, source="CHU-CSV", actor="dm")
    assert table_counts(warehouse)["person"] == 0
