"""Cohort criteria: small frozen objects, validated before any SQL exists.

Researchers describe *what* they want; the builder writes the SQL. Free text that could carry SQL
is refused outright, so nothing typed by a person is ever spliced into a statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ValidationError

__all__ = [
    "Cohort",
    "ConceptRef",
    "Criterion",
    "Demographics",
    "HasCondition",
    "HasTreatment",
    "ScoreAt",
    "check_label",
]

ConceptRef = int | str  # a concept id, or "VOCABULARY:CODE" (e.g. "LOINC:44261-6")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}:[A-Za-z0-9./_-]{1,50}$")
_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_SQLISH = re.compile(r"(--|/\*|;|'|\"|\b(select|union|drop|insert|delete|update|or|and)\b|[()=<>])",
                     re.IGNORECASE)
SEXES = {"female": 8532, "male": 8507}


def _refuse_sql(text: str, where: str) -> None:
    if _SQLISH.search(text):
        raise ValidationError(f"{text!r} looks like a raw SQL fragment; criteria are structured "
                              "objects only", where=where)


def check_label(text: Any, where: str) -> str:
    """A short label (time point, arm): letters, digits, '_' and '-' only."""
    if not isinstance(text, str):
        raise ValidationError(f"expected a label, got {type(text).__name__}", where=where)
    _refuse_sql(text, where)
    if not _LABEL.match(text):
        raise ValidationError(f"{text!r} is not a valid label", where=where)
    return text


def _check_concepts(values: Any, where: str) -> tuple[ConceptRef, ...]:
    if isinstance(values, int | str):
        values = (values,)
    out: list[ConceptRef] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError(f"concept {value!r} must be an id or VOCABULARY:CODE", where=where)
        if isinstance(value, str):
            _refuse_sql(value, where)
            if not _CODE.match(value):
                raise ValidationError(f"concept code {value!r} must read VOCABULARY:CODE", where=where)
        elif value < 0:
            raise ValidationError(f"concept id {value} is negative", where=where)
        out.append(value)
    if not out:
        raise ValidationError("at least one concept is required", where=where)
    return tuple(out)


def _check_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{value!r} is not a number", where=where)
    return float(value)


@dataclass(frozen=True)
class Demographics:
    """Sex ('female' / 'male') and an inclusive range of birth years."""

    sex: str | None = None
    birth_year_min: int | None = None
    birth_year_max: int | None = None

    def __post_init__(self) -> None:
        if self.sex is not None:
            _refuse_sql(str(self.sex), "Demographics.sex")
            if self.sex not in SEXES:
                raise ValidationError(f"sex {self.sex!r} must be one of {sorted(SEXES)}",
                                      where="Demographics.sex")
        for name in ("birth_year_min", "birth_year_max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1850 <= value <= 2200):
                raise ValidationError(f"{value!r} is not a birth year", where=f"Demographics.{name}")


@dataclass(frozen=True)
class HasCondition:
    """At least one condition among ``concepts`` (and their descendants, by default)."""

    concepts: tuple[ConceptRef, ...]
    include_descendants: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "concepts", _check_concepts(self.concepts, "HasCondition.concepts"))


@dataclass(frozen=True)
class HasTreatment:
    """At least one drug exposure or procedure among ``concepts`` (table chosen by domain)."""

    concepts: tuple[ConceptRef, ...]
    include_descendants: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "concepts", _check_concepts(self.concepts, "HasTreatment.concepts"))


@dataclass(frozen=True)
class ScoreAt:
    """A questionnaire score (a MEASUREMENT concept) within [low, high] at a time point."""

    concept: ConceptRef
    timepoint: str
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "concept", _check_concepts(self.concept, "ScoreAt.concept")[0])
        check_label(self.timepoint, "ScoreAt.timepoint")
        low = _check_number(self.low, "ScoreAt.low")
        high = _check_number(self.high, "ScoreAt.high")
        if low is not None and high is not None and low > high:
            raise ValidationError(f"low {low} is above high {high}", where="ScoreAt")


Criterion = Demographics | HasCondition | HasTreatment | ScoreAt


@dataclass(frozen=True)
class Cohort:
    """All criteria must hold (AND). ``name`` is for audit records and outputs."""

    name: str
    criteria: tuple[Criterion, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_label(self.name, "Cohort.name")
        criteria = self.criteria
        if not isinstance(criteria, tuple | list):
            criteria = (criteria,)
        for item in criteria:
            if not isinstance(item, Demographics | HasCondition | HasTreatment | ScoreAt):
                shown = repr(item)[:60]
                raise ValidationError(f"criteria must be structured objects, not {shown}",
                                      where=f"Cohort {self.name}")
        object.__setattr__(self, "criteria", tuple(criteria))

    @classmethod
    def from_description(cls, body: Any) -> Cohort:
        """The cohort ``describe`` gave, from its JSON (``{"name": ..., "criteria": [{"type":
        "ScoreAt", ...}, ...]}``), as a gateway receives it or a notebook parameter holds it; what
        is wrong is said with where (``cohort.criteria[1].timepoint``)."""
        if not isinstance(body, dict) or set(body) - {"name", "criteria"}:
            raise ValidationError('send {"name": ..., "criteria": [...]}', where="cohort")
        criteria = body.get("criteria", [])
        if not isinstance(criteria, list) or not criteria:
            raise ValidationError("name at least one criterion", where="cohort.criteria")
        made = []
        for i, item in enumerate(criteria):
            where = f"cohort.criteria[{i}]"
            kind = KINDS.get(item.get("type")) if isinstance(item, dict) else None
            if kind is None:
                raise ValidationError(f"each criterion is an object whose type is one of {sorted(KINDS)}",
                                      where=where)
            fields = {k: v for k, v in item.items() if k != "type"}
            try:
                made.append(kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}))
            except TypeError:
                raise ValidationError(f"{item['type']} takes {', '.join(kind.__dataclass_fields__)}",
                                      where=where) from None
            except ValidationError as exc:  # the field it names, under this criterion
                field_name = (exc.where or "").rpartition(".")[2]
                raise ValidationError(exc.message, where=f"{where}.{field_name}" if field_name else where) from None
        return cls(body.get("name", "cohort"), tuple(made))

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for audit records (no data, just the definition)."""
        return {"name": self.name, "criteria": [
            {"type": type(c).__name__, **{k: (list(v) if isinstance(v, tuple) else v)
                                          for k, v in vars(c).items()}} for c in self.criteria]}


# The criteria by the type names ``Cohort.describe`` gives them.
KINDS: dict[str, Any] = {"Demographics": Demographics, "HasCondition": HasCondition,
                         "HasTreatment": HasTreatment, "ScoreAt": ScoreAt}
