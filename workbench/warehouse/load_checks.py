"""The loader's checks of one incoming table: duplicate keys, keys already in the warehouse and
references to rows or concepts that do not exist, each refused with the table and column named.

On DuckDB the incoming table is read in place as the view ``_wb_load_<table>``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.errors import ValidationError
from workbench.warehouse.engine import native_duckdb
from workbench.warehouse.schema import foreign_keys, metadata, primary_key

__all__ = ["check_identifiers", "missing_references", "refuse_missing"]


def _distinct(table: pa.Table, column: str) -> list[object]:
    """Distinct non-null values of an incoming column."""
    return pc.unique(table.column(column).drop_null()).to_pylist()


def _has_duplicates(conn: Connection, name: str, table: pa.Table, column: str) -> bool:
    values = table.column(column)
    if pa.types.is_integer(values.type) and not values.null_count:
        array = values.to_numpy()
        if (array[1:] > array[:-1]).all():  # sorted ids, the usual ETL output: no hashing
            return False
    if conn.dialect.name == "duckdb":
        (dupes,) = native_duckdb(conn).execute(
            f"SELECT count(*) - count(DISTINCT {column}) FROM _wb_load_{name}").fetchall()[0]
        return bool(dupes)
    return pc.count_distinct(values).as_py() != table.num_rows


def check_identifiers(conn: Connection, name: str, table: pa.Table) -> None:
    """Refuse duplicate keys within the table and keys the warehouse already holds.

    Checked on the incoming values, so the cost follows the load, not the size of the warehouse.
    """
    keys = primary_key(name)
    if len(keys) != 1 or not table.num_rows:
        return
    column = table.column(keys[0])
    if _has_duplicates(conn, name, table, keys[0]):
        raise ValidationError("duplicate identifiers in this load", where=f"{name}.{keys[0]}")
    target = metadata.tables[name].c[keys[0]]
    lowest = pc.min(column).as_py()
    if isinstance(lowest, int):
        top = conn.execute(sa.select(sa.func.max(target))).scalar()
        if top is not None and lowest <= top:
            clash = conn.execute(sa.select(sa.func.count()).select_from(target.table).where(
                target.in_(column.to_pylist()))).scalar_one() if table.num_rows <= 50_000 else \
                _count_existing(conn, name, keys[0], column)
            if clash:
                raise ValidationError(f"{clash} identifier(s) already in the warehouse",
                                      where=f"{name}.{keys[0]}")


def missing_references(conn: Connection, name: str, table: pa.Table,
                       loaded: Mapping[str, pa.Table]) -> dict[str, list[object]]:
    """Reference column → values that point to no row or concept (a few per column).

    ``loaded``: the tables of this load already inserted (their rows count as existing).
    """
    references = [fk for fk in foreign_keys(name) if fk[0] in table.column_names]
    if conn.dialect.name == "duckdb":
        return _orphans(conn, name, references)
    orphans: dict[str, list[object]] = {}
    for column_name, target_table, target_column in references:
        values = _distinct(table, column_name)
        if not values:
            continue
        known: set[object] = set()
        if target_table in loaded and target_column in loaded[target_table].column_names:
            known = set(_distinct(loaded[target_table], target_column))
        missing = [v for v in values if v not in known]
        if missing:
            missing = _absent(conn, target_table, target_column, missing)
        if missing:
            orphans[column_name] = missing
            break
    return orphans


def refuse_missing(name: str, orphans: Mapping[str, list[object]]) -> None:
    """Raise for the first reference column (in schema order) with unknown values, if any."""
    for column_name, target_table, _ in foreign_keys(name):
        missing = orphans.get(column_name)
        if missing:
            shown = ", ".join(str(v) for v in sorted(missing)[:5])
            what = "concept id(s)" if target_table == "concept" else f"{target_table} id(s)"
            raise ValidationError(f"unknown {what} {shown}" + (" …" if len(missing) > 5 else ""),
                                  where=f"{name}.{column_name}")


def _orphans(conn: Connection, name: str, references: list[tuple[str, str, str]]) -> dict[str, list[object]]:
    """Up to 6 unknown values per reference column, all columns in one DuckDB statement.

    Parents of this load are already inserted (tables go parents first, in this transaction), so
    each column is one parallel anti-join of its distinct values against the target table; a
    reference to the same table may also point to a row of the load itself. One statement instead
    of one per column halves the cost for tables with many concept columns (survey_conduct: 8).
    """
    if not references:
        return {}
    branches = []
    for i, (column, target_table, target_column) in enumerate(references):
        absent = f"NOT EXISTS (SELECT 1 FROM {target_table} t WHERE t.{target_column} = d.v)"
        if target_table == name:
            absent += f" AND NOT EXISTS (SELECT 1 FROM _wb_load_{name} s WHERE s.{target_column} = d.v)"
        branches.append(f"(SELECT {i} AS k, d.v FROM (SELECT DISTINCT {column} AS v FROM _wb_load_{name}) d "
                        f"WHERE d.v IS NOT NULL AND {absent} LIMIT 6)")
    found: dict[str, list[object]] = {}
    for k, value in native_duckdb(conn).execute(" UNION ALL ".join(branches)).fetchall():
        found.setdefault(references[k][0], []).append(value)
    return found


def _count_existing(conn: Connection, name: str, key: str, column: pa.ChunkedArray) -> int:
    if conn.dialect.name == "duckdb":
        raw = native_duckdb(conn)
        raw.register("_wb_keys", pa.table({"k": column}))
        try:
            return int(raw.execute(
                f"SELECT count(*) FROM {name} t JOIN _wb_keys k ON t.{key} = k.k").fetchall()[0][0])
        finally:
            raw.unregister("_wb_keys")
    target = metadata.tables[name].c[key]
    values = column.to_pylist()
    return sum(conn.execute(sa.select(sa.func.count()).select_from(target.table).where(
        target.in_(values[i:i + 50_000]))).scalar_one() for i in range(0, len(values), 50_000))


def _absent(conn: Connection, table: str, column: str, values: list[object]) -> list[object]:
    target = metadata.tables[table].c[column]
    found: set[object] = set()
    for i in range(0, len(values), 50_000):
        part = values[i:i + 50_000]
        found.update(conn.execute(sa.select(target).where(target.in_(part))).scalars())
    return [v for v in values if v not in found]
