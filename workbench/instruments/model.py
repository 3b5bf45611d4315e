"""One internal model for every questionnaire, whatever format it came from.

REDCap dictionaries, XLSForms and FHIR Questionnaires all map onto ``Instrument`` (see the
cross-walk in the research notes); forms, validation, scoring and exports only ever see this model,
so a fourth format is one importer, not a rewrite. Skip logic and calculations are kept as
expressions in REDCap's syntax (``[q1] = '1' and [age] >= 18``), the most widespread among
study teams; the XLSForm and FHIR importers translate into it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from workbench.errors import ValidationError

__all__ = ["KINDS", "LANGUAGES", "Choice", "Instrument", "Item", "label_of"]

LANGUAGES = ("fr", "en")
# single: one choice (radio, dropdown); multiple: checkboxes; yesno stores 1/0; slider 0–100;
# calc: computed, never asked; display: text only; notes: long free text.
KINDS = ("single", "multiple", "yesno", "integer", "decimal", "slider", "text", "notes", "date",
         "datetime", "time", "calc", "display", "file")
ANSWERED_KINDS = frozenset(KINDS) - {"calc", "display"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")


def label_of(text: dict[str, str], language: str) -> str:
    """The text in the wanted language, else the other one, else empty."""
    return text.get(language) or next((v for v in text.values() if v), "")


@dataclass(frozen=True)
class Choice:
    code: str
    label: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    name: str
    kind: str
    label: dict[str, str] = field(default_factory=dict)
    hint: dict[str, str] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    required: bool = False
    minimum: str | None = None  # numbers or ISO dates, kept as written in the source
    maximum: str | None = None
    pattern: str | None = None  # a regular expression the whole answer must match
    validation: str | None = None  # the source's validation type (date_ymd, email, …), kept for export
    constraint: str | None = None  # expression that must hold; ``[name]`` is the answer itself
    constraint_message: dict[str, str] = field(default_factory=dict)
    branching: str | None = None  # show only if this expression holds
    calculation: str | None = None
    section: str = ""  # form, group or page the item belongs to
    section_label: dict[str, str] = field(default_factory=dict)
    identifier: bool = False
    annotation: str = ""
    widget: str = ""  # display hint: radio, dropdown, slider…

    @property
    def answered(self) -> bool:
        return self.kind in ANSWERED_KINDS

    def choice_codes(self) -> list[str]:
        return [c.code for c in self.choices]


@dataclass(frozen=True)
class Instrument:
    id: str
    title: dict[str, str]
    items: tuple[Item, ...]
    version: str = "1"
    source: str = "workbench"  # redcap | xlsform | fhir | library | workbench
    attribution: str = ""
    licence: str = ""
    licensed_texts: bool = False  # True: item texts come from a file the licensee provides
    scoring: str = ""  # id of a built-in scorer, when the instrument has one

    def __post_init__(self) -> None:
        check_structure(self)

    def item(self, name: str) -> Item:
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(name)

    def names(self) -> list[str]:
        return [i.name for i in self.items]

    def answered_items(self) -> list[Item]:
        return [i for i in self.items if i.answered]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_texts(self, texts: dict[str, dict[str, Any]]) -> Instrument:
        """A copy with item labels (and choice labels) taken from ``texts``: {item: {...}}."""
        items = []
        for item in self.items:
            given = texts.get(item.name, {})
            labels = {k: v for k, v in given.get("label", {}).items() if k in LANGUAGES}
            choice_labels = given.get("choices", {})
            choices = tuple(replace(c, label=choice_labels.get(c.code, c.label)) for c in item.choices)
            items.append(replace(item, label=labels or item.label, choices=choices))
        return replace(self, items=tuple(items))

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Instrument:
        items = tuple(
            Item(**{**raw, "choices": tuple(Choice(**c) for c in raw.get("choices", ()))})
            for raw in data["items"]
        )
        return Instrument(**{**data, "items": items})


def check_structure(instrument: Instrument) -> None:
    """Reject what no form could render: bad or duplicate names, choice items without choices."""
    where = instrument.id
    if not NAME.match(instrument.id or ""):
        raise ValidationError("instrument id must start with a letter; letters, digits, _ . - only",
                              where="instrument id")
    if not instrument.items:
        raise ValidationError("the instrument has no items", where=where)
    seen: set[str] = set()
    for item in instrument.items:
        spot = f"{where}, item {item.name!r}"
        if not NAME.match(item.name):
            raise ValidationError("item names start with a letter; letters, digits, _ . - only", where=spot)
        if item.name in seen:
            raise ValidationError("duplicate item name", where=spot)
        seen.add(item.name)
        if item.kind not in KINDS:
            raise ValidationError(f"unknown kind {item.kind!r}; one of {', '.join(KINDS)}", where=spot)
        if item.kind in ("single", "multiple") and not item.choices:
            raise ValidationError("a choice item needs choices", where=spot)
        codes = item.choice_codes()
        if len(set(codes)) != len(codes):
            raise ValidationError("duplicate choice code", where=spot)
        if item.kind == "calc" and not item.calculation:
            raise ValidationError("a calculated field needs a formula", where=spot)
        if item.pattern is not None:
            try:
                re.compile(item.pattern)
            except re.error as exc:
                raise ValidationError(f"invalid regular expression: {exc}", where=spot) from None
