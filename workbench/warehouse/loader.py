"""Bulk loads through Arrow: all-or-nothing, idempotent by a load id, referentially checked.

DuckDB reads registered Arrow tables without copying; PostgreSQL receives them through ``COPY``.
Everything of one load — the rows, the checks and the load-log entry — happens in one transaction,
so a failed load leaves the warehouse exactly as it was. Re-running a load id with the same content
is a no-op (a retried ETL job does not duplicate rows); with other content it is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
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
from workbench.warehouse.load_checks import check_identifiers, missing_references, refuse_missing
from workbench.warehouse.schema import LOAD_LOG, foreign_keys, metadata

__all__ = ["Load", "LoadResult", "load_tables", "open_load", "to_arrow"]

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
    start = time.perf_counter()
    arrow = {name: to_arrow(name, data) for name, data in tables.items()}  # all refused up front
    with open_load(engine, load_id, source=source, loaded_by=loaded_by, before=before) as load:
        for name in _load_order(arrow):
            load.add(name, arrow[name])
        result = load.finish(after=after)
    return result if result.already_loaded else dataclasses.replace(result, seconds=time.perf_counter() - start)


@contextlib.contextmanager
def open_load(engine: Engine, load_id: str, *, source: str, loaded_by: str,
              before: Callable[[Connection], None] | None = None) -> Iterator[Load]:
    """A load whose tables are given one at a time (``Load.add``), then ``Load.finish``.

    Same unit as ``load_tables`` (one transaction, same checks, same digest and load log): each
    table is checked and inserted by a worker thread while the caller builds the next one.
    Leaving the block without ``finish`` rolls everything back.
    """
    if not load_id or len(load_id) > 64:
        raise ValidationError("a load id of 1 to 64 characters is required", where="load")
    with engine.begin() as conn, ThreadPoolExecutor(max_workers=1) as inserts, \
            ThreadPoolExecutor(max_workers=1) as hashing:
        load = Load(conn, load_id, source, loaded_by, inserts, hashing)
        try:
            if not load.replay and before is not None:
                before(conn)
            yield load
            if not load.finished:
                raise RuntimeError(f"load {load_id!r} left without finish(): rolled back")
        finally:
            load.close()


class Load:
    """One load in progress; see ``open_load``."""

    def __init__(self, conn: Connection, load_id: str, source: str, loaded_by: str,
                 inserts: ThreadPoolExecutor, hashing: ThreadPoolExecutor) -> None:
        self._conn, self.load_id, self._source, self._loaded_by = conn, load_id, source, loaded_by
        self._inserts, self._hashing = inserts, hashing
        self._start = time.perf_counter()
        self._busy = 0.0  # seconds of the loader's own work (conversion, checks, inserts)
        self._tables: dict[str, pa.Table] = {}
        self._pending: list[Future[None]] = []
        self._recheck: list[str] = []  # tables with references to rows a later table may bring
        self._views: list[str] = []
        self._failed = False
        self.finished = False
        self._previous = conn.execute(sa.select(LOAD_LOG.c.content_sha256, LOAD_LOG.c.row_counts)
                                      .where(LOAD_LOG.c.load_id == load_id)).first()
        #: The load id was done before: tables are only gathered, for ``finish`` to compare.
        self.replay = self._previous is not None

    def add(self, name: str, data: pa.Table | pd.DataFrame) -> None:
        """Check ``data`` against the table's columns now; its keys, references and insert follow
        in the worker, in the order the tables are added (parents first is cheapest)."""
        started = time.perf_counter()
        if name in self._tables:
            raise ValidationError("table given twice in one load", where=f"{name} (load {self.load_id})")
        self._raise_failed()
        arrow = to_arrow(name, data)
        before = dict(self._tables)  # inserted by the time the worker reaches this table
        self._tables[name] = arrow
        self._busy += time.perf_counter() - started
        if not self.replay:
            self._pending.append(self._inserts.submit(self._load_one, name, arrow, before))

    def _load_one(self, name: str, table: pa.Table, loaded: Mapping[str, pa.Table]) -> None:
        if self._failed:
            return
        started = time.perf_counter()
        try:
            conn = self._conn
            if conn.dialect.name == "duckdb":
                table = _batched(table)
                self._views += _register(conn, {name: table})
            check_identifiers(conn, name, table)
            if missing_references(conn, name, table, loaded):
                self._recheck.append(name)
            _insert(conn, name, table)
        except BaseException:
            self._failed = True
            raise
        finally:
            self._busy += time.perf_counter() - started

    def _raise_failed(self) -> None:
        for future in self._pending:
            if future.done() and future.exception() is not None:
                future.result()

    def finish(self, after: Callable[[Connection], None] | None = None) -> LoadResult:
        """Wait for the inserts, check again the references that were missing when their table
        came, run ``after``, write the load log and commit."""
        started = time.perf_counter()
        counts = {name: t.num_rows for name, t in self._tables.items()}
        if self.replay:
            if self._previous.content_sha256 != _content_hash(self._tables):
                raise ConflictError(f"load {self.load_id!r} was already done with different content")
            self.finished = True
            return LoadResult(self.load_id, json.loads(self._previous.row_counts), already_loaded=True)
        # The digest (of the tables as given, so it does not depend on how they are batched)
        # is computed while the database inserts: hashlib and DuckDB release the GIL.
        digest = self._hashing.submit(_content_hash, dict(self._tables))
        waited = time.perf_counter()
        for future in self._pending:
            future.result()
        waited = time.perf_counter() - waited
        conn = self._conn
        for name in self._recheck:  # the rows they pointed to may have come with a later table
            loaded = {n: t for n, t in self._tables.items() if n != name}
            refuse_missing(name, missing_references(conn, name, self._tables[name], loaded))
        if after is not None:
            after(conn)
        conn.execute(LOAD_LOG.insert().values(
            load_id=self.load_id, source=self._source[:255], content_sha256=digest.result(),
            loaded_at=datetime.now(UTC).replace(tzinfo=None), row_counts=json.dumps(counts),
            loaded_by=self._loaded_by[:100]))
        try:
            conn.commit()
        except sa.exc.IntegrityError as exc:
            raise ValidationError(f"referential integrity: {exc.orig}", where=f"load {self.load_id}") from None
        self.finished = True
        own = self._busy + time.perf_counter() - started - waited
        return LoadResult(self.load_id, counts, seconds=own,
                          extra={"open_seconds": time.perf_counter() - self._start})

    def close(self) -> None:
        """Stop queued work (after an error), wait for the running insert, drop the views."""
        self._failed = self._failed or not self.finished
        for future in self._pending:
            future.cancel()
        for future in self._pending:
            with contextlib.suppress(BaseException):
                future.result()
        _unregister(self._conn, self._views)


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


