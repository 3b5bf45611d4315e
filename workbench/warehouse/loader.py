"""Bulk loads through Arrow: all-or-nothing, idempotent by a load id, referentially checked.

DuckDB reads registered Arrow tables without copying; PostgreSQL receives them through ``COPY``.
Everything of one load — the rows, the checks and the load-log entry — happens in one transaction,
so a failed load leaves the warehouse exactly as it was. Re-running a load id with the same content
is a no-op (a retried ETL job does not duplicate rows); with other content it is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.errors import ConflictError, ValidationError
from workbench.warehouse.engine import native_duckdb
from workbench.warehouse.schema import LOAD_LOG, foreign_keys, metadata, primary_key

__all__ = ["LoadResult", "load_tables", "to_arrow"]

# Parents before children, so checks inside one load see the rows it brings.
_ORDER = [t.name for t in metadata.sorted_tables]
_ARROW_TYPES = {
    "big_integer": pa.int64(), "integer": pa.int32(), "date": pa.date32(),
    "datetime": pa.timestamp("us"), "double": pa.float64(), "float": pa.float64(), "text": pa.string(), "string": pa.string(),
}
# DuckDB scans an Arrow table one record batch per thread: a single 1.6 M-row chunk (what pandas
# and most ETL code give) is read, checked and inserted by one thread. Batches of one row group.
_BATCH_ROWS = 122_880


@dataclass(frozen=True)
class LoadResult:
    load_id: str
    row_counts: dict[str, int]
    already_loaded: bool = False
    seconds: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)


def _arrow_type(column: sa.Column) -> pa.DataType:  # type: ignore[type-arg]
    return _ARROW_TYPES[column.type.__visit_name__]


def to_arrow(table_name: str, data: pa.Table | pd.DataFrame) -> pa.Table:
    """Check ``data`` against the table's columns and cast it to their types.

    Unknown columns, missing required columns, nulls in required columns and uncastable values
    are refused with the table and column named.
    """
    if table_name not in metadata.tables:
        raise ValidationError(f"unknown warehouse table {table_name!r}", where="load")
    table = metadata.tables[table_name]
    arrow = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    unknown = [n for n in arrow.column_names if n not in table.columns]
    if unknown:
        raise ValidationError(f"unknown column(s) {', '.join(unknown)}", where=table_name)
    arrays, names = [], []
    for column in table.columns:
        if column.name not in arrow.column_names:
            if not column.nullable:
                raise ValidationError("required column is missing", where=f"{table_name}.{column.name}")
            continue
        values = arrow.column(column.name)
        if not column.nullable and values.null_count:
            raise ValidationError(f"{values.null_count} empty value(s) in a required column",
                                  where=f"{table_name}.{column.name}")
        try:
            values = values.cast(_arrow_type(column))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValidationError(f"values do not fit type {column.type}: {exc}",
                                  where=f"{table_name}.{column.name}") from None
        arrays.append(values)
        names.append(column.name)
    return pa.table(arrays, names=names)


class _HashSink(io.RawIOBase):
    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        return len(data)


def _content_hash(tables: Mapping[str, pa.Table]) -> str:
    sink = _HashSink()
    for name in sorted(tables):
        sink.write(name.encode() + b"\0")
        with pa.ipc.new_stream(sink, tables[name].schema) as writer:
            writer.write_table(tables[name])
    return sink.digest.hexdigest()


def load_tables(
    engine: Engine, load_id: str, tables: Mapping[str, pa.Table | pd.DataFrame], *,
    source: str, loaded_by: str,
    before: Callable[[Connection], None] | None = None,
    after: Callable[[Connection], None] | None = None,
) -> LoadResult:
    """Load ``tables`` (table name → rows) as one unit named ``load_id``.

    ``before`` and ``after`` run inside the same transaction, before the checks and inserts and
    after them (connectors replace changed rows and record their run state this way).
    """
    if not load_id or len(load_id) > 64:
        raise ValidationError("a load id of 1 to 64 characters is required", where="load")
    start = time.perf_counter()
    arrow = {name: to_arrow(name, data) for name, data in tables.items()}
    counts = {name: t.num_rows for name, t in arrow.items()}
    with engine.begin() as conn, ThreadPoolExecutor(max_workers=1) as pool:
        previous = conn.execute(sa.select(LOAD_LOG.c.content_sha256, LOAD_LOG.c.row_counts)
                                .where(LOAD_LOG.c.load_id == load_id)).first()
        if previous is not None:
            if previous.content_sha256 != _content_hash(arrow):
                raise ConflictError(f"load {load_id!r} was already done with different content")
            return LoadResult(load_id, json.loads(previous.row_counts), already_loaded=True)
        # The digest (of the tables as given, so it does not depend on how they are batched)
        # is computed while the database checks and inserts: hashlib and DuckDB release the GIL.
        hashing = pool.submit(_content_hash, arrow)
        if before is not None:
            before(conn)
        batched = {name: _batched(t) for name, t in arrow.items()} if conn.dialect.name == "duckdb" else arrow
        views = _register(conn, batched)
        try:
            for name in _load_order(batched):
                _check_keys(conn, name, batched[name], batched)
                _insert(conn, name, batched[name])
        finally:
            _unregister(conn, views)
        if after is not None:
            after(conn)
        digest = hashing.result()
        conn.execute(LOAD_LOG.insert().values(
            load_id=load_id, source=source[:255], content_sha256=digest,
            loaded_at=datetime.now(UTC).replace(tzinfo=None), row_counts=json.dumps(counts),
            loaded_by=loaded_by[:100]))
        try:
            conn.commit()
        except sa.exc.IntegrityError as exc:
            raise ValidationError(f"referential integrity: {exc.orig}", where=f"load {load_id}") from None
    return LoadResult(load_id, counts, seconds=time.perf_counter() - start)


def _batched(table: pa.Table) -> pa.Table:
    """The same rows as zero-copy slices of one row group each, so DuckDB reads them in parallel."""
    if table.num_rows <= _BATCH_ROWS:
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=_BATCH_ROWS), schema=table.schema)


def _load_order(arrow: Mapping[str, pa.Table]) -> list[str]:
    """Tables of the load, each after the tables it references (checks rely on it)."""
    pending = sorted(arrow, key=_ORDER.index)
    placed: list[str] = []
    while pending:
        ready = next((n for n in pending if all(t == n or t not in pending for _, t, _ in foreign_keys(n))),
                     pending[0])  # a reference cycle (none in OMOP) falls back to schema order
        placed.append(ready)
        pending.remove(ready)
    return placed


def _register(conn: Connection, arrow: Mapping[str, pa.Table]) -> list[str]:
    """On DuckDB, expose each incoming table as a view: checks and insert read it in place."""
    if conn.dialect.name != "duckdb":
        return []
    raw = native_duckdb(conn)
    for name, table in arrow.items():
        raw.register(f"_wb_load_{name}", table)
    return [f"_wb_load_{name}" for name in arrow]


def _unregister(conn: Connection, views: list[str]) -> None:
    raw = conn.connection.driver_connection
    for view in views:
        # An aborted transaction must not hide the error that aborted it.
        with contextlib.suppress(duckdb.Error):
            raw.unregister(view)  # type: ignore[union-attr]


def _insert(conn: Connection, name: str, table: pa.Table) -> None:
    if table.num_rows == 0:
        return
    cols = ", ".join(table.column_names)
    if conn.dialect.name == "duckdb":
        native_duckdb(conn).execute(
            f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _wb_load_{name}").fetchall()
        return
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {name} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())


def _distinct(table: pa.Table, column: str) -> list[object]:
    """Distinct non-null values of an incoming column."""
    return pa.compute.unique(table.column(column).drop_null()).to_pylist()


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
    return pa.compute.count_distinct(values).as_py() != table.num_rows


def _check_keys(conn: Connection, name: str, table: pa.Table, batch: Mapping[str, pa.Table]) -> None:
    """Refuse duplicate keys and references to rows or concepts that do not exist.

    Checked on the distinct values of the incoming batch, so the cost follows the batch, not the
    size of the warehouse.
    """
    keys = primary_key(name)
    if len(keys) == 1 and table.num_rows:
        column = table.column(keys[0])
        if _has_duplicates(conn, name, table, keys[0]):
            raise ValidationError("duplicate identifiers in this load", where=f"{name}.{keys[0]}")
        target = metadata.tables[name].c[keys[0]]
        lowest = pa.compute.min(column).as_py()
        if isinstance(lowest, int):
            top = conn.execute(sa.select(sa.func.max(target))).scalar()
            if top is not None and lowest <= top:
                clash = conn.execute(sa.select(sa.func.count()).select_from(target.table).where(
                    target.in_(column.to_pylist()))).scalar_one() if table.num_rows <= 50_000 else \
                    _count_existing(conn, name, keys[0], column)
                if clash:
                    raise ValidationError(f"{clash} identifier(s) already in the warehouse",
                                          where=f"{name}.{keys[0]}")
    references = [fk for fk in foreign_keys(name) if fk[0] in table.column_names]
    if conn.dialect.name == "duckdb":
        orphans = _orphans(conn, name, references)
    else:
        orphans = {}
        for column_name, target_table, target_column in references:
            values = _distinct(table, column_name)
            if not values:
                continue
            known: set[object] = set()
            if target_table in batch and target_column in batch[target_table].column_names:
                known = set(_distinct(batch[target_table], target_column))
            missing = [v for v in values if v not in known]
            if missing:
                missing = _absent(conn, target_table, target_column, missing)
            if missing:
                orphans[column_name] = missing
                break
    for column_name, target_table, _ in references:
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
