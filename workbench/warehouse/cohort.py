"""Cohort extraction on SQLAlchemy Core: one builder for DuckDB and PostgreSQL.

Every query is reported to the caller's ``audit`` callback (who, why, which definition, how many
rows) before results are returned; if recording fails, the results are not released. The
callback decides where records go — this module never writes to the operational store.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select

from workbench.errors import NotFoundError, ValidationError
from workbench.warehouse.criteria import (
    SEXES,
    Cohort,
    ConceptRef,
    Demographics,
    HasCondition,
    HasTreatment,
    ScoreAt,
)
from workbench.warehouse.engine import fetch_frame
from workbench.warehouse.schema import metadata
from workbench.warehouse.vocabulary import resolve_codes

__all__ = ["AuditRecord", "CohortQuery", "lookup_concepts", "where_demographics", "where_score_within"]

AuditRecord = dict[str, Any]
T = metadata.tables
PERSON, CONCEPT, ANCESTOR = T["person"], T["concept"], T["concept_ancestor"]
RELATION, MEASUREMENT, OBSERVATION = T["concept_relationship"], T["measurement"], T["observation"]
SURVEY = T["survey_conduct"]
ARM_CODE, SURVEY_FIELD_CODE = "WeShare:arm", "WeShare:survey_conduct.survey_conduct_id"
PERSON_COLUMNS = {"person_id", "gender", "year_of_birth", "arm", "month_of_birth",
                  "person_source_value"}
_TREATMENT_TABLES = {"Drug": ("drug_exposure", "drug_concept_id"),
                     "Procedure": ("procedure_occurrence", "procedure_concept_id")}


class CohortQuery:
    """Build and run cohort queries for one actor and one stated purpose."""

    def __init__(self, engine: Engine, *, audit: Callable[[AuditRecord], None], actor: str,
                 purpose: str) -> None:
        if not callable(audit):
            raise ValidationError("an audit callback is required", where="CohortQuery")
        if not actor or not purpose:
            raise ValidationError("actor and purpose are required", where="CohortQuery")
        self.engine, self._audit, self.actor, self.purpose = engine, audit, actor, purpose
        # Concept look-ups cached for this object's life: vocabulary changes are rare, query
        # latency is not (a dozen small round trips would dominate a 50 ms extraction).
        self._cache: dict[tuple[Any, ...], Any] = {}

    # -- public queries ---------------------------------------------------------------------
    def participants(self, cohort: Cohort, columns: Sequence[str] = ("person_id", "gender",
                     "year_of_birth", "arm")) -> pd.DataFrame:
        """One row per participant meeting every criterion."""
        unknown = [c for c in columns if c not in PERSON_COLUMNS]
        if unknown:
            raise ValidationError(f"unknown column(s) {', '.join(unknown)}; choose from "
                                  f"{', '.join(sorted(PERSON_COLUMNS))}", where="participants")
        with self.engine.connect() as conn:
            ids = self._ids(conn, cohort)
            members = self._members(conn, cohort, ids).subquery("cohort")
            arm = self._arm(conn)
            gender = sa.case({v: k for k, v in SEXES.items()}, value=PERSON.c.gender_concept_id,
                             else_="other")
            available = {"person_id": PERSON.c.person_id, "gender": gender.label("gender"),
                         "year_of_birth": PERSON.c.year_of_birth, "arm": arm.c.arm,
                         "month_of_birth": PERSON.c.month_of_birth,
                         "person_source_value": PERSON.c.person_source_value}
            stmt = (sa.select(*[available[c].label(c) for c in columns])
                    .select_from(PERSON.join(members, members.c.person_id == PERSON.c.person_id)
                                 .outerjoin(arm, arm.c.person_id == PERSON.c.person_id))
                    .order_by(PERSON.c.person_id))
            return self._run(conn, "participants", cohort, stmt, {}, tuple(columns))

    def scores(self, cohort: Cohort, concepts: Sequence[ConceptRef],
               timepoints: Sequence[str] | None = None) -> pd.DataFrame:
        """Longitudinal scores: one row per participant, sitting and score concept."""
        with self.engine.connect() as conn:
            ids = self._ids(conn, cohort)
            score_ids = self._concepts(conn, concepts, "scores.concepts", domain="Measurement")
            members = self._members(conn, cohort, ids).subquery("cohort")
            arm = self._arm(conn)
            stmt = (sa.select(MEASUREMENT.c.person_id, arm.c.arm,
                              SURVEY.c.timing_source_value.label("timepoint"),
                              SURVEY.c.timing_concept_id, MEASUREMENT.c.measurement_concept_id
                              .label("concept_id"), MEASUREMENT.c.measurement_date.label("date"),
                              MEASUREMENT.c.value_as_number.label("value"))
                    .select_from(self._score_join(conn, members, arm))
                    .where(MEASUREMENT.c.measurement_concept_id.in_(score_ids)))
            if timepoints:
                stmt = stmt.where(SURVEY.c.timing_source_value.in_(list(timepoints)))
            stmt = stmt.order_by(MEASUREMENT.c.person_id, SURVEY.c.timing_concept_id,
                                 MEASUREMENT.c.measurement_concept_id)
            return self._run(conn, "scores", cohort, stmt, {"concepts": score_ids},
                             (tuple(score_ids), tuple(timepoints or ())))

    def mean_score_by_arm(self, cohort: Cohort, concept: ConceptRef) -> pd.DataFrame:
        """Mean (sd, n) of one score per time point per arm, in time-point order."""
        with self.engine.connect() as conn:
            ids = self._ids(conn, cohort)
            (score,) = self._concepts(conn, [concept], "mean_score_by_arm.concept",
                                      domain="Measurement")
            members = self._members(conn, cohort, ids).subquery("cohort")
            arm = self._arm(conn)
            value = MEASUREMENT.c.value_as_number
            stmt = (sa.select(arm.c.arm, SURVEY.c.timing_source_value.label("timepoint"),
                              sa.func.count(value).label("n"), sa.func.avg(value).label("mean"),
                              sa.func.stddev_samp(value).label("sd"))
                    .select_from(self._score_join(conn, members, arm))
                    .where(MEASUREMENT.c.measurement_concept_id == score)
                    .group_by(arm.c.arm, SURVEY.c.timing_source_value, SURVEY.c.timing_concept_id)
                    .order_by(arm.c.arm, SURVEY.c.timing_concept_id))
            return self._run(conn, "mean_score_by_arm", cohort, stmt, {"concept": score}, (score,))

    # -- building blocks --------------------------------------------------------------------
    def _code(self, conn: Connection, code: str) -> int:
        key = ("code", code)
        if key not in self._cache:
            self._cache[key] = resolve_codes(conn, [code])[code]
        return int(self._cache[key])

    def _score_join(self, conn: Connection, members: Any, arm: Any) -> Any:
        field = self._code(conn, SURVEY_FIELD_CODE)
        return (MEASUREMENT
                .join(members, members.c.person_id == MEASUREMENT.c.person_id)
                .join(SURVEY, sa.and_(SURVEY.c.survey_conduct_id == MEASUREMENT.c.measurement_event_id,
                                      MEASUREMENT.c.meas_event_field_concept_id == field))
                .outerjoin(arm, arm.c.person_id == MEASUREMENT.c.person_id))

    def _arm(self, conn: Connection) -> Any:
        arm_concept = self._code(conn, ARM_CODE)
        return (sa.select(OBSERVATION.c.person_id, sa.func.min(OBSERVATION.c.value_as_string)
                          .label("arm"))
                .where(OBSERVATION.c.observation_concept_id == arm_concept)
                .group_by(OBSERVATION.c.person_id).subquery("arm"))

    def _ids(self, conn: Connection, cohort: Cohort) -> dict[int, list[int]]:
        """Resolve every criterion's concepts once; index by criterion position."""
        out: dict[int, list[int]] = {}
        for i, c in enumerate(cohort.criteria):
            if isinstance(c, HasCondition):
                out[i] = self._concepts(conn, c.concepts, "HasCondition", "Condition",
                                        c.include_descendants)
            elif isinstance(c, HasTreatment):
                out[i] = self._concepts(conn, c.concepts, "HasTreatment", None,
                                        c.include_descendants)
            elif isinstance(c, ScoreAt):
                out[i] = self._concepts(conn, [c.concept], "ScoreAt", "Measurement")
        return out

    def _members(self, conn: Connection, cohort: Cohort, ids: dict[int, list[int]]) -> Select:
        stmt = sa.select(PERSON.c.person_id)
        for i, c in enumerate(cohort.criteria):
            if isinstance(c, Demographics):
                stmt = where_demographics(stmt, c)
            elif isinstance(c, HasCondition):
                table = T["condition_occurrence"]
                stmt = stmt.where(PERSON.c.person_id.in_(sa.select(table.c.person_id).where(
                    table.c.condition_concept_id.in_(ids[i]))))
            elif isinstance(c, HasTreatment):
                stmt = stmt.where(self._treated(conn, ids[i]))
            elif isinstance(c, ScoreAt):
                inner = (sa.select(MEASUREMENT.c.person_id)
                         .select_from(MEASUREMENT.join(SURVEY, SURVEY.c.survey_conduct_id
                                                       == MEASUREMENT.c.measurement_event_id))
                         .where(MEASUREMENT.c.measurement_concept_id == ids[i][0],
                                SURVEY.c.timing_source_value == c.timepoint))
                stmt = stmt.where(PERSON.c.person_id.in_(where_score_within(inner, c)))
        return stmt

    def _treated(self, conn: Connection, concept_ids: list[int]) -> Any:
        key = ("domains", tuple(concept_ids))
        if key not in self._cache:
            self._cache[key] = dict(conn.execute(
                sa.select(CONCEPT.c.concept_id, CONCEPT.c.domain_id)
                .where(CONCEPT.c.concept_id.in_(concept_ids))).all())
        domains = self._cache[key]
        clauses = []
        for domain, (table_name, column) in _TREATMENT_TABLES.items():
            wanted = [c for c in concept_ids if domains.get(c) == domain]
            if wanted:
                table = T[table_name]
                clauses.append(PERSON.c.person_id.in_(
                    sa.select(table.c.person_id).where(table.c[column].in_(wanted))))
        return sa.or_(*clauses)

    def _concepts(self, conn: Connection, refs: Sequence[ConceptRef], where: str,
                  domain: str | None, descendants: bool = False) -> list[int]:
        """Concept ids for ``refs``, checked to exist and to belong to the right domain."""
        key = ("concepts", tuple(refs), where, domain, descendants)
        if key not in self._cache:
            self._cache[key] = lookup_concepts(conn, refs, where, domain, descendants)
        return list(self._cache[key])

    def _run(self, conn: Connection, kind: str, cohort: Cohort, stmt: Select,
             extra: dict[str, Any], variant: tuple[Any, ...]) -> pd.DataFrame:
        start = time.perf_counter()
        frame, sql = fetch_frame(conn, stmt, self._cache, ("sql", kind, cohort, variant))
        record: AuditRecord = {
            "event": "warehouse.query", "query": kind, "actor": self.actor,
            "purpose": self.purpose, "cohort": cohort.describe(), **extra,
            "rows": len(frame),
            "persons": int(frame["person_id"].nunique()) if "person_id" in frame else None,
            "sql_sha256": hashlib.sha256(sql.encode()).hexdigest(),
            "engine": conn.dialect.name, "seconds": round(time.perf_counter() - start, 4),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._audit(record)
        return frame


def lookup_concepts(conn: Connection, refs: Sequence[ConceptRef], where: str, domain: str | None,
                    descendants: bool) -> list[int]:
    """Concept ids for ``refs`` (ids or VOCABULARY:CODE), checked to exist and to belong to
    ``domain``, with their descendants if asked and the provisional concepts retired into them."""
    codes = [r for r in refs if isinstance(r, str)]
    by_code = resolve_codes(conn, codes) if codes else {}
    ids = [by_code[r] if isinstance(r, str) else int(r) for r in refs]
    rows = dict(conn.execute(sa.select(CONCEPT.c.concept_id, CONCEPT.c.domain_id)
                             .where(CONCEPT.c.concept_id.in_(ids))).all())
    for ref, cid in zip(refs, ids, strict=True):
        if cid not in rows:
            raise NotFoundError(f"{where}: unknown concept {ref}")
        allowed = ("Drug", "Procedure") if where == "HasTreatment" else (domain,)
        if (domain is not None or where == "HasTreatment") and rows[cid] not in allowed:
            raise ValidationError(f"concept {ref} is in domain {rows[cid]}, not "
                                      f"{' or '.join(a for a in allowed if a)}", where=where)
    found = set(ids)
    if descendants:
        found |= set(conn.execute(sa.select(ANCESTOR.c.descendant_concept_id)
                                  .where(ANCESTOR.c.ancestor_concept_id.in_(ids))).scalars())
    # Concepts retired in favour of these (provisional ones) still label older rows.
    found |= set(conn.execute(sa.select(RELATION.c.concept_id_1).where(
        RELATION.c.relationship_id == "Maps to", RELATION.c.concept_id_2.in_(sorted(found))))
        .scalars())
    return sorted(found)


def where_demographics(stmt: Select, c: Demographics) -> Select:
    """``stmt`` (over ``person``) kept to the sex and the birth years ``c`` names."""
    if c.sex:
        stmt = stmt.where(PERSON.c.gender_concept_id == SEXES[c.sex])
    if c.birth_year_min is not None:
        stmt = stmt.where(PERSON.c.year_of_birth >= c.birth_year_min)
    if c.birth_year_max is not None:
        stmt = stmt.where(PERSON.c.year_of_birth <= c.birth_year_max)
    return stmt


def where_score_within(stmt: Select, c: ScoreAt) -> Select:
    """``stmt`` (over ``measurement``) kept to the scores within ``c``'s bounds."""
    if c.low is not None:
        stmt = stmt.where(MEASUREMENT.c.value_as_number >= c.low)
    if c.high is not None:
        stmt = stmt.where(MEASUREMENT.c.value_as_number <= c.high)
    return stmt
