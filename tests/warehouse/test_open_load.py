"""Loads given one table at a time (``open_load``): the same unit as ``load_tables``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.warehouse.conftest import observation_rows, person_rows
from workbench.errors import ConflictError, ValidationError
from workbench.warehouse import load_tables, table_counts
from workbench.warehouse import loader as loader_module
from workbench.warehouse.loader import open_load
from workbench.warehouse.schema import LOAD_LOG


def _digest(engine: sa.Engine, load_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(LOAD_LOG.c.content_sha256).where(LOAD_LOG.c.load_id == load_id)).scalar_one()


def test_same_digest_and_rows_as_load_tables_in_any_order(warehouse: sa.Engine) -> None:
    """Children before parents still load (their references are checked again at the end), and
    the load log holds the digest load_tables gives the same tables, so re-runs by either agree."""
    with open_load(warehouse, "S1", source="t", loaded_by="me") as load:
        load.add("observation", observation_rows([1, 2], [10, 11]))  # its persons come next
        load.add("person", person_rows([10, 11]))
        result = load.finish()
    assert result.row_counts == {"observation": 2, "person": 2} and not result.already_loaded
    assert table_counts(warehouse)["observation"] == 2
    again = load_tables(warehouse, "S1", {"person": person_rows([10, 11]), "observation": observation_rows([1, 2], [10, 11])},
                        source="t", loaded_by="me")
    assert again.already_loaded and again.row_counts == result.row_counts
    load_tables(warehouse, "T1", {"person": person_rows([20])}, source="t", loaded_by="me")
    with open_load(warehouse, "T1", source="t", loaded_by="me") as load:
        load.add("person", person_rows([20]))
        assert load.finish().already_loaded
    with pytest.raises(ConflictError, match="S1"), open_load(warehouse, "S1", source="t", loaded_by="me") as load:
        load.add("person", person_rows([10, 12]))
        load.finish()
    assert table_counts(warehouse)["person"] == 3
    assert _digest(warehouse, "T1") != _digest(warehouse, "S1")


def test_missing_reference_found_at_the_end_writes_nothing(warehouse: sa.Engine) -> None:
    before = table_counts(warehouse)
    with pytest.raises(ValidationError, match=r"observation\.person_id: unknown person id\(s\) 99$"), \
            open_load(warehouse, "bad", source="t", loaded_by="me") as load:
        load.add("observation", observation_rows([1, 2], [10, 99]))
        load.add("person", person_rows([10]))
        load.finish()
    assert table_counts(warehouse) == before
    with pytest.raises(ValidationError, match=r"person\.person_id: duplicate"), \
            open_load(warehouse, "dup", source="t", loaded_by="me") as load:
        load.add("person", person_rows([30, 30]))
        load.add("observation", observation_rows([5], [30]))
        load.finish()
    assert table_counts(warehouse) == before


def test_leaving_without_finish_or_on_an_error_rolls_back(warehouse: sa.Engine,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = table_counts(warehouse)
    with warehouse.connect() as conn:
        logged = conn.execute(sa.select(sa.func.count()).select_from(LOAD_LOG)).scalar_one()
    with pytest.raises(RuntimeError, match="without finish"), \
            open_load(warehouse, "open", source="t", loaded_by="me") as load:
        load.add("person", person_rows([40]))
    with pytest.raises(KeyError), open_load(warehouse, "caller", source="t", loaded_by="me") as load:
        load.add("person", person_rows([41]))
        raise KeyError("the caller failed while building the next table")
    with pytest.raises(ValidationError, match="given twice"), \
            open_load(warehouse, "twice", source="t", loaded_by="me") as load:
        load.add("person", person_rows([42]))
        load.add("person", person_rows([43]))
    real = loader_module._insert

    def crash(conn, name, table):  # type: ignore[no-untyped-def]
        if name == "observation":
            raise OSError("disk unplugged")
        real(conn, name, table)

    monkeypatch.setattr(loader_module, "_insert", crash)
    with pytest.raises(OSError, match="unplugged"), open_load(warehouse, "crash", source="t", loaded_by="me") as load:
        load.add("person", person_rows([44]))
        load.add("observation", observation_rows([9], [44]))
        load.finish()
    assert table_counts(warehouse) == before
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(LOAD_LOG)).scalar_one() == logged
