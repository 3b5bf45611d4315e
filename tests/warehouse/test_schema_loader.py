"""Schema creation and Arrow bulk loads: all-or-nothing, idempotent, referentially checked."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tests.warehouse.conftest import observation_rows, person_rows
from workbench.errors import ConflictError, ValidationError
from workbench.warehouse import (
    connect,
    create_schema,
    load_mini_vocabulary,
    load_tables,
    table_counts,
)
from workbench.warehouse.engine import table_columns
from workbench.warehouse.schema import metadata

EXPECTED = {"person", "observation_period", "visit_occurrence", "condition_occurrence",
            "drug_exposure", "procedure_occurrence", "measurement", "observation", "death", "note",
            "episode", "episode_event", "cdm_source", "concept", "vocabulary", "domain",
            "concept_class", "concept_relationship", "concept_ancestor", "survey_conduct", "load_log"}




def test_schema_has_every_table_with_v54_columns(warehouse: sa.Engine) -> None:
    names = set(sa.inspect(warehouse).get_table_names())
    assert names >= EXPECTED
    person = table_columns(warehouse, "person")
    assert person[:3] == ["person_id", "gender_concept_id", "year_of_birth"]
    assert len(person) == 18
    survey = table_columns(warehouse, "survey_conduct")
    assert "timing_source_value" in survey and "validated_survey_concept_id" in survey
    create_schema(warehouse)  # a second call changes nothing
    assert table_counts(warehouse)["concept"] == 119


@pytest.mark.postgres
def test_postgresql_gets_real_keys(new_warehouse, tmp_path) -> None:
    engine = new_warehouse("postgresql", tmp_path)
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("person")["constrained_columns"] == ["person_id"]
    targets = {fk["referred_table"] for fk in inspector.get_foreign_keys("observation")}
    assert targets == {"person", "visit_occurrence"}
    engine.dispose()


def test_unsupported_engine_is_refused() -> None:
    with pytest.raises(ValidationError, match="sqlite"):
        connect("sqlite:///x.db")


def test_load_is_idempotent_and_conflicts_are_refused(warehouse: sa.Engine) -> None:
    first = load_tables(warehouse, "L1", {"person": person_rows([1, 2])}, source="t", loaded_by="me")
    assert first.row_counts == {"person": 2} and not first.already_loaded
    again = load_tables(warehouse, "L1", {"person": person_rows([1, 2])}, source="t", loaded_by="me")
    assert again.already_loaded
    assert table_counts(warehouse)["person"] == 2
    with pytest.raises(ConflictError, match="L1"):
        load_tables(warehouse, "L1", {"person": person_rows([3])}, source="t", loaded_by="me")
    with pytest.raises(ValidationError, match=r"person\.person_id: 1 identifier"):
        load_tables(warehouse, "L2", {"person": person_rows([2, 3])}, source="t", loaded_by="me")
    assert table_counts(warehouse)["person"] == 2


def test_failed_load_leaves_the_warehouse_as_it_was(warehouse: sa.Engine) -> None:
    before = table_counts(warehouse)
    batch = {"person": person_rows([10, 11]), "observation": observation_rows([1, 2], [10, 99])}
    with pytest.raises(ValidationError, match=r"observation\.person_id.*person id\(s\) 99"):
        load_tables(warehouse, "bad", batch, source="t", loaded_by="me")
    assert table_counts(warehouse) == before  # persons of the same load were not kept either
    bad_concept = observation_rows([1], [10]).set_column(2, "observation_concept_id", pa.array([123]))
    with pytest.raises(ValidationError, match=r"concept id.* 123"):
        load_tables(warehouse, "bad2", {"person": person_rows([10]), "observation": bad_concept},
                    source="t", loaded_by="me")
    assert table_counts(warehouse) == before


def _visits(ids: list[int], preceding: list[int | None]) -> pa.Table:
    return pa.table({"visit_occurrence_id": ids, "person_id": [10] * len(ids),
                     "visit_concept_id": [9202] * len(ids),
                     "visit_start_date": [dt.date(2024, 1, 2)] * len(ids),
                     "visit_end_date": [dt.date(2024, 1, 2)] * len(ids),
                     "visit_type_concept_id": [32817] * len(ids),
                     "preceding_visit_occurrence_id": pa.array(preceding, pa.int64())})


def test_references_within_one_table_are_checked(warehouse: sa.Engine) -> None:
    """A visit may follow a visit of the same load or of an earlier one, never an unknown one."""
    load_tables(warehouse, "v1", {"person": person_rows([10]), "visit_occurrence": _visits([1, 2], [None, 1])},
                source="t", loaded_by="me")
    load_tables(warehouse, "v2", {"visit_occurrence": _visits([3, 4], [2, 3])}, source="t", loaded_by="me")
    before = table_counts(warehouse)
    with pytest.raises(ValidationError, match=r"visit_occurrence\.preceding_visit_occurrence_id: "
                                              r"unknown visit_occurrence id\(s\) 7, 8$"):
        load_tables(warehouse, "v3", {"visit_occurrence": _visits([5, 6], [7, 8])}, source="t", loaded_by="me")
    assert table_counts(warehouse) == before


def test_bad_columns_are_named(warehouse: sa.Engine) -> None:
    with pytest.raises(ValidationError, match=r"person\.year_of_birth: required column"):
        load_tables(warehouse, "x", {"person": person_rows([1]).drop(["year_of_birth"])},
                    source="t", loaded_by="me")
    with pytest.raises(ValidationError, match=r"unknown column.*nir"):
        load_tables(warehouse, "x", {"person": person_rows([1]).append_column("nir", pa.array(["1"]))},
                    source="t", loaded_by="me")
    nulls = person_rows([1, 2]).set_column(2, "year_of_birth", pa.array([1960, None]))
    with pytest.raises(ValidationError, match=r"person\.year_of_birth: 1 empty"):
        load_tables(warehouse, "x", {"person": nulls}, source="t", loaded_by="me")
    with pytest.raises(ValidationError, match="duplicate identifiers"):
        load_tables(warehouse, "x", {"person": person_rows([5, 5])}, source="t", loaded_by="me")
    text = person_rows([1]).set_column(2, "year_of_birth", pa.array(["nineteen"]))
    with pytest.raises(ValidationError, match=r"person\.year_of_birth: values do not fit"):
        load_tables(warehouse, "x", {"person": text}, source="t", loaded_by="me")
    with pytest.raises(ValidationError, match="unknown warehouse table"):
        load_tables(warehouse, "x", {"patients": person_rows([1])}, source="t", loaded_by="me")
    assert table_counts(warehouse)["person"] == 0


def test_values_round_trip(warehouse: sa.Engine) -> None:
    obs = observation_rows([7], [1]).append_column("value_as_number", pa.array([2.125]))
    load_tables(warehouse, "rt", {"person": person_rows([1]), "observation": obs},
                source="t", loaded_by="me")
    table = metadata.tables["observation"]
    with warehouse.connect() as conn:
        row = conn.execute(sa.select(table)).one()
    assert (row.observation_id, row.person_id, row.value_as_number) == (7, 1, 2.125)
    assert row.observation_date == dt.date(2024, 1, 2) and row.value_as_string == "control"
    assert row.visit_occurrence_id is None


def test_mini_vocabulary_ancestors(warehouse: sa.Engine) -> None:
    ancestor = metadata.tables["concept_ancestor"]
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(ancestor.c.descendant_concept_id,
                                      ancestor.c.min_levels_of_separation)
                            .where(ancestor.c.ancestor_concept_id == 2000200001)).all()
    levels = dict(rows)
    assert levels[2000200001] == 0 and levels[2000200002] == 1 and levels[2000200003] == 2
    assert load_mini_vocabulary(warehouse).already_loaded
