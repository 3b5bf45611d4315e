"""Trusted-party stores on SQLite and on a throwaway PostgreSQL database.

The PostgreSQL database is created once per test session and dropped at its end; each test
starts from an empty ``public`` schema. Nothing here touches the operational store.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from workbench.settings import Settings
from workbench.trusted_party import (
    ContactPreferences,
    Identity,
    TrustedParty,
    init_store,
    open_trusted_party,
)

PG_ADMIN = os.environ.get("WESHARE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for these tests ({PG_ADMIN}): {exc}")


@pytest.fixture(scope="session")
def ttp_pg_database() -> Iterator[str]:
    name = f"weshare_ttp_{uuid.uuid4().hex[:10]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def ttp_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ttp.sqlite'}"
    url = request.getfixturevalue("ttp_pg_database")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("DROP FUNCTION IF EXISTS ttp_audit_append_only() CASCADE")
    return url


@pytest.fixture
def ttp_settings(tmp_path: Path, ttp_url: str) -> Settings:
    return Settings(home=tmp_path / "var", trusted_party_url=ttp_url)


@pytest.fixture
def key_path(ttp_settings: Settings) -> Path:
    return Path(ttp_settings.home) / "ttp-master.key"


@pytest.fixture
def tp(ttp_settings: Settings, key_path: Path) -> Iterator[TrustedParty]:
    assert init_store(ttp_settings, key_path, actor="ops")
    party = open_trusted_party(ttp_settings, key_path)
    yield party
    party.close()


def _person(first: str = "Marie", last: str = "Dupont", born: date = date(1956, 2, 14),
            sex: str = "F", **extra: object) -> Identity:
    extra.setdefault("email", f"{first}.{last}@example.org".lower().replace(" ", ""))
    extra.setdefault("contact", ContactPreferences())
    return Identity(first, last, born, sex, **extra)  # type: ignore[arg-type]


@pytest.fixture
def make_person():  # type: ignore[no-untyped-def]
    """Build an ``Identity`` with plausible defaults (reserved example.org addresses)."""
    return _person
