"""Shared fixtures: a migrated operational store on SQLite and on the local PostgreSQL server.

PostgreSQL: one throwaway database is migrated per run and used as a template, so each test gets
a fresh copy in milliseconds; every database made here is dropped at the end of the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from workbench.settings import Settings
from workbench.storage.engine import make_engine
from workbench.storage.migrate import upgrade

PG_ADMIN = os.environ.get("WESHARE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
WAREHOUSES = ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for these tests ({PG_ADMIN}): {exc}")


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"weshare_tpl_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_pg_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test; returns its URL."""
    template = request.getfixturevalue("pg_template")
    name = f"weshare_t_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a migrated operational store, once per backend."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_database")
    url = f"sqlite:///{tmp_path / 'weshare.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(home=tmp_path / "var", database_url=store_url)


class PgDatabases:
    """Creates databases and drops every one of them at the end of the session."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"weshare_wh_{uuid.uuid4().hex[:10]}"
        with _pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.names.append(name)
        return name

    def drop_all(self) -> None:
        with _pg_admin() as admin:
            for name in reversed(self.names):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_warehouse_template(pg_databases: PgDatabases) -> str:
    """A warehouse database holding the schema and the mini-vocabulary, copied per test."""
    from workbench.warehouse import connect, create_schema, load_mini_vocabulary

    name = pg_databases.create()
    engine = connect(_pg_url(name))
    create_schema(engine)
    load_mini_vocabulary(engine)
    engine.dispose()
    return name


@pytest.fixture(scope="session")
def new_warehouse(request: pytest.FixtureRequest) -> Callable[[str, Path], Engine]:
    """Makes an empty warehouse (schema + mini-vocabulary): a DuckDB file in a folder, or a copy of
    the PostgreSQL template (asked for only then, so DuckDB-only runs need no server)."""
    from workbench.warehouse import connect, create_schema, load_mini_vocabulary

    def make(kind: str, folder: Path) -> Engine:
        if kind == "duckdb":
            engine = connect(f"duckdb:///{folder / 'warehouse.duckdb'}")
            create_schema(engine)
            load_mini_vocabulary(engine)
            return engine
        template = request.getfixturevalue("pg_warehouse_template")
        return connect(_pg_url(request.getfixturevalue("pg_databases").create(template)))

    return make


@pytest.fixture(params=WAREHOUSES)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path,
              new_warehouse: Callable[[str, Path], Engine]) -> Iterator[Engine]:
    """An empty warehouse for one test, on DuckDB and on PostgreSQL."""
    engine = new_warehouse(request.param, tmp_path)
    yield engine
    engine.dispose()


# Test folders that start a live hub (15-30 s each before their first test).
_LIVE_HUB_FOLDERS = ("browser", "hub")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files that start a live hub first, then files with slow tests, then the rest, each keeping
    its tests' order. ``make test`` gives whole files to its workers (``--dist loadfile``) in this
    order, so the longest start first and the run does not end waiting on a long file begun last
    while the other workers idle."""
    rank: dict[Path, int] = {}
    for item in items:
        heavy = (0 if item.path.parent.name in _LIVE_HUB_FOLDERS
                 else 1 if item.get_closest_marker("slow") or item.get_closest_marker("browser") else 2)
        rank[item.path] = min(rank.get(item.path, 2), heavy)
    items.sort(key=lambda item: rank[item.path])  # stable: files stay whole, in their order within a rank


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """With DuckDB and the SQLAlchemy ORM both loaded, DuckDB's bindings print dozens of
    "nanobind: leaked" lines at interpreter teardown (an upstream teardown-order report, not a
    leak in our code). The summary is printed by now; exit with pytest's status, skipping it."""
    import logging
    import sys

    # Not in an xdist worker: its last report to the controller may still be on the wire.
    if "duckdb" in sys.modules and _EXIT_STATUS and not os.environ.get("PYTEST_XDIST_WORKER"):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
