"""REDCap data dictionary (CSV, 18 columns) ⇄ instruments, one instrument per form.

Every error names the file, the row (file line) and the column; nothing is returned until the
whole file has been checked, so an import stores all forms or none. Unknown validation types are
accepted with a warning, as REDCap sites define their own.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import ValidationError
from workbench.instruments.expressions import compile_expression
from workbench.instruments.model import Choice, Instrument, Item, label_of

__all__ = ["HEADER", "DictionaryImport", "read_data_dictionary", "write_data_dictionary"]

HEADER = ("Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note",
          "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
          "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
          "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
          "Field Annotation")
FIELD_TYPES = ("text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "file",
               "slider", "descriptive", "sql")
KNOWN_VALIDATIONS = {
    "date_ymd", "date_mdy", "date_dmy", "datetime_ymd", "datetime_mdy", "datetime_dmy",
    "datetime_seconds_ymd", "datetime_seconds_mdy", "datetime_seconds_dmy", "time", "time_mm_ss",
    "integer", "number", "number_1dp", "number_2dp", "number_3dp", "number_4dp", "number_comma_decimal",
    "number_1dp_comma_decimal", "number_2dp_comma_decimal", "phone", "email", "zipcode", "alpha_only",
    "postalcode_french",
}
VAR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
CHOICE_TYPES = ("dropdown", "radio", "checkbox")


@dataclass
class DictionaryImport:
    instruments: list[Instrument]
    record_id: str
    warnings: list[str] = field(default_factory=list)


def _kind(field_type: str, validation: str) -> str:
    if field_type == "text":
        if validation.startswith("datetime"):
            return "datetime"
        if validation.startswith("date"):
            return "date"
        if validation.startswith("time"):
            return "time"
        if validation == "integer":
            return "integer"
        if validation.startswith("number"):
            return "decimal"
        return "text"
    return {"notes": "notes", "dropdown": "single", "radio": "single", "checkbox": "multiple",
            "yesno": "yesno", "truefalse": "yesno", "calc": "calc", "file": "file", "slider": "slider",
            "descriptive": "display"}[field_type]


def _choices(text: str, where: str, language: str) -> tuple[Choice, ...]:
    out = []
    for part in text.split("|"):
        if not part.strip():
            continue
        code, sep, label = part.partition(",")
        if not sep or not code.strip():
            raise ValidationError(f"choice {part.strip()!r} must be 'code, label'", where=where)
        if not re.fullmatch(r"-?[A-Za-z0-9_]+", code.strip()):
            raise ValidationError(f"choice code {code.strip()!r}: letters, digits, _ or a negative integer",
                                  where=where)
        out.append(Choice(code.strip(), {language: label.strip()}))
    if not out:
        raise ValidationError("choices are required for this field type", where=where)
    return tuple(out)


def _expression(text: str, where: str, known: set[str]) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        expression = compile_expression(text)
    except ValidationError as exc:
        raise ValidationError(exc.message, where=where) from None
    unknown = sorted(expression.fields() - known)
    if unknown:
        raise ValidationError(f"refers to unknown field [{unknown[0]}]", where=where)
    return text


def read_data_dictionary(path: Path | str, *, language: str = "en", text: str | None = None) -> DictionaryImport:
    """Parse a dictionary into instruments (forms in order of first appearance)."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read the file as UTF-8 CSV: {exc}", where=name) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValidationError("the file is empty", where=name)
    header = tuple(c.strip() for c in rows[0])
    if header != HEADER:
        for i, expected in enumerate(HEADER):
            got = header[i] if i < len(header) else "(missing)"
            if got != expected:
                raise ValidationError(f"column {i + 1} must be {expected!r}, found {got!r}",
                                      where=f"{name}, row 1")
        raise ValidationError(f"{len(header)} columns; a data dictionary has exactly 18",
                              where=f"{name}, row 1")
    if len(rows) < 2:
        raise ValidationError("no fields", where=name)
    warnings: list[str] = []
    forms: dict[str, list[Item]] = {}
    seen: set[str] = set()
    record_id = ""
    last_form = ""
    for line, raw in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in raw):
            continue
        if len(raw) != 18:
            raise ValidationError(f"{len(raw)} cells; every row has 18", where=f"{name}, row {line}")
        cell = dict(zip(HEADER, (c.strip() for c in raw), strict=True))

        def at(column: str, line: int = line) -> str:
            return f"{name}, row {line}, column {column!r}"

        var, form, ftype = cell[HEADER[0]], cell[HEADER[1]], cell[HEADER[3]]
        if not VAR_NAME.match(var):
            raise ValidationError("lowercase letters, digits and _ only, starting with a letter",
                                  where=at(HEADER[0]))
        if var in seen:
            raise ValidationError(f"duplicate variable {var!r}", where=at(HEADER[0]))
        if not VAR_NAME.match(form):
            raise ValidationError("lowercase letters, digits and _ only, starting with a letter",
                                  where=at(HEADER[1]))
        if form != last_form and form in forms:
            raise ValidationError(f"rows of form {form!r} must be contiguous", where=at(HEADER[1]))
        if ftype not in FIELD_TYPES:
            raise ValidationError(f"unknown field type {ftype!r}; one of {', '.join(FIELD_TYPES)}",
                                  where=at(HEADER[3]))
        if ftype == "sql":
            raise ValidationError("sql fields depend on a REDCap server and cannot be imported",
                                  where=at(HEADER[3]))
        if not record_id:
            record_id = var  # the first field is the record identifier, not a question
            seen.add(var)
            last_form = form
            forms.setdefault(form, [])
            continue
        validation = cell[HEADER[7]]
        if validation and ftype == "text" and validation not in KNOWN_VALIDATIONS:
            warnings.append(f"{at(HEADER[7])}: unknown validation {validation!r} kept as is")
        choices: tuple[Choice, ...] = ()
        calculation = None
        spec = cell[HEADER[5]]
        if ftype in CHOICE_TYPES:
            choices = _choices(spec, at(HEADER[5]), language)
        elif ftype == "calc":
            calculation = _expression(spec, at(HEADER[5]), seen)
            if calculation is None:
                raise ValidationError("a calc field needs its formula", where=at(HEADER[5]))
        elif ftype == "slider" and spec:
            labels = [p.strip() for p in spec.split("|")]
            choices = tuple(Choice(code, {language: text}) for code, text in zip(("0", "50", "100"), labels,
                                                                                 strict=False))
        for column in (HEADER[8], HEADER[9]):
            value = cell[column]
            if value and _kind(ftype, validation) in ("integer", "decimal", "slider"):
                try:
                    float(value)
                except ValueError:
                    raise ValidationError(f"{value!r} is not a number", where=at(column)) from None
        branching = _expression(cell[HEADER[11]], at(HEADER[11]), seen | {var})
        matrix = cell[HEADER[15]]
        item = Item(
            name=var, kind=_kind(ftype, validation), label={language: cell[HEADER[4]]},
            hint={language: cell[HEADER[6]]} if cell[HEADER[6]] else {}, choices=choices,
            required=cell[HEADER[12]].lower() == "y", minimum=cell[HEADER[8]] or None,
            maximum=cell[HEADER[9]] or None, validation=validation or None, branching=branching,
            calculation=calculation, section=form,
            section_label={language: cell[HEADER[2]]} if cell[HEADER[2]] else {},
            identifier=cell[HEADER[10]].lower() == "y", annotation=cell[HEADER[17]],
            widget=("dropdown" if ftype == "dropdown" else "truefalse" if ftype == "truefalse"
                    else f"matrix:{matrix}" if matrix else ""),
        )
        seen.add(var)
        forms.setdefault(form, []).append(item)
        last_form = form
    instruments = []
    for form, items in forms.items():
        if not items:
            continue
        try:
            instruments.append(Instrument(form, {language: form.replace("_", " ")}, tuple(items),
                                          source="redcap"))
        except ValidationError as exc:
            raise ValidationError(exc.message, where=f"{name}, form {form!r}: {exc.where}") from None
    if not instruments:
        raise ValidationError("no form has questions", where=name)
    return DictionaryImport(instruments, record_id, warnings)


def _field_type(item: Item) -> tuple[str, str]:
    """REDCap field type and validation for an item."""
    kind = item.kind
    if kind == "single":
        return ("dropdown" if item.widget == "dropdown" else "radio"), ""
    if kind == "yesno":
        return ("truefalse" if item.widget == "truefalse" else "yesno"), ""
    simple = {"multiple": "checkbox", "calc": "calc", "file": "file", "slider": "slider",
              "display": "descriptive", "notes": "notes"}
    if kind in simple:
        return simple[kind], (item.validation or "") if kind == "slider" else ""
    default = {"date": "date_ymd", "datetime": "datetime_ymd", "time": "time", "integer": "integer",
               "decimal": "number"}.get(kind, "")
    return "text", item.validation or default


def write_data_dictionary(instruments: list[Instrument], *, language: str = "en",
                          record_id: str = "record_id") -> str:
    """The 18-column CSV text REDCap's dictionary upload accepts."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    names = {record_id}
    for n, instrument in enumerate(instruments):
        form = re.sub(r"[^a-z0-9_]+", "_", instrument.id.lower()).strip("_")
        if not VAR_NAME.match(form):
            form = f"form_{form}"
        if n == 0:
            writer.writerow([record_id, form, "", "text", "Record ID", *[""] * 13])
        for item in instrument.items:
            if not VAR_NAME.match(item.name):
                raise ValidationError("not a valid REDCap variable name (lowercase letters, digits, _)",
                                      where=f"{instrument.id}, item {item.name!r}")
            if item.name in names:
                raise ValidationError("REDCap variable names are unique across forms: export these "
                                      "instruments separately", where=f"{instrument.id}, item {item.name!r}")
            names.add(item.name)
            ftype, validation = _field_type(item)
            if item.kind in ("single", "multiple"):
                spec = " | ".join(f"{c.code}, {label_of(c.label, language)}" for c in item.choices)
            elif item.kind == "slider":
                spec = " | ".join(label_of(c.label, language) for c in item.choices)
            else:
                spec = item.calculation or ""
            matrix = item.widget[7:] if item.widget.startswith("matrix:") else ""
            writer.writerow([
                item.name, form, label_of(item.section_label, language), ftype,
                label_of(item.label, language), spec, label_of(item.hint, language), validation,
                item.minimum or "", item.maximum or "", "y" if item.identifier else "",
                item.branching or "", "y" if item.required else "", "", "", matrix, "", item.annotation,
            ])
    return out.getvalue()
