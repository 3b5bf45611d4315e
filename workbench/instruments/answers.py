"""Checking one participant's answers against an instrument, with messages in their language.

The form shows these messages inline next to the item; the submit path runs the same check so a
client that skipped the form cannot store what the form would have refused. Hidden items (skip
logic false) are dropped, calculated fields are computed here, never trusted from the client.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from workbench.errors import ValidationError
from workbench.instruments.expressions import evaluate, holds
from workbench.instruments.model import Instrument, Item, label_of

__all__ = ["MESSAGES", "check_answers", "clean_answers", "item_error", "visible_items"]

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"fr": "Merci de répondre à cette question.", "en": "Please answer this question."},
    "choice": {"fr": "Choisissez une des réponses proposées.", "en": "Choose one of the answers offered."},
    "integer": {"fr": "Saisissez un nombre entier.", "en": "Enter a whole number."},
    "number": {"fr": "Saisissez un nombre.", "en": "Enter a number."},
    "min": {"fr": "La valeur doit être au moins {limit}.", "en": "The value must be at least {limit}."},
    "max": {"fr": "La valeur doit être au plus {limit}.", "en": "The value must be at most {limit}."},
    "date": {"fr": "Saisissez une date (AAAA-MM-JJ).", "en": "Enter a date (YYYY-MM-DD)."},
    "datetime": {"fr": "Saisissez une date et une heure (AAAA-MM-JJ HH:MM).",
                 "en": "Enter a date and time (YYYY-MM-DD HH:MM)."},
    "time": {"fr": "Saisissez une heure (HH:MM).", "en": "Enter a time (HH:MM)."},
    "pattern": {"fr": "Le format de la réponse n'est pas valide.", "en": "The answer is not in the expected format."},
    "constraint": {"fr": "Cette réponse n'est pas acceptée.", "en": "This answer is not accepted."},
    "unknown": {"fr": "Question inconnue dans ce questionnaire.", "en": "Unknown question in this questionnaire."},
}
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_PATTERNS = {"email": _EMAIL, "phone": r"\+?[0-9 ().\-]{6,20}", "zipcode": r"\d{5}(-\d{4})?",
             "postalcode_french": r"\d{5}", "alpha_only": r"[A-Za-z]+"}


def _say(key: str, language: str, **values: object) -> str:
    text = MESSAGES[key].get(language) or MESSAGES[key]["en"]
    return text.format(**values)


def visible_items(instrument: Instrument, answers: dict[str, Any]) -> list[Item]:
    """Items a participant is shown given what they answered so far (skip logic applied)."""
    return [i for i in instrument.items if i.kind != "calc" and holds(i.branching, answers)]


def _parse(item: Item, value: Any) -> tuple[Any, str | None]:
    """Typed value, or the message key of what is wrong with it."""
    kind = item.kind
    if kind in ("single", "yesno"):
        codes = item.choice_codes() if kind == "single" else ["1", "0"]
        text = str(int(value)) if isinstance(value, bool) else str(value)
        if text not in codes:
            return None, "choice"
        return (int(text) if re.fullmatch(r"-?\d+", text) else text), None
    if kind == "multiple":
        values = value if isinstance(value, list) else [value]
        texts = [str(v) for v in values]
        if any(t not in item.choice_codes() for t in texts):
            return None, "choice"
        return [int(t) if re.fullmatch(r"-?\d+", t) else t for t in texts], None
    if kind in ("integer", "slider"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, "integer"
        if not number.is_integer():
            return None, "integer"
        return int(number), None
    if kind == "decimal":
        try:
            return float(str(value).replace(",", ".")), None
        except ValueError:
            return None, "number"
    if kind in ("date", "datetime", "time"):
        text = str(value).strip()
        try:
            if kind == "date":
                date.fromisoformat(text)
            elif kind == "datetime":
                datetime.fromisoformat(text)
            else:
                time.fromisoformat(text)
        except ValueError:
            return None, kind
        return text, None
    return str(value), None


def item_error(item: Item, value: Any, answers: dict[str, Any], language: str = "fr") -> str | None:
    """The message to show next to one item, or None when the answer is acceptable."""
    blank = value is None or value == "" or value == []
    if blank:
        return _say("required", language) if item.required else None
    typed, problem = _parse(item, value)
    if problem:
        return _say(problem, language)
    numeric = item.kind in ("integer", "slider", "decimal")
    for bound, key in ((item.minimum, "min"), (item.maximum, "max")):
        if bound in (None, ""):
            continue
        if numeric:
            limit: Any = float(bound)
            shown = f"{limit:g}"
        elif item.kind in ("date", "datetime"):
            limit, shown = str(bound), str(bound)
        else:
            continue
        if (typed < limit) if key == "min" else (typed > limit):
            return _say(key, language, limit=shown)
    pattern = item.pattern or _PATTERNS.get(item.validation or "")
    if pattern and not re.fullmatch(pattern, str(typed)):
        return _say("pattern", language)
    if item.constraint and not holds(item.constraint, {**answers, item.name: typed}):
        return label_of(item.constraint_message, language) or _say("constraint", language)
    return None


def clean_answers(instrument: Instrument, answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed answers of visible items plus calculated fields, and the errors found (item → key)."""
    known = {i.name: i for i in instrument.items}
    errors = {name: "unknown" for name in answers if name not in known and not name.startswith("_")}
    typed: dict[str, Any] = {}
    for item in instrument.items:
        if not item.answered:
            continue
        value = answers.get(item.name)
        if not holds(item.branching, typed):
            continue  # hidden by skip logic: whatever was sent is dropped
        if value is None or value == "" or value == []:
            if item.required:
                errors[item.name] = "required"
            continue
        parsed, problem = _parse(item, value)
        if problem:
            errors[item.name] = problem
            continue
        typed[item.name] = parsed
    for item in instrument.items:
        if item.kind == "calc" and holds(item.branching, typed):
            result = evaluate(item.calculation or "", typed)
            if result is not None:
                typed[item.name] = result
    return typed, errors


def check_answers(instrument: Instrument, answers: dict[str, Any], language: str = "en") -> dict[str, Any]:
    """Typed, complete answers, or a ValidationError naming the first item at fault."""
    typed, errors = clean_answers(instrument, answers)
    for item in instrument.items:
        if item.name in errors:
            continue
        if item.answered and item.name in typed:
            message = item_error(item, typed[item.name], typed, language)
            if message:
                raise ValidationError(message, where=f"{instrument.id}, item {item.name!r}")
    for name, key in errors.items():
        raise ValidationError(_say(key, language), where=f"{instrument.id}, item {name!r}")
    return typed
