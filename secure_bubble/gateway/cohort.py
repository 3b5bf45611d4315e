"""Cohorts in an extract: structured criteria, each approved and read only in the extract's studies.

A researcher narrows an extract to the people meeting every criterion (``Demographics``,
``HasCondition``, ``ScoreAt`` of ``workbench.warehouse.criteria``), sent as JSON and made into
those objects (``Cohort.from_description``), so that anything typed that could carry SQL is
refused before any statement exists. Each criterion uses data the project must be approved for in
every study of the extract (``demographics``; ``condition``; the score's own variable, e.g.
``phq-9.TOTAL`` under ``phq-9.*``), and is evaluated on those studies' deposits only: the
warehouse pools studies, and a condition or a score deposited by another study must not decide
who is in. Treatments are not served by the gateway, so ``HasTreatment`` is refused.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import sqlalchemy as sa

from workbench.deposit_scores import SCORE_CONCEPTS, VOCABULARY
from workbench.errors import PermissionDenied, ValidationError
from workbench.warehouse.cohort import lookup_concepts, where_demographics, where_score_within
from workbench.warehouse.criteria import (
    Cohort,
    Demographics,
    HasCondition,
    HasTreatment,
    ScoreAt,
)
from workbench.warehouse.schema import metadata

__all__ = ["cohort_members"]

T = metadata.tables
PERSON, CONCEPT, CONDITION = T["person"], T["concept"], T["condition_occurrence"]
MEASUREMENT, SURVEY = T["measurement"], T["survey_conduct"]
# "VOCABULARY:code" of a deposited score → its variable name, as approvals name it.
SCORE_VARIABLES = {f"{VOCABULARY[instrument]}:{code}": f"{instrument}.{scale}"
                   for instrument, scales in SCORE_CONCEPTS.items() for scale, code in scales.items()}


def _score_variable(conn: sa.Connection, concept: int | str) -> str:
    """The variable name of a deposited score (``phq-9.TOTAL``), from its concept."""
    key = concept if isinstance(concept, str) else None
    if key is None:
        row = conn.execute(sa.select(CONCEPT.c.vocabulary_id, CONCEPT.c.concept_code)
                           .where(CONCEPT.c.concept_id == concept)).first()
        key = f"{row[0]}:{row[1]}" if row else ""
    if key not in SCORE_VARIABLES:
        raise ValidationError(f"{concept!r} is not a questionnaire score deposited in the warehouse",
                              where="cohort ScoreAt.concept")
    return SCORE_VARIABLES[key]


def _approved(approved: dict[str, list[str]], studies: Sequence[str], variable: str) -> None:
    missing = [s for s in studies if not any(fnmatch.fnmatchcase(variable, a) for a in approved.get(s, []))]
    if missing:
        raise PermissionDenied(f"a cohort criterion on {variable!r} needs it approved in {', '.join(missing)}")


def cohort_members(conn: sa.Connection, cohort: Cohort, studies: Sequence[str],
                   approved: dict[str, list[str]]) -> sa.Select:  # type: ignore[type-arg]
    """``person_id`` of the people meeting every criterion, read in ``studies`` only; refused
    (``PermissionDenied``) unless the project is approved for each criterion in each study."""
    stmt = sa.select(PERSON.c.person_id)
    for c in cohort.criteria:
        if isinstance(c, HasTreatment):
            raise PermissionDenied("treatments are not served by the gateway: no cohort criterion on them")
        if isinstance(c, Demographics):
            _approved(approved, studies, "demographics")
            stmt = where_demographics(stmt, c)
        elif isinstance(c, HasCondition):
            _approved(approved, studies, "condition")
            ids = lookup_concepts(conn, c.concepts, "HasCondition", "Condition", c.include_descendants)
            stmt = stmt.where(PERSON.c.person_id.in_(sa.select(CONDITION.c.person_id).where(
                CONDITION.c.condition_concept_id.in_(ids),
                sa.or_(*[CONDITION.c.condition_source_value.like(f"{s}:%") for s in studies]))))
        elif isinstance(c, ScoreAt):
            _approved(approved, studies, _score_variable(conn, c.concept))
            scores = lookup_concepts(conn, [c.concept], "ScoreAt", "Measurement", False)
            inner = (sa.select(MEASUREMENT.c.person_id)
                     .select_from(MEASUREMENT.join(SURVEY, SURVEY.c.survey_conduct_id == MEASUREMENT.c.measurement_event_id))
                     .where(MEASUREMENT.c.measurement_concept_id.in_(scores), SURVEY.c.timing_source_value == c.timepoint,
                            SURVEY.c.survey_source_identifier.in_(list(studies))))
            stmt = stmt.where(PERSON.c.person_id.in_(where_score_within(inner, c)))
    return stmt
