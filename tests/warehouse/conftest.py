"""Warehouse fixtures: the sample cohort, and a read-only warehouse holding it on DuckDB and on
PostgreSQL (empty warehouses per test come from the root conftest)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy.engine import Engine

from workbench.warehouse import load_tables
from workbench.warehouse.sample import sample_cohort

WAREHOUSES = ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]
SAMPLE_PERSONS, SAMPLE_SEED = 1500, 7


def person_rows(ids: list[int]) -> pa.Table:
    """Minimal valid ``person`` rows, for loader tests."""
    return pa.table({"person_id": ids, "gender_concept_id": [8532] * len(ids),
                     "year_of_birth": [1960] * len(ids), "race_concept_id": [0] * len(ids),
                     "ethnicity_concept_id": [0] * len(ids)})


def observation_rows(ids: list[int], persons: list[int]) -> pa.Table:
    """Minimal valid ``observation`` rows (an arm) of ``persons``, for loader tests."""
    return pa.table({"observation_id": ids, "person_id": persons,
                     "observation_concept_id": [2000000402] * len(ids),
                     "observation_date": [dt.date(2024, 1, 2)] * len(ids),
                     "observation_type_concept_id": [32817] * len(ids),
                     "value_as_string": ["control"] * len(ids)})


@pytest.fixture(scope="session")
def sample_batches() -> list[dict[str, pa.Table]]:
    return list(sample_cohort(SAMPLE_PERSONS, seed=SAMPLE_SEED, chunk=1000))


@pytest.fixture(scope="session")
def sample_frames(sample_batches: list[dict[str, pa.Table]]) -> dict[str, pd.DataFrame]:
    """The sample as pandas frames: the reference the SQL path is compared with."""
    names = sample_batches[0].keys()
    return {n: pa.concat_tables([b[n] for b in sample_batches]).to_pandas() for n in names}


@pytest.fixture(scope="session", params=WAREHOUSES)
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           new_warehouse: Callable[[str, Path], Engine],
           sample_batches: list[dict[str, pa.Table]]) -> Iterator[Engine]:
    """A read-only warehouse holding the sample cohort, shared by the query tests."""
    engine = new_warehouse(request.param, tmp_path_factory.mktemp("wh"))
    for i, batch in enumerate(sample_batches):
        load_tables(engine, f"sample-{i}", batch, source="tests", loaded_by="pytest")
    yield engine
    engine.dispose()
