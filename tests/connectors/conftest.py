"""Warehouses on DuckDB and PostgreSQL (a throwaway database per test, from a session template
holding the schema and the mini-vocabulary) and a trusted party on SQLite, for connector tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import Engine

from workbench.settings import Settings
from workbench.trusted_party import TrustedParty, init_store, open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary

PG_ADMIN = os.environ.get("WESHARE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for these tests ({PG_ADMIN}): {exc}")


def pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


class PgDatabases:
    def __init__(self) -> None:
        self.names: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"weshare_cx_{uuid.uuid4().hex[:10]}"
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.names.append(name)
        return name

    def drop_all(self) -> None:
        with _admin() as admin:
            for name in reversed(self.names):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def wh_pg_dbs() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def wh_pg_template(wh_pg_dbs: PgDatabases) -> str:
    name = wh_pg_dbs.create()
    engine = connect(pg_url(name))
    create_schema(engine)
    load_mini_vocabulary(engine)
    engine.dispose()
    return name


@pytest.fixture(params=ENGINES)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "duckdb":
        engine = connect(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
        create_schema(engine)
        load_mini_vocabulary(engine)
    else:
        template = request.getfixturevalue("wh_pg_template")
        engine = connect(pg_url(request.getfixturevalue("wh_pg_dbs").create(template)))
    yield engine
    engine.dispose()


@pytest.fixture
def ttp_settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "var")
    init_store(settings, actor="test")
    return settings


@pytest.fixture
def tp(ttp_settings: Settings) -> Iterator[TrustedParty]:
    with open_trusted_party(ttp_settings) as party:
        yield party
