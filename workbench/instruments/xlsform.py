"""XLSForm (xlsx) → instrument, read with pyxform, ODK's reference converter.

pyxform checks the workbook (types, names, choice lists) and reports its own errors with the
sheet row; we then translate XPath skip logic and calculations into the internal expression
syntax and refuse what it cannot express (repeats, string functions), naming the survey row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl

from workbench.errors import ValidationError
from workbench.instruments.expressions import compile_expression
from workbench.instruments.model import Choice, Instrument, Item

__all__ = ["read_xlsform", "translate_xpath"]

_META = {"start", "end", "today", "deviceid", "username", "phonenumber", "email", "audit",
         "simserial", "subscriberid", "start-geopoint", "background-audio"}
_KINDS = {"select one": "single", "select all that apply": "multiple", "integer": "integer",
          "decimal": "decimal", "range": "slider", "text": "text", "date": "date", "time": "time",
          "dateTime": "datetime", "note": "display", "calculate": "calc", "acknowledge": "yesno",
          "image": "file", "file": "file", "audio": "file", "video": "file"}
_LANG = re.compile(r"\(([A-Za-z]{2,3})\)\s*$")
_UNSUPPORTED = re.compile(r"\b(count-selected|selected-at|string-length|concat|regex|jr:choice-name|"
                          r"indexed-repeat|position|once|random|uuid|format-date|coalesce|today|now|"
                          r"decimal-date-time|pow|int)\s*\(")


def _language(key: str, default: str) -> str:
    if key == "default":
        return default
    match = _LANG.search(key)
    code = (match.group(1) if match else key).lower()
    return {"english": "en", "french": "fr", "français": "fr", "francais": "fr"}.get(code, code)


def _texts(value: Any, default: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {default: value}
    return {_language(k, default): str(v) for k, v in value.items() if v}


def translate_xpath(text: str, self_name: str = "") -> str:
    """ODK XPath → internal expression syntax; raises ValueError on what has no equivalent."""
    source = text.strip()
    found = _UNSUPPORTED.search(source)
    if found:
        raise ValueError(f"the function {found.group(1)}() is not supported")
    out = re.sub(r"selected\(\s*\$\{([^}]+)\}\s*,\s*'([^']*)'\s*\)", r"[\1(\2)] = '1'", source)
    out = re.sub(r"selected\(\s*\$\{([^}]+)\}\s*,\s*\"([^\"]*)\"\s*\)", r"[\1(\2)] = '1'", out)
    out = re.sub(r"\$\{([^}]+)\}", r"[\1]", out)
    out = out.replace("!=", "<>")
    out = re.sub(r"\bdiv\b", "/", out)
    out = re.sub(r"\bmod\b", "%", out)
    if "%" in out:
        raise ValueError("mod is not supported")
    out = re.sub(r"\btrue\(\)", "true", out)
    out = re.sub(r"\bfalse\(\)", "false", out)
    if self_name:
        out = re.sub(r"(?<![\w\]\.])\.(?![\w\d])", f"[{self_name}]", out)
    return out


def _rows(path: Path) -> dict[str, int]:
    """Survey row number of each question name, for error messages."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ValidationError(f"not a readable xlsx workbook ({type(exc).__name__})", where=str(path)) from None
    try:
        sheet = book["survey"]
    except KeyError:
        raise ValidationError("the workbook has no 'survey' sheet", where=str(path)) from None
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    if not rows:
        return {}
    header = [str(c).strip() if c is not None else "" for c in rows[0]]
    if "name" not in header:
        raise ValidationError("the survey sheet has no 'name' column", where=f"{path}, survey row 1")
    column = header.index("name")
    return {str(r[column]).strip(): n for n, r in enumerate(rows[1:], start=2)
            if column < len(r) and r[column] is not None}


def read_xlsform(path: Path | str, *, language: str = "en") -> Instrument:
    path = Path(path)
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import parse_file_to_json

    rows = _rows(path)
    warnings: list[str] = []
    try:
        tree = parse_file_to_json(str(path), warnings=warnings)
    except PyXFormError as exc:
        raise ValidationError(str(exc).strip(), where=str(path)) from None
    except Exception as exc:  # pyxform surfaces malformed sheets as assorted exceptions
        raise ValidationError(f"the workbook could not be read as an XLSForm: {exc}", where=str(path)) from None
    default = _language(tree.get("default_language") or "default", language)
    items: list[Item] = []

    def where(name: str, column: str) -> str:
        return f"{path}, survey row {rows.get(name, '?')}, column {column!r}"

    def expr(name: str, column: str, text: str | None, self_name: str = "") -> str | None:
        if not text:
            return None
        try:
            out = translate_xpath(text, self_name)
            compile_expression(out)
        except (ValueError, ValidationError) as exc:
            raise ValidationError(f"{getattr(exc, 'message', exc)} in {text!r}", where=where(name, column)) from None
        return out

    def walk(children: list[dict[str, Any]], section: str, relevant: str | None,
             section_label: dict[str, str]) -> None:
        for child in children:
            kind, name = child.get("type", ""), child.get("name", "")
            bind = child.get("bind", {})
            if kind in _META or name == "meta":
                continue
            own = expr(name, "relevant", bind.get("relevant"))
            combined = f"({relevant}) and ({own})" if relevant and own else (relevant or own)
            if kind == "group":
                walk(child.get("children", []), name, combined, _texts(child.get("label"), default))
                continue
            if kind == "repeat":
                raise ValidationError("repeat groups are not supported", where=where(name, "type"))
            if kind not in _KINDS:
                raise ValidationError(f"question type {kind!r} is not supported", where=where(name, "type"))
            required = str(bind.get("required", "")).strip().lower() in ("yes", "true", "true()")
            choices = tuple(Choice(str(c["name"]), _texts(c.get("label"), default))
                            for c in child.get("choices", []))
            params = child.get("parameters", {}) or {}
            appearance = str(child.get("control", {}).get("appearance", ""))
            resolved = _KINDS[kind]
            if resolved == "text" and "multiline" in appearance:
                resolved = "notes"
            if kind == "acknowledge":
                choices = ()
            items.append(Item(
                name=name, kind=resolved, label=_texts(child.get("label"), default),
                hint=_texts(child.get("hint"), default), choices=choices, required=required,
                minimum=str(params["start"]) if "start" in params else None,
                maximum=str(params["end"]) if "end" in params else None,
                constraint=expr(name, "constraint", bind.get("constraint"), name),
                constraint_message=_texts(bind.get("jr:constraintMsg"), default),
                branching=combined, calculation=expr(name, "calculation", bind.get("calculate")),
                section=section, section_label=section_label,
                widget="signature" if "signature" in appearance else appearance,
            ))

    walk(tree.get("children", []), tree.get("id_string") or "form", None, {})
    if not items:
        raise ValidationError("the form has no questions", where=str(path))
    known = {i.name for i in items}
    for item in items:
        for column, text in (("relevant", item.branching), ("constraint", item.constraint),
                             ("calculation", item.calculation)):
            unknown = sorted(compile_expression(text).fields() - known) if text else []
            if unknown:
                raise ValidationError(f"refers to unknown question ${{{unknown[0]}}}", where=where(item.name, column))
    try:
        return Instrument(str(tree.get("id_string") or path.stem), _texts(tree.get("title"), default) or
                          {default: path.stem}, tuple(items), version=str(tree.get("version") or "1"),
                          source="xlsform")
    except ValidationError as exc:
        raise ValidationError(exc.message, where=f"{path}: {exc.where}") from None
