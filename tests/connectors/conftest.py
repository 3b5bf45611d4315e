"""Connector tests use the root conftest's warehouses (DuckDB and PostgreSQL) and a trusted party on
SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.settings import Settings
from workbench.trusted_party import TrustedParty, init_store, open_trusted_party


@pytest.fixture
def ttp_settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "var")
    init_store(settings, actor="test")
    return settings


@pytest.fixture
def tp(ttp_settings: Settings) -> Iterator[TrustedParty]:
    with open_trusted_party(ttp_settings) as party:
        yield party
