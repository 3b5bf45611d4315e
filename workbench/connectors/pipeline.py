"""What every connector shares once its source is mapped: pseudonyms, ids, state, one load.

A connector turns its input into ``PatientRecord``s and ``Row``s (OMOP columns without ids)
and hands them to :func:`commit`, which

1. gets each patient's warehouse pseudonym from the trusted party (identifiers go there and
   nowhere else; patients opposed to reuse get none and their rows are rejected);
2. finds or creates the warehouse person, and widens or creates their observation period;
3. compares each row's digest with the run state: unchanged rows are skipped, changed ones
   replace the old row under the same id, new ones get fresh ids; references between rows
   (a stage to its cancer condition, an answer to its questionnaire sitting) are resolved
   within the batch or against earlier runs;
4. loads everything through ``load_tables`` in one transaction that also writes the state and
   the run report, so a failed run leaves the warehouse and the state as they were.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.connectors.report import RunReport
from workbench.connectors.state import ensure_state, known_records, records, runs, watermarks
from workbench.connectors.vocab import ensure_connector_vocabulary
from workbench.trusted_party import TrustedParty
from workbench.trusted_party.sources import SourcePatient, source_pseudonyms
from workbench.warehouse.loader import load_tables, to_arrow
from workbench.warehouse.schema import metadata, primary_key

__all__ = ["PatientRecord", "Progress", "Resolver", "Row", "bulk_insert", "commit", "new_run_id"]

Progress = Callable[[str, int, int], None]
# Patients → warehouse pseudonym (None: withheld, with the reason to report).
Resolver = Callable[[Sequence["PatientRecord"]], dict[str, tuple[str | None, str]]]
OPPOSED = "patient opposed to research reuse: not imported"
_EVENT_DATE = {"condition_occurrence": "condition_start_date", "drug_exposure": "drug_exposure_start_date",
               "procedure_occurrence": "procedure_date", "measurement": "measurement_date",
               "observation": "observation_date", "survey_conduct": "survey_start_date",
               "visit_occurrence": "visit_start_date", "death": "death_date"}
EHR_PERIOD = 32817


@dataclass
class PatientRecord:
    key: str                          # the patient's record key at the source
    where: str
    source: SourcePatient | None = None
    gender_concept_id: int = 0
    gender_source_value: str = ""
    year_of_birth: int | None = None
    death_date: date | None = None


@dataclass
class Row:
    key: str                          # stable record key at the source
    where: str                        # for the report: file, entry or row
    table: str
    patient: str                      # PatientRecord.key
    values: dict[str, Any]
    links: dict[str, str] = field(default_factory=dict)   # column → key of the referenced row
    optional: dict[str, str] = field(default_factory=dict)  # the same, set only if that row is known


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _ttp_resolver(tp: TrustedParty, actor: str, reason: str) -> Resolver:
    def resolve(patients: Sequence[PatientRecord]) -> dict[str, tuple[str | None, str]]:
        usable = [p for p in patients if p.source is not None]
        if not usable:
            return {}
        result = source_pseudonyms(tp, [p.source for p in usable], "warehouse",  # type: ignore[misc]
                                   actor=actor, reason=reason)
        return {p.key: (code, OPPOSED if code is None else "")
                for p, code in zip(usable, result.pseudonyms, strict=True)}
    return resolve


def bulk_insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows into a state table (DuckDB reads Arrow; PostgreSQL gets executemany)."""
    if not rows:
        return
    if conn.dialect.name == "duckdb":
        raw = conn.connection.driver_connection
        raw.execute("SELECT 1").fetchall()  # type: ignore[union-attr]
        arrow = pa.Table.from_pylist(rows)
        raw.register("_wb_state", arrow)  # type: ignore[union-attr]
        try:
            cols = ", ".join(arrow.column_names)
            raw.execute(f"INSERT INTO {table.schema}.{table.name} ({cols}) "  # type: ignore[union-attr]
                        f"SELECT {cols} FROM _wb_state").fetchall()
        finally:
            raw.unregister("_wb_state")  # type: ignore[union-attr]
        return
    conn.execute(table.insert(), rows)


def _next_ids(conn: Connection, tables: set[str]) -> dict[str, int]:
    out = {}
    for name in tables:
        column = metadata.tables[name].c[primary_key(name)[0]]
        out[name] = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(column), 0))).scalar_one()) + 1
    return out


def commit(engine: Engine, tp: TrustedParty | None, report: RunReport, patients: dict[str, PatientRecord],
           rows: list[Row], *, actor: str, resolver: Resolver | None = None,
           marks: dict[str, str] | None = None, extra: Callable[[Connection, dict[str, int]], None] | None = None,
           progress: Progress | None = None, started: float | None = None) -> RunReport:
    """Pseudonymise, deduplicate and load one connector run; fills and returns ``report``."""
    tick = progress or (lambda stage, done, total: None)
    start = started or time.perf_counter()
    began = datetime.now(UTC).replace(tzinfo=None)
    report.run_id = report.run_id or new_run_id()
    ensure_state(engine)
    ensure_connector_vocabulary(engine, loaded_by=actor)
    source = report.source
    present = {r.key for r in rows}
    rows = rows + [Row(f"{p.key}#death", p.where, "death", p.key,
                       {"death_date": p.death_date, "death_type_concept_id": EHR_PERIOD})
                   for p in patients.values() if p.death_date and f"{p.key}#death" not in present]
    for row in rows:
        report.mapped[row.table] += 1
    tick("pseudonyms", 0, 1)
    wanted = {r.patient for r in rows} | set(patients)
    people = [patients[k] for k in sorted(wanted) if k in patients]
    resolve = resolver or _ttp_resolver(tp, actor, f"{report.connector} import from {source}")  # type: ignore[arg-type]
    codes = resolve(people)
    tick("pseudonyms", 1, 1)
    with engine.connect() as conn:
        person = metadata.tables["person"]
        present = [c for c, _ in codes.values() if c]
        known_people: dict[str, int] = {}
        for i in range(0, len(present), 20_000):
            known_people.update(conn.execute(sa.select(person.c.person_source_value, person.c.person_id)
                                             .where(person.c.person_source_value.in_(present[i:i + 20_000]))).all())
        # Rows a link points to may come from an earlier run (a visit, a condition): look them up too.
        targets = {k for r in rows for k in (*r.links.values(), *r.optional.values())}
        state = known_records(conn, source, [r.key for r in rows] + [p.key for p in people]
                              + [k for k in {r.patient for r in rows} if k not in patients] + sorted(targets))
        ids = _next_ids(conn, ({r.table for r in rows} | {"person", "observation_period"}) - {"death"})
        person_of: dict[str, int] = {}
        new_people: list[dict[str, Any]] = []
        withheld: set[str] = set()
        for p in people:
            code, why = codes.get(p.key, (None, "patient has no identifier to pseudonymise"))
            if code is None:
                withheld.add(p.key)
                if why == OPPOSED:
                    report.withheld_opposed += 1
                continue
            if code in known_people:
                person_of[p.key] = known_people[code]
            elif p.year_of_birth is None:
                withheld.add(p.key)
                report.reject(p.where, "no birth date: a new warehouse person needs a year of birth")
            else:
                person_of[p.key] = known_people[code] = ids["person"]
                ids["person"] += 1
                new_people.append({"person_id": person_of[p.key], "gender_concept_id": p.gender_concept_id,
                                   "year_of_birth": p.year_of_birth, "race_concept_id": 0,
                                   "ethnicity_concept_id": 0, "person_source_value": code,
                                   "gender_source_value": p.gender_source_value[:50] or None})
        report.persons_new = len(new_people)
        earlier = {k: int(state[k].target_id) for k in {r.patient for r in rows}
                   if k not in patients and k in state and state[k].table_name == "person"}
        if earlier and tp is not None:
            pseud = dict(conn.execute(sa.select(person.c.person_id, person.c.person_source_value)
                                      .where(person.c.person_id.in_(sorted(set(earlier.values()))))).all())
            keys = sorted(earlier)
            flags = tp.opposed([pseud[earlier[k]] for k in keys], "warehouse", actor=actor)
            for k, flag in zip(keys, flags, strict=True):
                if flag:
                    withheld.add(k)
                    codes[k] = (None, OPPOSED)
                    report.withheld_opposed += 1
                else:
                    person_of[k] = earlier[k]
        else:
            person_of.update(earlier)
        by_table: dict[str, list[dict[str, Any]]] = {}
        state_new: list[dict[str, Any]] = []
        replaced: dict[str, list[int]] = {}
        assigned: dict[str, int] = {k: r.target_id for k, r in state.items()}
        seen: set[str] = set()
        left_out: dict[tuple[str, str], int] = {}
        unlinked = 0
        dates: dict[int, list[date]] = {}
        death = metadata.tables["death"]
        alive = sorted(set(person_of.values()))
        dead: set[int] = set()
        for i in range(0, len(alive), 20_000):
            dead.update(conn.execute(sa.select(death.c.person_id)
                                     .where(death.c.person_id.in_(alive[i:i + 20_000]))).scalars())
        for n, row in enumerate(rows):
            if n % 5000 == 0:
                tick("rows", n, len(rows))
            if row.patient in withheld or row.patient not in person_of:
                why = codes.get(row.patient, (None, ""))[1] or "its patient was rejected or is missing from the input"
                left_out[(row.patient, why)] = left_out.get((row.patient, why), 0) + 1
                continue
            if row.key in seen:
                report.reject(row.where, f"duplicate of an earlier record {row.key} in this run")
                continue
            try:
                values = fit(row.table, row.values, set(row.links))
            except ValueError as exc:
                report.reject(row.where, str(exc))
                continue
            missing = next((k for k in row.links.values() if k not in assigned), None)
            if missing is not None:
                report.reject(row.where, f"refers to {missing}, which is neither in this input "
                                         "nor imported before (or was rejected)")
                continue
            links = row.links
            if row.optional:
                known = {c: k for c, k in row.optional.items() if k in assigned}
                unlinked += len(row.optional) - len(known)
                links = {**row.links, **known}
            seen.add(row.key)
            pid = person_of[row.patient]
            digest = _digest(row.table, values, pid, {c: assigned[k] for c, k in links.items()})
            old = state.get(row.key)
            if old is not None and old.content_sha256 == digest:
                report.unchanged += 1
                continue
            if row.table == "death":
                if pid in dead:
                    report.unchanged += 1
                    continue
                target = pid
                dead.add(pid)
                report.inserted["death"] += 1
            elif old is not None and old.table_name == row.table:
                target = int(old.target_id)
                replaced.setdefault(row.table, []).append(target)
                report.updated[row.table] += 1
            elif old is not None:  # the concept's domain moved it to another table
                replaced.setdefault(old.table_name, []).append(int(old.target_id))
                target = ids[row.table]
                ids[row.table] += 1
                report.updated[row.table] += 1
            else:
                target = ids[row.table]
                ids[row.table] += 1
                report.inserted[row.table] += 1
            assigned[row.key] = target
            values.update({c: assigned[k] for c, k in links.items()})
            pk = primary_key(row.table)
            if pk:
                values[pk[0]] = target
            values["person_id"] = pid
            by_table.setdefault(row.table, []).append(values)
            day = values.get(_EVENT_DATE.get(row.table, ""))
            if isinstance(day, date):
                dates.setdefault(pid, []).append(day)
            state_new.append({"source": source, "record_key": row.key, "content_sha256": digest,
                              "table_name": row.table, "target_id": target, "person_id": pid,
                              "run_id": report.run_id, "_old": old is not None})
        tick("rows", len(rows), len(rows))
        if unlinked:
            report.notes.append(f"{unlinked} record(s) refer to a visit (Encounter) that is not imported: "
                                "loaded without visit_occurrence_id")
        for (key, why), count in sorted(left_out.items()):
            where = patients[key].where if key in patients else key
            report.reject(where, f"{why} ({count} record(s) left out)")
        for p in people:
            if p.key in person_of and p.key not in state:
                state_new.append({"source": source, "record_key": p.key, "content_sha256": "",
                                  "table_name": "person", "target_id": person_of[p.key],
                                  "person_id": person_of[p.key], "run_id": report.run_id, "_old": False})
        periods = _periods(conn, dates, ids)
    tables: dict[str, Any] = {}
    if new_people:
        tables["person"] = pa.Table.from_pylist(new_people)
    for name, items in by_table.items():
        tables[name] = _arrow(name, items)
    if periods[0]:
        tables["observation_period"] = pa.Table.from_pylist(periods[0])
    if new_people:
        report.inserted["person"] += len(new_people)

    def before(conn: Connection) -> None:
        for name, targets in replaced.items():
            table = metadata.tables[name]
            key = table.c[primary_key(name)[0]]
            for i in range(0, len(targets), 20_000):
                conn.execute(table.delete().where(key.in_(targets[i:i + 20_000])))
        period = metadata.tables["observation_period"]
        for pid, (low, high) in periods[1].items():
            conn.execute(period.update().where(period.c.observation_period_id == pid).values(
                observation_period_start_date=low, observation_period_end_date=high))

    def after(conn: Connection) -> None:
        changed = [s for s in state_new if s["_old"]]
        for s in changed:
            conn.execute(records.delete().where(records.c.source == source,
                                                records.c.record_key == s["record_key"]))
        bulk_insert(conn, records, [{k: v for k, v in s.items() if k != "_old"} for s in state_new])
        if extra is not None:
            extra(conn, person_of_ids)
        for stream, value in (marks or {}).items():
            conn.execute(watermarks.delete().where(watermarks.c.source == source,
                                                   watermarks.c.stream == stream))
            conn.execute(watermarks.insert().values(source=source, stream=stream, value=value))
        report.seconds = time.perf_counter() - start
        conn.execute(runs.insert().values(run_id=report.run_id, connector=report.connector,
                                          source=source[:120], started_at=began,
                                          finished_at=datetime.now(UTC).replace(tzinfo=None),
                                          report=report.to_json()))

    person_of_ids = dict(person_of)
    tick("load", 0, 1)
    report.load_id = f"import:{report.connector}:{report.run_id}"
    load_tables(engine, report.load_id, tables, source=f"{report.connector} {source}"[:255],
                loaded_by=actor, before=before, after=after)
    tick("load", 1, 1)
    return report


def fit(table: str, values: dict[str, Any], linked: set[str]) -> dict[str, Any]:
    """The row as the warehouse column types want it: unknown columns and empty required values
    refused (ValueError naming the column), text cut to the column's length, ISO text dates read.

    Checked row by row so one odd record is rejected instead of failing the whole load.
    """
    columns = metadata.tables[table].columns
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in columns:
            raise ValueError(f"no column {table}.{name}")
        kind = columns[name].type
        if isinstance(value, str):
            if isinstance(kind, sa.Date | sa.DateTime):
                try:
                    value = (datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
                             if isinstance(kind, sa.DateTime) else date.fromisoformat(value[:10]))
                except ValueError:
                    raise ValueError(f"{table}.{name} is not an ISO date") from None
            elif isinstance(kind, sa.String) and kind.length:
                value = value[:kind.length]
        out[name] = value
    automatic = {"person_id", *primary_key(table), *linked}
    for column in columns:
        if not column.nullable and column.name not in automatic and out.get(column.name) is None:
            raise ValueError(f"{table}.{column.name} is required and missing")
    return out


def _arrow(name: str, items: list[dict[str, Any]]) -> pa.Table:
    columns = sorted({k for item in items for k in item})
    data = {c: [item.get(c) for item in items] for c in columns}
    return to_arrow(name, pa.table({c: pa.array(v) for c, v in data.items()}))


def _periods(conn: Connection, dates: dict[int, list[date]], ids: dict[str, int],
             ) -> tuple[list[dict[str, Any]], dict[int, tuple[date, date]]]:
    """New observation periods, and existing ones to widen, so every event lies inside one."""
    if not dates:
        return [], {}
    period = metadata.tables["observation_period"]
    existing: dict[int, Any] = {}
    people = sorted(dates)
    for i in range(0, len(people), 20_000):
        for r in conn.execute(sa.select(period).where(period.c.person_id.in_(people[i:i + 20_000]))
                              .order_by(period.c.observation_period_end_date)):
            existing[int(r.person_id)] = r  # the latest period is the one to widen
    new, widen = [], {}
    for pid, days in dates.items():
        low, high = min(days), max(days)
        old = existing.get(pid)
        if old is None:
            new.append({"observation_period_id": ids["observation_period"], "person_id": pid,
                        "observation_period_start_date": low, "observation_period_end_date": high,
                        "period_type_concept_id": EHR_PERIOD})
            ids["observation_period"] += 1
        elif low < old.observation_period_start_date or high > old.observation_period_end_date:
            widen[int(old.observation_period_id)] = (min(low, old.observation_period_start_date),
                                                     max(high, old.observation_period_end_date))
    return new, widen
