"""An extract's rows, read from the warehouse already joined to the people released to the project.

On DuckDB every statement of the extract runs as one ``UNION ALL`` joined, inside the engine, to
the released people (a registered Arrow table of ``person_id`` → position of the project
pseudonym): one pass that DuckDB spreads over its threads, and withheld people's rows never leave
the engine. The rows come as a stream of record batches while DuckDB still works, so that the
gateway can send the first ones before the last exist. The statements' SQL depends only on the
studies and variables asked for, so it is compiled once per such request and kept (SQLAlchemy's
compiler cost more than a small extract). Other engines run the statements one by one and drop
withheld people's rows on arrival.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from workbench.warehouse.engine import fetch_frame, native_duckdb
from workbench.warehouse.schema import metadata

__all__ = ["BATCH_ROWS", "ROWS", "Request", "duckdb_sql", "fetch_arrow", "members", "released_batches",
           "rows_schema", "study_people"]

PERSON, OBS, SURVEY, CONDITION = (metadata.tables[name] for name in
                                  ("person", "observation", "survey_conduct", "condition_occurrence"))
# What ``released_batches`` gives: the project pseudonym's position (the release's ``slot`` type:
# int16 up to 32,767 people), the study's position in the request (int8 up to 127 studies), then
# the extract's own columns.
ROWS = pa.schema([("participant", pa.int32()), ("study", pa.int16()), ("event", pa.string()),
                  ("date", pa.date32()), ("variable", pa.string()), ("value", pa.float64()),
                  ("text", pa.string())])
_BY_ID = pa.schema([("person_id", pa.int64()), ("event", pa.string()), ("date", pa.date32()),
                    ("variable", pa.string()), ("value", pa.float64()), ("text", pa.string())])
# Rows per record batch: 60 of DuckDB's 2,048-row vectors (~5 MB of a million-row extract). Measured
# alone, 65,536-row batches took longer in all and 1,000,000-row ones came ~45 ms late; through the
# gateway, 61,440 or 245,760 made no difference beyond this machine's noise.
BATCH_ROWS = 122_880
# (study, its requested variables) in the order of the study column's positions.
Request = tuple[tuple[str, tuple[str, ...]], ...]
Statements = Callable[[str, list[str]], list[tuple[str, sa.Select]]]  # type: ignore[type-arg]


def members(study: str) -> tuple[sa.Select, ...]:  # type: ignore[type-arg]
    """The study's people: whoever it deposited a sitting, a diagnosis or an arm for."""
    return (sa.select(SURVEY.c.person_id).where(SURVEY.c.survey_source_identifier == study),
            sa.select(CONDITION.c.person_id).where(CONDITION.c.condition_source_value.like(f"{study}:%")),
            sa.select(OBS.c.person_id).where(OBS.c.observation_source_value == f"{study}:arm"[:50]))


def _people_statement(studies: Sequence[str]) -> sa.Select:  # type: ignore[type-arg]
    union = sa.union_all(*[part for study in studies for part in members(study)])
    return (sa.select(PERSON.c.person_id, PERSON.c.person_source_value.label("code"))
            .where(PERSON.c.person_id.in_(union), PERSON.c.person_source_value.is_not(None))
            .order_by(PERSON.c.person_id))


def _compile(dialect: Dialect, stmt: sa.Select) -> tuple[str, tuple[object, ...]]:  # type: ignore[type-arg]
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), tuple(compiled.params[name] for name in compiled.positiontup or [])


def duckdb_sql(conn: sa.Connection, stmt: sa.Select) -> tuple[str, list[object]]:  # type: ignore[type-arg]
    """``stmt`` as DuckDB's native connection takes it: SQL text and positional parameters."""
    sql, params = _compile(conn.dialect, stmt)
    return sql, list(params)


@lru_cache(maxsize=64)
def _people_sql(dialect: Dialect, studies: tuple[str, ...]) -> tuple[str, tuple[object, ...]]:
    return _compile(dialect, _people_statement(studies))


@lru_cache(maxsize=64)
def _rows_sql(dialect: Dialect, request: Request, statements: Statements) -> tuple[str, tuple[object, ...]]:
    return _compile(dialect, _union(request, statements))


def fetch_arrow(conn: sa.Connection, stmt: sa.Select) -> pa.Table:  # type: ignore[type-arg]
    """Rows as Arrow: DuckDB hands them over natively; other engines go through pandas."""
    if conn.dialect.name == "duckdb":
        sql, params = duckdb_sql(conn, stmt)
        return native_duckdb(conn).sql(sql, params=params).to_arrow_table()
    frame, _sql = fetch_frame(conn, stmt)
    frame["date"] = pd.to_datetime(frame["date"])
    return pa.Table.from_pandas(frame, preserve_index=False)


def study_people(conn: sa.Connection, studies: Sequence[str]) -> pa.Table:
    """``person_id`` (int64) and ``code`` (warehouse pseudonym) of the studies' people, by ``person_id``."""
    if conn.dialect.name == "duckdb":
        sql, params = _people_sql(conn.dialect, tuple(studies))
        table = native_duckdb(conn).sql(sql, params=list(params)).to_arrow_table()
        return table.cast(pa.schema([("person_id", pa.int64()), ("code", pa.string())]))
    pairs = conn.execute(_people_statement(studies)).all()
    return pa.table({"person_id": pa.array([int(p) for p, _c in pairs], pa.int64()),
                     "code": pa.array([str(c) for _p, c in pairs], pa.string())})


def _union(request: Request, statements: Statements) -> sa.Select:  # type: ignore[type-arg]
    parts = [stmt.add_columns(sa.literal_column(str(position)).label("study"))
             for position, (study, variables) in enumerate(request)
             for _kind, stmt in statements(study, list(variables))]
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)  # type: ignore[return-value]


def rows_schema(request: Request, released: pa.Table) -> pa.Schema:
    """``ROWS`` with the position types that fit: the release's ``slot``, int8 up to 127 studies."""
    return ROWS.set(0, ROWS.field("participant").with_type(released.schema.field("slot").type)).set(
        1, ROWS.field("study").with_type(pa.int8() if len(request) < 2**7 else pa.int16()))


def released_batches(conn: sa.Connection, request: Request, statements: Statements,
                     released: pa.Table) -> Generator[pa.RecordBatch, None, None]:
    """The requested rows of the ``released`` people (``person_id``, ``slot``), as ``rows_schema``
    batches, each given as soon as the engine has it. Closing the generator early stops the query.

    ``statements(study, variables)`` gives a study's statements with ``person_id`` as first column.
    """
    schema = rows_schema(request, released)
    if conn.dialect.name != "duckdb":
        yield from _portable(conn, request, statements, released).cast(schema).to_batches(BATCH_ROWS)
        return
    inner, params = _rows_sql(conn.dialect, request, statements)
    raw = native_duckdb(conn)
    name = f"gateway_people_{secrets.token_hex(8)}"
    raw.register(name, released)
    reader = None
    try:
        reader = raw.sql(
            f"SELECT p.slot AS participant, CAST(q.study AS {'TINYINT' if len(request) < 2**7 else 'SMALLINT'}) AS study, "
            f"CAST(q.event AS VARCHAR) AS event, "
            f"q.date, q.variable, CAST(q.value AS DOUBLE) AS value, CAST(q.text AS VARCHAR) AS text "
            f"FROM ({inner}) q JOIN {name} p ON p.person_id = q.person_id", params=list(params)
        ).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            yield batch.cast(schema)
    finally:
        if reader is not None:
            reader.close()
        raw.unregister(name)


def _portable(conn: sa.Connection, request: Request, statements: Statements, released: pa.Table) -> pa.Table:
    """The same on any other engine: each statement fetched, withheld people's rows dropped here."""
    out = []
    for position, (study, variables) in enumerate(request):
        for _kind, stmt in statements(study, list(variables)):
            part = fetch_arrow(conn, stmt).select(_BY_ID.names).cast(_BY_ID)
            where = pc.index_in(part["person_id"], value_set=released["person_id"])
            part = part.filter(pc.is_valid(where))
            slot = released["slot"].take(where.filter(pc.is_valid(where)))
            out.append(pa.table({"participant": slot.cast(pa.int32()), "study": np.full(part.num_rows, position, np.int16),
                                 **{c: part[c] for c in _BY_ID.names[1:]}}, schema=ROWS))
    return pa.concat_tables(out) if out else ROWS.empty_table()
