"""Warehouse fixtures on DuckDB (a file per test) and PostgreSQL (a throwaway database per test,
copied from a session template that already holds the schema and the mini-vocabulary)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from sqlalchemy.engine import Engine

from workbench.warehouse import connect, create_schema, load_mini_vocabulary, load_tables
from workbench.warehouse.sample import sample_cohort

PG_ADMIN = os.environ.get("WESHARE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]
SAMPLE_PERSONS, SAMPLE_SEED = 1500, 7


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for these tests ({PG_ADMIN}): {exc}")


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


class _PgDatabases:
    """Creates databases and drops every one of them at the end of the session."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"weshare_wh_{uuid.uuid4().hex[:10]}"
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.names.append(name)
        return name

    def drop_all(self) -> None:
        with _admin() as admin:
            for name in reversed(self.names):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[_PgDatabases]:
    dbs = _PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_warehouse_template(pg_databases: _PgDatabases) -> str:
    name = pg_databases.create()
    engine = connect(_pg_url(name))
    create_schema(engine)
    load_mini_vocabulary(engine)
    engine.dispose()
    return name


def _fresh(kind: str, request: pytest.FixtureRequest, tmp: Path) -> Engine:
    if kind == "duckdb":
        engine = connect(f"duckdb:///{tmp / 'warehouse.duckdb'}")
        create_schema(engine)
        load_mini_vocabulary(engine)
        return engine
    template = request.getfixturevalue("pg_warehouse_template")
    name = request.getfixturevalue("pg_databases").create(template)
    return connect(_pg_url(name))


@pytest.fixture(params=ENGINES)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty warehouse (schema + mini-vocabulary) for one test."""
    engine = _fresh(request.param, request, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sample_batches() -> list[dict[str, pa.Table]]:
    return list(sample_cohort(SAMPLE_PERSONS, seed=SAMPLE_SEED, chunk=1000))


@pytest.fixture(scope="session")
def sample_frames(sample_batches: list[dict[str, pa.Table]]) -> dict[str, pd.DataFrame]:
    """The sample as pandas frames: the reference the SQL path is compared with."""
    names = sample_batches[0].keys()
    return {n: pa.concat_tables([b[n] for b in sample_batches]).to_pandas() for n in names}


@pytest.fixture(scope="session", params=ENGINES)
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           sample_batches: list[dict[str, pa.Table]]) -> Iterator[Engine]:
    """A read-only warehouse holding the sample cohort, shared by the query tests."""
    if request.param == "duckdb":
        engine = connect(f"duckdb:///{tmp_path_factory.mktemp('wh') / 'loaded.duckdb'}")
        create_schema(engine)
        load_mini_vocabulary(engine)
    else:
        template = request.getfixturevalue("pg_warehouse_template")
        engine = connect(_pg_url(request.getfixturevalue("pg_databases").create(template)))
    for i, batch in enumerate(sample_batches):
        load_tables(engine, f"sample-{i}", batch, source="tests", loaded_by="pytest")
    yield engine
    engine.dispose()
