"""Import from an establishment's own OMOP database (any SQLAlchemy URL) into the warehouse.

The source keeps its ids; the warehouse gets its own. Each source person is known to the
trusted party by its ``person_source_value`` (often the hospital's patient number, which is
why it never reaches the warehouse) or else by its ``person_id``; the warehouse person carries
the warehouse pseudonym. Clinical rows are copied column by column (visits, providers and
care sites of the source are not), and a row whose concept is 0 or unknown to the warehouse
vocabulary is rejected, naming the concept. Secondary concepts the warehouse lacks (a unit, a
value concept) become 0 and are counted.

Incremental: each table's largest primary key read is kept as its watermark, so the next run
reads only rows added since (``full=True`` reads everything again and, through the digests,
imports only what changed).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from workbench.connectors.pipeline import PatientRecord, Progress, Row, commit
from workbench.connectors.report import RunReport
from workbench.connectors.state import ensure_state, watermarks
from workbench.connectors.vocab import ensure_connector_vocabulary
from workbench.errors import StoreUnavailable, ValidationError
from workbench.trusted_party import TrustedParty
from workbench.trusted_party.sources import SourcePatient
from workbench.warehouse.schema import metadata

__all__ = ["CLINICAL_TABLES", "import_omop"]

CLINICAL_TABLES = ("condition_occurrence", "drug_exposure", "procedure_occurrence", "measurement",
                   "observation", "death")
_MAIN = {"condition_occurrence": "condition_concept_id", "drug_exposure": "drug_concept_id",
         "procedure_occurrence": "procedure_concept_id", "measurement": "measurement_concept_id",
         "observation": "observation_concept_id", "death": None}
_PK = {"person": "person_id", "condition_occurrence": "condition_occurrence_id", "drug_exposure": "drug_exposure_id",
       "procedure_occurrence": "procedure_occurrence_id", "measurement": "measurement_id",
       "observation": "observation_id", "death": "person_id"}
_DROP = {"person_id", "visit_occurrence_id", "visit_detail_id", "provider_id", "care_site_id",
         "preceding_visit_occurrence_id"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_GENDER = {8507: 8507, 8532: 8532}


def _read(conn: sa.Connection, table: str, schema: str, mark: int | None, chunk: int,
          tick: Progress) -> list[dict[str, Any]]:
    pk = _PK[table]
    name = f"{schema}.{table}" if schema else table
    rows: list[dict[str, Any]] = []
    last = mark if mark is not None else None
    while True:
        where = f"WHERE {pk} > :last " if last is not None else ""
        result = conn.execute(sa.text(f"SELECT * FROM {name} {where}ORDER BY {pk} LIMIT {int(chunk)}"),
                              {"last": last} if last is not None else {})
        batch = [dict(r._mapping) for r in result]
        rows += batch
        tick(f"read {table}", len(rows), len(rows) + (chunk if len(batch) == chunk else 0))
        if len(batch) < chunk:
            return rows
        last = batch[-1][pk]


def _has_table(conn: sa.Connection, table: str, schema: str) -> bool:
    name = f"{schema}.{table}" if schema else table
    try:
        with conn.begin_nested():
            conn.execute(sa.text(f"SELECT 1 FROM {name} WHERE 1 = 0")).fetchall()
        return True
    except sa.exc.DBAPIError:
        return False


def import_omop(engine: Engine, tp: TrustedParty, source_url: str, *, source: str, actor: str,
                schema: str = "", full: bool = False, chunk: int = 50_000,
                progress: Progress | None = None) -> RunReport:
    """Copy what is new in the source OMOP database (or everything with ``full``)."""
    if schema and not _IDENT.match(schema):
        raise ValidationError("not a schema name", where="--schema")
    if not source.strip() or len(source) > 100:
        raise ValidationError("name the source (the establishment), 1 to 100 characters", where="source")
    start = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    report = RunReport("omop", source)
    ensure_state(engine)
    ensure_connector_vocabulary(engine, loaded_by=actor)
    with engine.connect() as conn:
        marks = {} if full else dict(conn.execute(sa.select(watermarks.c.stream, watermarks.c.value)
                                                  .where(watermarks.c.source == source)).all())
    try:
        src = sa.create_engine(source_url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ValidationError(f"not a usable database URL ({exc.__class__.__name__})", where="source URL") from None
    new_marks: dict[str, str] = {}
    data: dict[str, list[dict[str, Any]]] = {}
    try:
        with src.connect() as conn:
            if not _has_table(conn, "person", schema):
                raise ValidationError("no person table: is this an OMOP CDM database?", where="source")
            people = _read(conn, "person", schema, None, chunk, tick)
            for table in CLINICAL_TABLES:
                if not _has_table(conn, table, schema):
                    continue
                mark = marks.get(table)
                data[table] = _read(conn, table, schema, int(mark) if mark and table != "death" else None,
                                    chunk, tick)
                if data[table] and table != "death":
                    new_marks[table] = str(max(int(r[_PK[table]]) for r in data[table]))
                elif mark:
                    new_marks[table] = mark
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"cannot read the source database: {exc.orig.__class__.__name__}") from None
    finally:
        src.dispose()
    patients = {}
    for p in people:
        key = f"person/{p['person_id']}"
        value = str(p.get("person_source_value") or "").strip()
        system = f"omop:{source}:person_source_value" if value else f"omop:{source}:person_id"
        patients[key] = PatientRecord(key, f"person {p['person_id']}",
                                      SourcePatient(system, value or str(p["person_id"])),
                                      _GENDER.get(int(p.get("gender_concept_id") or 0), 0),
                                      str(p.get("gender_source_value") or "")[:50],
                                      int(p["year_of_birth"]) if p.get("year_of_birth") else None)
    report.read["person"] = len(people)
    with engine.connect() as conn:
        concept = metadata.tables["concept"]
        wanted = {int(v) for rows in data.values() for r in rows for k, v in r.items()
                  if k.endswith("_concept_id") and v is not None}
        known: set[int] = set()
        ids = sorted(wanted)
        for i in range(0, len(ids), 20_000):
            known.update(conn.execute(sa.select(concept.c.concept_id)
                                      .where(concept.c.concept_id.in_(ids[i:i + 20_000]))).scalars())
    zeroed: Counter[str] = Counter()
    rows: list[Row] = []
    for table, items in data.items():
        report.read[table] = len(items)
        columns = [c.name for c in metadata.tables[table].columns]
        main = _MAIN[table]
        for r in items:
            where = f"{table} {_PK[table]}={r[_PK[table]]}"
            if main is not None:
                cid = int(r.get(main) or 0)
                if cid == 0:
                    report.reject(where, f"unmapped ({main} is 0)")
                    continue
                if cid not in known:
                    report.reject(where, f"concept {cid} is not in the warehouse vocabulary "
                                         "(load the site's Athena bundle)")
                    continue
            values: dict[str, Any] = {}
            for name in columns:
                if name in _DROP or name == _PK[table] or name not in r:
                    continue
                value = r[name]
                if name.endswith("_concept_id") and value is not None and int(value) not in known:
                    zeroed[name] += 1
                    value = 0
                if isinstance(value, datetime) and "datetime" not in name and name.endswith("date"):
                    value = value.date()
                if isinstance(value, str) and name.endswith("_date"):
                    value = date.fromisoformat(value[:10])
                values[name] = value
            links = {}
            if table == "measurement" and r.get("meas_event_field_concept_id") == 1147127 and r.get("measurement_event_id"):
                links["measurement_event_id"] = f"condition_occurrence/{r['measurement_event_id']}"
            elif table == "observation" and r.get("obs_event_field_concept_id") == 1147127 and r.get("observation_event_id"):
                links["observation_event_id"] = f"condition_occurrence/{r['observation_event_id']}"
            else:
                for name in ("measurement_event_id", "observation_event_id", "meas_event_field_concept_id",
                             "obs_event_field_concept_id"):
                    values.pop(name, None)  # links to source tables we do not copy
            key = f"{table}/{r[_PK[table]]}" if table != "death" else f"person/{r['person_id']}#death"
            rows.append(Row(key, where, table, f"person/{r['person_id']}", values, links))
    for name, n in zeroed.items():
        report.notes.append(f"{name}: {n} value(s) not in the warehouse vocabulary set to 0 (rows kept)")
    return commit(engine, tp, report, patients, rows, actor=actor, marks=new_marks, progress=progress,
                  started=start)
