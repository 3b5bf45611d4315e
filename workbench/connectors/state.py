"""Run state kept in the warehouse, in the project's own schema ``weshare`` (not OMOP's).

- ``weshare.connector_record``: one row per imported target row — the source, the record's
  stable key at that source (``Condition/c-17``, ``conditions.csv:C-001``), a digest of what
  was written, and the target table and id. A run skips records whose digest is unchanged,
  replaces those whose digest changed (same target id), and inserts the new ones: nothing is
  imported twice and a repeated run only does what changed.
- ``weshare.connector_watermark``: the high-water mark of an incremental column per source
  stream (e.g. the largest ``condition_occurrence_id`` read from a hospital's OMOP database).
- ``weshare.connector_run``: each run's report (JSON), written in the same transaction as its rows.
- ``weshare.wearable_sample``: wearable time series (one row per sample), keyed by person,
  metric and start time, so overlapping exports add only the samples not yet held.

Stock OHDSI tools never look at this schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = ["SCHEMA", "ensure_state", "known_records", "metadata", "records", "runs", "samples",
           "watermarks"]

SCHEMA = "weshare"
metadata = sa.MetaData(schema=SCHEMA)

records = sa.Table(
    "connector_record", metadata,
    sa.Column("source", sa.String(120), primary_key=True),
    sa.Column("record_key", sa.String(255), primary_key=True),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("table_name", sa.String(40), nullable=False),
    sa.Column("target_id", sa.BigInteger, nullable=False),
    sa.Column("person_id", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
)
watermarks = sa.Table(
    "connector_watermark", metadata,
    sa.Column("source", sa.String(120), primary_key=True),
    sa.Column("stream", sa.String(120), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
runs = sa.Table(
    "connector_run", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("connector", sa.String(20), nullable=False),
    sa.Column("source", sa.String(120), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
)
samples = sa.Table(
    "wearable_sample", metadata,
    sa.Column("person_id", sa.BigInteger, primary_key=True),
    sa.Column("metric", sa.String(20), primary_key=True),
    sa.Column("start_time", sa.DateTime, primary_key=True),
    sa.Column("end_time", sa.DateTime, nullable=True),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("device", sa.String(60), nullable=True),
)


def ensure_state(engine: Engine) -> None:
    """Create the ``weshare`` schema and its tables if missing (idempotent)."""
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(SCHEMA, if_not_exists=True))
        metadata.create_all(conn, checkfirst=True)


def known_records(conn: Connection, source: str, keys: Iterable[str]) -> dict[str, Any]:
    """Stored state rows of ``source`` for these record keys: key → row."""
    wanted = sorted(set(keys))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 20_000):
        part = wanted[start:start + 20_000]
        found.update((r.record_key, r) for r in conn.execute(
            sa.select(records).where(records.c.source == source, records.c.record_key.in_(part))))
    return found
