"""FHIR Questionnaire (R4 4.0.1 / R5) ⇄ instrument.

The structure is checked with fhir.resources (pydantic models of the specification), then the
item types, linkId uniqueness and the invariants that matter for a form (que-1, que-2, que-6,
que-12) are checked here, because the models accept any code. Errors name the file, the linkId
and the field. Skip logic becomes ``enableWhen`` where it is a plain comparison; anything richer
travels in a workbench extension so a round trip keeps it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pydantic

from workbench.errors import ValidationError
from workbench.instruments.expressions import compile_expression
from workbench.instruments.model import NAME, Choice, Instrument, Item, label_of

__all__ = ["read_questionnaire", "write_questionnaire"]

EXT_LOGIC = "urn:weshare:fhir:branching-logic"
EXT_CALC = "urn:weshare:fhir:calculation"
EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
EXT_TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
EXT_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
R4_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string",
            "text", "url", "choice", "open-choice", "attachment", "reference", "quantity"}
R5_TYPES = (R4_TYPES - {"choice", "open-choice"}) | {"coding", "question"}
_KIND = {"boolean": "yesno", "decimal": "decimal", "integer": "integer", "date": "date",
         "dateTime": "datetime", "time": "time", "string": "text", "text": "notes", "url": "text",
         "attachment": "file", "display": "display"}


def _model(version: str) -> type[pydantic.BaseModel]:
    if version == "R4":
        from fhir.resources.R4B.questionnaire import Questionnaire
    else:
        from fhir.resources.questionnaire import Questionnaire
    return Questionnaire


def _version(data: dict[str, Any]) -> str:
    def types(items: list[dict[str, Any]]) -> set[str]:
        out: set[str] = set()
        for item in items:
            out.add(str(item.get("type")))
            if item.get("answerConstraint"):
                out.add("coding")
            out |= types(item.get("item", []))
        return out
    return "R5" if "coding" in types(data.get("item", [])) else "R4"


def _locate(data: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """'linkId x, field y' for a pydantic error location inside nested items."""
    node: Any = data
    link, fields = None, []
    for part in loc:
        inside = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node))
        if inside:
            node = node[part]
        else:
            fields.append(str(part))
            continue
        if isinstance(node, dict) and "linkId" in node:
            link, fields = node["linkId"], []
        elif not isinstance(part, int):
            fields.append(str(part))
    spot = f"linkId {link!r}" if link else "Questionnaire"
    return f"{spot}, field {'.'.join(fields) or '(item)'}"


def _translations(element: dict[str, Any] | None, text: str | None, language: str) -> dict[str, str]:
    out = {language: text} if text else {}
    for ext in (element or {}).get("extension", []):
        if ext.get("url") == EXT_TRANSLATION:
            parts = {e.get("url"): e for e in ext.get("extension", [])}
            lang = parts.get("lang", {}).get("valueCode", "")[:2].lower()
            content = parts.get("content", {}).get("valueString")
            if lang and content:
                out[lang] = content
    return out


def _ext(item: dict[str, Any], url: str) -> dict[str, Any] | None:
    return next((e for e in item.get("extension", []) if e.get("url") == url), None)


def _ext_value(ext: dict[str, Any] | None) -> str | None:
    if ext is None:
        return None
    for key, value in ext.items():
        if key.startswith("value"):
            return value.get("expression") if isinstance(value, dict) else str(value)
    return None


def _choice(option: dict[str, Any], language: str, where: str) -> Choice:
    if "valueCoding" in option:
        coding = option["valueCoding"]
        if not coding.get("code"):
            raise ValidationError("answerOption.valueCoding needs a code", where=where)
        return Choice(str(coding["code"]), _translations(option.get("valueCoding", {}).get("_display"),
                                                         coding.get("display"), language))
    for key in ("valueInteger", "valueString", "valueDate", "valueTime"):
        if key in option:
            value = str(option[key])
            return Choice(value, {language: value})
    raise ValidationError("answerOption needs a value", where=where)


def _enable_when(item: dict[str, Any], multi: set[str], where: str) -> str | None:
    conditions = item.get("enableWhen", [])
    if not conditions:
        return None
    if len(conditions) > 1 and item.get("enableBehavior") not in ("all", "any"):
        raise ValidationError("enableBehavior (all or any) is required with several enableWhen (que-12)",
                              where=f"{where}, field enableBehavior")
    parts = []
    for cond in conditions:
        target, op = cond.get("question", ""), cond.get("operator", "")
        answer = next((v for k, v in cond.items() if k.startswith("answer")), None)
        name = _name(target)
        if op == "exists":
            parts.append(f"[{name}] <> ''" if answer else f"[{name}] = ''")
            continue
        if op not in ("=", "!=", ">", "<", ">=", "<="):
            raise ValidationError(f"unknown enableWhen operator {op!r}", where=f"{where}, field enableWhen")
        value = answer.get("code") if isinstance(answer, dict) else answer
        if isinstance(value, bool):
            value = int(value)
        if value is None:
            raise ValidationError("enableWhen needs an answer", where=f"{where}, field enableWhen")
        if target in multi and op in ("=", "!="):
            parts.append(f"[{name}({value})] {'=' if op == '=' else '<>'} '1'")
        else:
            parts.append(f"[{name}] {'<>' if op == '!=' else op} '{value}'")
    joiner = " or " if item.get("enableBehavior") == "any" else " and "
    return joiner.join(f"({p})" if len(parts) > 1 else p for p in parts)


def _name(link_id: str) -> str:
    """A linkId as an item name: linkIds like '/44250-9' are not valid variable names."""
    if NAME.match(link_id) and "/" not in link_id:
        return link_id
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", link_id).strip("_")
    return cleaned if cleaned[:1].isalpha() else f"i_{cleaned}"


def read_questionnaire(path: Path | str | None = None, *, data: dict[str, Any] | None = None,
                       language: str = "en") -> Instrument:
    name = str(path or "questionnaire")
    if data is None:
        try:
            data = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"not a readable JSON file: {exc}", where=name) from None
    if not isinstance(data, dict) or data.get("resourceType") != "Questionnaire":
        raise ValidationError('resourceType must be "Questionnaire"', where=name)
    version = _version(data)
    try:
        _model(version).model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(first["msg"], where=f"{name}, {_locate(data, tuple(first['loc']))}") from None
    allowed = R4_TYPES if version == "R4" else R5_TYPES
    seen: set[str] = set()
    multi: set[str] = set()
    items: list[Item] = []

    def collect(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            link = node["linkId"]
            if link in seen:
                raise ValidationError("linkId is not unique (que-2)", where=f"{name}, linkId {link!r}")
            seen.add(link)
            if node.get("repeats") and node.get("type") in ("choice", "open-choice", "coding"):
                multi.add(link)
            collect(node.get("item", []))

    collect(data.get("item", []))

    def walk(nodes: list[dict[str, Any]], section: str, section_label: dict[str, str],
             inherited: str | None) -> None:
        for node in nodes:
            link, kind = node["linkId"], node.get("type", "")
            where = f"{name}, linkId {link!r}"
            if kind not in allowed:
                raise ValidationError(f"unknown item type {kind!r} for {version}", where=f"{where}, field type")
            if kind == "group" and not node.get("item"):
                raise ValidationError("a group must contain items (que-1)", where=f"{where}, field item")
            if kind == "display" and (node.get("required") or node.get("repeats")):
                raise ValidationError("display items cannot be required or repeat (que-6)", where=where)
            own = _ext_value(_ext(node, EXT_LOGIC)) or _enable_when(node, multi, where)
            logic = f"({inherited}) and ({own})" if inherited and own else (inherited or own)
            label = _translations(node.get("_text"), node.get("text"), language)
            if kind == "group":
                if node.get("repeats"):
                    raise ValidationError("repeating groups are not supported", where=f"{where}, field repeats")
                walk(node["item"], _name(link.removeprefix("section-")), label, logic)
                continue
            if kind in ("reference", "quantity", "question"):
                raise ValidationError(f"item type {kind!r} is not supported", where=f"{where}, field type")
            if node.get("answerValueSet"):
                raise ValidationError("answerValueSet cannot be resolved offline; list the answerOption",
                                      where=f"{where}, field answerValueSet")
            choices = tuple(_choice(o, language, f"{where}, field answerOption")
                            for o in node.get("answerOption", []))
            control = json.dumps(_ext(node, EXT_CONTROL) or {})
            if kind in ("choice", "open-choice", "coding"):
                resolved = "multiple" if node.get("repeats") else "single"
            elif kind == "integer" and "slider" in control:
                resolved = "slider"
            else:
                resolved = _KIND[kind]
            hint: dict[str, str] = {}
            for child in node.get("item", []):
                if child.get("type") == "display" and "help" in json.dumps(_ext(child, EXT_CONTROL) or {}):
                    seen.discard(child["linkId"])
                    hint = _translations(child.get("_text"), child.get("text"), language)
                else:
                    raise ValidationError("questions nested under a question are not supported",
                                          where=f"{name}, linkId {child.get('linkId')!r}")
            calc = _ext_value(_ext(node, EXT_CALC))
            if calc:
                resolved = "calc"
            items.append(Item(
                name=_name(link), kind=resolved, label=label, hint=hint, choices=choices,
                required=bool(node.get("required")), minimum=_ext_value(_ext(node, EXT_MIN)),
                maximum=_ext_value(_ext(node, EXT_MAX)), pattern=_ext_value(_ext(node, EXT_REGEX)),
                branching=logic, calculation=calc, section=section, section_label=section_label,
                widget="slider" if resolved == "slider" else "", annotation=link if _name(link) != link else "",
            ))

    walk(data.get("item", []), _name(str(data.get("id") or data.get("name") or "questionnaire")), {}, None)
    if not items:
        raise ValidationError("the questionnaire has no items", where=name)
    known = {i.name for i in items}
    for item in items:
        for text in (item.branching, item.calculation):
            try:
                unknown = sorted(compile_expression(text).fields() - known) if text else []
            except ValidationError as exc:
                raise ValidationError(exc.message, where=f"{name}, linkId {item.annotation or item.name!r}") from None
            if unknown:
                raise ValidationError(f"enableWhen refers to unknown question {unknown[0]!r}",
                                      where=f"{name}, linkId {item.annotation or item.name!r}, field enableWhen")
    ident = str(data.get("id") or data.get("name") or Path(name).stem)
    ident = re.sub(r"[^A-Za-z0-9_.\-]+", "-", ident).strip("-") or "questionnaire"
    try:
        return Instrument(ident, _translations(data.get("_title"), data.get("title"), language) or {language: ident},
                          tuple(items), version=str(data.get("version") or "1"), source="fhir",
                          attribution=str(data.get("copyright") or ""))
    except ValidationError as exc:
        raise ValidationError(exc.message, where=f"{name}: {exc.where}") from None


_SIMPLE = re.compile(r"^\[([A-Za-z_][\w.\-]*)(?:\(([\w\-]+)\))?\]\s*(=|<>|<=|>=|<|>)\s*'([^']*)'$")


def _as_enable_when(logic: str, kinds: dict[str, Item]) -> list[dict[str, Any]] | None:
    """enableWhen entries for 'a and b' of simple comparisons, else None (use the extension)."""
    parts = [p.strip().strip("()") for p in re.split(r"\s+and\s+", logic)]
    out = []
    for part in parts:
        match = _SIMPLE.match(part)
        if not match or match.group(1) not in kinds:
            return None
        field, option, op, value = match.groups()
        target = kinds[field]
        link = target.annotation or target.name
        if option is not None:
            if value not in ("0", "1") or op not in ("=", "<>"):
                return None
            positive = (value == "1") == (op == "=")
            if not positive:
                return None
            out.append({"question": link, "operator": "=", "answerCoding": {"code": option}})
        elif target.kind in ("single", "multiple"):
            out.append({"question": link, "operator": "!=" if op == "<>" else op, "answerCoding": {"code": value}})
        elif target.kind in ("integer", "slider", "yesno") and re.fullmatch(r"-?\d+", value):
            answer = {"answerBoolean": value == "1"} if target.kind == "yesno" else {"answerInteger": int(value)}
            if target.kind == "yesno" and op not in ("=", "<>"):
                return None
            out.append({"question": link, "operator": "!=" if op == "<>" else op, **answer})
        else:
            return None
    return out


def _text(label: dict[str, str], language: str) -> tuple[str, dict[str, Any] | None]:
    main = label_of(label, language)
    others = [{"url": EXT_TRANSLATION, "extension": [{"url": "lang", "valueCode": lang},
                                                     {"url": "content", "valueString": text}]}
              for lang, text in label.items() if lang != language and text]
    return main, ({"extension": others} if others else None)


def write_questionnaire(instrument: Instrument, *, version: str = "R4", language: str = "en",
                        canonical: str = "https://weshare.invalid/fhir") -> dict[str, Any]:
    """A Questionnaire resource, checked against the fhir.resources model before it is returned."""
    if version not in ("R4", "R5"):
        raise ValidationError("R4 or R5", where="FHIR version")
    by_name = {i.name: i for i in instrument.items}
    out_items: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    sections = {i.section for i in instrument.items}
    for item in instrument.items:
        link = item.annotation if item.annotation.startswith("/") else item.name
        kind = {"single": "choice", "multiple": "choice", "yesno": "boolean", "integer": "integer",
                "slider": "integer", "decimal": "decimal", "text": "string", "notes": "text",
                "date": "date", "datetime": "dateTime", "time": "time", "file": "attachment",
                "display": "display", "calc": "decimal"}[item.kind]
        if kind == "choice" and version == "R5":
            kind = "coding"
        text, text_ext = _text(item.label, language)
        node: dict[str, Any] = {"linkId": link, "type": kind}
        if text:
            node["text"] = text
        if text_ext:
            node["_text"] = text_ext
        if item.required and kind != "display":
            node["required"] = True
        if item.kind == "multiple":
            node["repeats"] = True
        if kind in ("choice", "coding"):
            if version == "R5":
                node["answerConstraint"] = "optionsOnly"
            options = []
            for c in item.choices:
                display, display_ext = _text(c.label, language)
                coding: dict[str, Any] = {"code": c.code}
                if display:
                    coding["display"] = display
                if display_ext:
                    coding["_display"] = display_ext
                options.append({"valueCoding": coding})
            node["answerOption"] = options
        extensions = []
        if item.kind == "slider":
            extensions.append({"url": EXT_CONTROL, "valueCodeableConcept": {"coding": [
                {"system": "http://hl7.org/fhir/questionnaire-item-control", "code": "slider"}]}})
        for url, bound in ((EXT_MIN, item.minimum), (EXT_MAX, item.maximum)):
            if bound not in (None, ""):
                if item.kind in ("integer", "slider"):
                    extensions.append({"url": url, "valueInteger": int(float(bound))})
                elif item.kind == "decimal":
                    extensions.append({"url": url, "valueDecimal": float(bound)})
                elif item.kind == "date":
                    extensions.append({"url": url, "valueDate": bound})
        if item.pattern:
            extensions.append({"url": EXT_REGEX, "valueString": item.pattern})
        if item.calculation:
            node["readOnly"] = True
            extensions.append({"url": EXT_CALC, "valueString": item.calculation})
        if item.branching:
            enable = _as_enable_when(item.branching, by_name)
            if enable:
                node["enableWhen"] = enable
                if len(enable) > 1:
                    node["enableBehavior"] = "all"
            else:
                extensions.append({"url": EXT_LOGIC, "valueString": item.branching})
        if extensions:
            node["extension"] = extensions
        if item.hint:
            help_text, help_ext = _text(item.hint, language)
            help_node: dict[str, Any] = {
                "linkId": f"{link}.help", "type": "display", "text": help_text,
                "extension": [{"url": EXT_CONTROL, "valueCodeableConcept": {"coding": [
                    {"system": "http://hl7.org/fhir/questionnaire-item-control", "code": "help"}]}}]}
            if help_ext:
                help_node["_text"] = help_ext
            node["item"] = [help_node]
        if len(sections) > 1 and item.section:
            group = groups.get(item.section)
            if group is None:
                group = {"linkId": f"section-{item.section}", "type": "group", "item": []}
                title, title_ext = _text(item.section_label, language)
                if title:
                    group["text"] = title
                if title_ext:
                    group["_text"] = title_ext
                groups[item.section] = group
                out_items.append(group)
            group["item"].append(node)
        else:
            out_items.append(node)
    title, title_ext = _text(instrument.title, language)
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire", "id": instrument.id, "url": f"{canonical}/Questionnaire/{instrument.id}",
        "version": instrument.version, "name": re.sub(r"[^A-Za-z0-9_]", "_", instrument.id),
        "title": title, "status": "active", "item": out_items,
    }
    if title_ext:
        resource["_title"] = title_ext
    if instrument.attribution:
        resource["copyright"] = instrument.attribution
    try:
        _model(version).model_validate(resource)
    except pydantic.ValidationError as exc:  # a bug in this writer, not user input
        first = exc.errors()[0]
        raise ValidationError(first["msg"], where=f"export of {instrument.id}, {_locate(resource, tuple(first['loc']))}") from None
    return resource
