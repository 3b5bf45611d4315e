"""Data quality checks in the spirit of OHDSI's Data Quality Dashboard (DQD).

A subset of DQD's check types, grouped by Kahn category (conformance, completeness,
plausibility), written in SQLAlchemy Core so they run on DuckDB and PostgreSQL, and reported in
DQD's JSON shape so a site that has R can compare with the real DQD. On DuckDB, which keeps no
foreign keys, ``isForeignKey`` is *the* referential-integrity guarantee for data loaded outside
:func:`workbench.warehouse.loader.load_tables`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.warehouse.schema import (
    EXTENSION_TABLES,
    foreign_keys,
    metadata,
    primary_key,
)
from workbench.warehouse.vocabulary import CUSTOM_CONCEPT_MIN, plausible_values

__all__ = ["CheckResult", "run_checks", "write_report"]

T = metadata.tables
CONCEPT = T["concept"]
CLINICAL = ("person", "observation_period", "visit_occurrence", "condition_occurrence",
            "drug_exposure", "procedure_occurrence", "measurement", "observation", "death",
            "note", "episode", "episode_event", "survey_conduct")
# Main standard-concept field per clinical table (DQD isStandardValidConcept).
STANDARD_FIELDS = {
    "person": "gender_concept_id", "visit_occurrence": "visit_concept_id",
    "condition_occurrence": "condition_concept_id", "drug_exposure": "drug_concept_id",
    "procedure_occurrence": "procedure_concept_id", "measurement": "measurement_concept_id",
    "observation": "observation_concept_id", "episode": "episode_concept_id",
    "survey_conduct": "survey_concept_id",
}
# Event date per table, for the temporal plausibility checks.
EVENT_DATES = {
    "visit_occurrence": "visit_start_date", "condition_occurrence": "condition_start_date",
    "drug_exposure": "drug_exposure_start_date", "procedure_occurrence": "procedure_date",
    "measurement": "measurement_date", "observation": "observation_date",
    "survey_conduct": "survey_start_date", "episode": "episode_start_date",
}
START_END = {
    "observation_period": ("observation_period_start_date", "observation_period_end_date"),
    "visit_occurrence": ("visit_start_date", "visit_end_date"),
    "condition_occurrence": ("condition_start_date", "condition_end_date"),
    "drug_exposure": ("drug_exposure_start_date", "drug_exposure_end_date"),
    "episode": ("episode_start_date", "episode_end_date"),
}
DEATH_GRACE_DAYS = 60  # DQD's plausibleBeforeDeath allows 60 days (post-mortem administration)


@dataclass
class CheckResult:
    """One check, with DQD's camelCase field names so reports stay comparable."""

    checkName: str
    checkLevel: str
    category: str
    subcategory: str
    context: str
    cdmTableName: str
    cdmFieldName: str | None
    conceptId: int | None
    numViolatedRows: int
    numDenominatorRows: int
    pctViolatedRows: float
    threshold: float
    failed: bool
    notApplicable: bool
    description: str


def _result(name: str, level: str, category: str, sub: str, context: str, table: str,
            field: str | None, violated: int, denominator: int, threshold: float,
            description: str, concept: int | None = None) -> CheckResult:
    pct = 100.0 * violated / denominator if denominator else 0.0
    return CheckResult(name, level, category, sub, context, table, field, concept, violated,
                       denominator, round(pct, 4), threshold, denominator > 0 and pct > threshold,
                       denominator == 0, description)


def _scalar(conn: Connection, stmt: Any) -> int:
    return int(conn.execute(stmt).scalar_one() or 0)


def _count(table: sa.Table, *where: Any) -> Any:
    return sa.select(sa.func.count()).select_from(table).where(*where)


def _conformance(conn: Connection, rows: dict[str, int]) -> Iterator[CheckResult]:
    for name in CLINICAL + EXTENSION_TABLES[:1]:
        table, n = T[name], rows[name]
        required = [c for c in table.columns if not c.nullable]
        if required and n:
            counts = conn.execute(sa.select(*[sa.func.count(c) for c in required])).one()
        else:
            counts = [n] * len(required)
        for column, present in zip(required, counts, strict=True):
            yield _result("isRequired", "FIELD", "Conformance", "Relational", "Verification", name,
                          column.name, n - int(present), n, 0,
                          "rows with an empty required field")
        keys = primary_key(name)
        if len(keys) == 1:
            distinct = _scalar(conn, sa.select(sa.func.count(sa.distinct(table.c[keys[0]])))) if n else 0
            yield _result("isPrimaryKey", "FIELD", "Conformance", "Relational", "Verification",
                          name, keys[0], n - distinct, n, 0, "rows whose identifier is repeated")
        for column, target_name, target_column in foreign_keys(name):
            target = T[target_name]
            orphans = _scalar(conn, sa.select(sa.func.count()).select_from(
                table.outerjoin(target, table.c[column] == target.c[target_column]))
                .where(table.c[column].is_not(None), target.c[target_column].is_(None))) if n else 0
            yield _result("isForeignKey", "FIELD", "Conformance", "Relational", "Verification",
                          name, column, orphans, n, 0,
                          f"rows whose {column} matches no {target_name}.{target_column}")
        field = STANDARD_FIELDS.get(name)
        if field:
            concept = table.c[field]
            bad = _scalar(conn, sa.select(sa.func.count()).select_from(
                table.join(CONCEPT, CONCEPT.c.concept_id == concept)).where(
                concept != 0, concept < CUSTOM_CONCEPT_MIN,
                sa.or_(CONCEPT.c.standard_concept.is_(None), CONCEPT.c.standard_concept != "S",
                       CONCEPT.c.invalid_reason.is_not(None)))) if n else 0
            yield _result("isStandardValidConcept", "FIELD", "Conformance", "Value",
                          "Verification", name, field, bad, n, 0,
                          "rows whose concept is not a valid standard concept "
                          "(custom concepts ≥ 2,000,000,000 are allowed)")


def _completeness(conn: Connection, rows: dict[str, int]) -> Iterator[CheckResult]:
    person = T["person"]
    for name, threshold in (("observation_period", 0.0), ("survey_conduct", 100.0),
                            ("condition_occurrence", 100.0)):
        table = T[name]
        missing = _scalar(conn, _count(person, ~sa.exists().where(
            table.c.person_id == person.c.person_id))) if rows["person"] else 0
        yield _result("measurePersonCompleteness", "TABLE", "Completeness", "", "Validation", name,
                      None, missing, rows["person"], threshold, "persons with no row in the table")
    for name, field in STANDARD_FIELDS.items():
        table = T[name]
        unmapped = _scalar(conn, _count(table, table.c[field] == 0)) if rows[name] else 0
        yield _result("standardConceptRecordCompleteness", "FIELD", "Completeness", "",
                      "Verification", name, field, unmapped, rows[name], 5.0,
                      "rows with concept 0 (no matching concept)")
    for name, field in (("measurement", "value_as_number"), ("survey_conduct", "timing_source_value")):
        table = T[name]
        empty = _scalar(conn, _count(table, table.c[field].is_(None))) if rows[name] else 0
        yield _result("measureValueCompleteness", "FIELD", "Completeness", "", "Verification",
                      name, field, empty, rows[name], 0.0, "rows with an empty value")


def _plausibility(conn: Connection, rows: dict[str, int]) -> Iterator[CheckResult]:
    person, death = T["person"], T["death"]
    this_year = date.today().year
    yield _result("plausibleValueLow", "FIELD", "Plausibility", "Atemporal", "Verification",
                  "person", "year_of_birth", _scalar(conn, _count(
                      person, sa.or_(person.c.year_of_birth < 1850,
                                     person.c.year_of_birth > this_year))),
                  rows["person"], 0.0, "year of birth before 1850 or in the future")
    for name, field in EVENT_DATES.items():
        table = T[name]
        n = rows[name]
        before = _scalar(conn, sa.select(sa.func.count()).select_from(
            table.join(person, person.c.person_id == table.c.person_id)).where(
            sa.extract("year", table.c[field]) < person.c.year_of_birth)) if n else 0
        yield _result("plausibleAfterBirth", "FIELD", "Plausibility", "Temporal", "Validation",
                      name, field, before, n, 1.0, "events dated before the year of birth")
        after = _scalar(conn, sa.select(sa.func.count()).select_from(
            table.join(death, death.c.person_id == table.c.person_id)).where(
            table.c[field] > death.c.death_date + sa.text(f"INTERVAL '{DEATH_GRACE_DAYS} days'")
        )) if n and rows["death"] else 0
        yield _result("plausibleBeforeDeath", "FIELD", "Plausibility", "Temporal", "Validation",
                      name, field, after, n, 1.0,
                      f"events more than {DEATH_GRACE_DAYS} days after death")
    for name, (start, end) in START_END.items():
        table = T[name]
        bad = _scalar(conn, _count(table, table.c[end] < table.c[start])) if rows[name] else 0
        yield _result("plausibleStartBeforeEnd", "FIELD", "Plausibility", "Temporal",
                      "Verification", name, start, bad, rows[name], 0.0, "end date before start date")
    period = T["observation_period"]
    other = period.alias("other")
    overlapping = _scalar(conn, sa.select(sa.func.count(sa.distinct(period.c.person_id))).select_from(
        period.join(other, sa.and_(other.c.person_id == period.c.person_id,
                                   other.c.observation_period_id != period.c.observation_period_id,
                                   other.c.observation_period_start_date
                                   <= period.c.observation_period_end_date,
                                   other.c.observation_period_end_date
                                   >= period.c.observation_period_start_date)))
    ) if rows["observation_period"] else 0
    yield _result("measureObservationPeriodOverlap", "TABLE", "Plausibility", "Temporal",
                  "Verification", "observation_period", None, overlapping, rows["person"], 0.0,
                  "persons with overlapping observation periods")
    yield from _value_ranges(conn, rows)


def _value_ranges(conn: Connection, rows: dict[str, int]) -> Iterator[CheckResult]:
    ranges = plausible_values()
    ids = dict(((v, c), i) for i, v, c in conn.execute(sa.select(
        CONCEPT.c.concept_id, CONCEPT.c.vocabulary_id, CONCEPT.c.concept_code).where(
        CONCEPT.c.invalid_reason.is_(None))).all())
    for table_name, field in (("measurement", "measurement_concept_id"),
                              ("observation", "observation_concept_id")):
        table = T[table_name]
        if not rows[table_name]:
            continue
        present = set(conn.execute(sa.select(table.c[field]).distinct()).scalars())
        for vocab, code, low, high in ranges:
            concept = ids.get((vocab, code))
            if concept not in present:
                continue
            value = table.c.value_as_number
            total = _scalar(conn, _count(table, table.c[field] == concept, value.is_not(None)))
            for name, clause in (("plausibleValueLow", value < low), ("plausibleValueHigh", value > high)):
                yield _result(name, "CONCEPT", "Plausibility", "Atemporal", "Verification",
                              table_name, "value_as_number",
                              _scalar(conn, _count(table, table.c[field] == concept, clause)),
                              total, 0.0, f"{vocab} {code} values outside [{low}, {high}]", concept)


def run_checks(engine: Engine) -> dict[str, Any]:
    """Run every check and return a DQD-shaped report (``CheckResults`` + ``Overview``)."""
    start = time.perf_counter()
    with engine.connect() as conn:
        rows = {name: _scalar(conn, sa.select(sa.func.count()).select_from(T[name]))
                for name in CLINICAL + EXTENSION_TABLES}
        results = [*_conformance(conn, rows), *_completeness(conn, rows), *_plausibility(conn, rows)]
    overview: dict[str, Any] = {"countTotal": len(results),
                                "countPassed": sum(not r.failed for r in results),
                                "countFailed": sum(r.failed for r in results)}
    for category in ("Conformance", "Completeness", "Plausibility"):
        mine = [r for r in results if r.category == category]
        overview[f"count{category}"] = len(mine)
        overview[f"countFailed{category}"] = sum(r.failed for r in mine)
    return {
        "startTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "executionTime": f"{time.perf_counter() - start:.2f} secs",
        "Metadata": [{"cdmVersion": "5.4", "dbms": engine.dialect.name,
                      "extensions": list(EXTENSION_TABLES)}],
        "Overview": overview,
        "CheckResults": [asdict(r) for r in results],
    }


def write_report(report: dict[str, Any], path: Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return path
