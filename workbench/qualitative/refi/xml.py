"""QDA-XML ⇄ ``Project``: writing with lxml (never string concatenation) and strict reading.

Reading validates against the workbench's Project.xsd profile first, so an unknown element, a
misplaced one or a malformed GUID is reported with its element name and line; then references
(code, user, note, variable, source GUIDs) and text offsets are checked. The whole project is
built in memory and returned only when everything passed: nothing is ever half-imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources

from lxml import etree

from workbench.errors import ValidationError
from workbench.qualitative.refi.model import (
    Case,
    CodeSet,
    Coding,
    Note,
    Project,
    QdaCode,
    Selection,
    TextSource,
    User,
    Variable,
    VariableValue,
)

__all__ = ["NS", "UNSUPPORTED", "guid", "parse_project", "project_to_xml", "schema",
           "schema_message"]

NS = "urn:QDA-XML:project:1.0"
SCHEMA_LOCATION = "http://schema.qdasoftware.org/versions/Project/v1.0/Project.xsd"
# Elements of the standard the workbench does not exchange yet: named in the error, not dropped.
UNSUPPORTED = {"PictureSource", "PDFSource", "AudioSource", "VideoSource", "Links", "Graphs"}


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


@cache
def schema(name: str = "Project.xsd") -> etree.XMLSchema:
    data = resources.files("workbench.qualitative.refi").joinpath(f"schema/{name}").read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


_PATTERN = re.compile(r"\[facet 'pattern'\] The value '(.*?)' is not accepted by the pattern '(.*)'\.?$")


def schema_message(message: str, namespace: str) -> str:
    """lxml's XSD message without namespaces and regular expressions, in plain words."""
    message = message.replace(f"{{{namespace}}}", "")
    match = _PATTERN.search(message)
    if match:
        hint = (" (expected a GUID such as 5067d381-1dc9-4816-81dd-ae1dbfea2ad7)"
                if "{12}" in match.group(2) else " (expected a colour such as #1f77b4)"
                if "A-Fa-f0-9]{6}" in match.group(2) else "")
        message = message[: match.start()] + f"'{match.group(1)}' is not a valid value{hint}"
    return message


def guid(value: str) -> str:
    return value.strip().strip("{}").lower()


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text.replace("+00:00", "Z")


def _set(el: etree._Element, **attrs: object) -> None:
    for key, value in attrs.items():
        if value not in (None, ""):
            el.set(key, str(value).lower() if isinstance(value, bool) else str(value))


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: object) -> etree._Element:
    el = etree.SubElement(parent, _q(tag))
    _set(el, **attrs)
    if text is not None:
        el.text = text
    return el


def _refs(parent: etree._Element, tag: str, guids: tuple[str, ...]) -> None:
    for target in guids:
        _sub(parent, tag, targetGUID=target)


def _values(parent: etree._Element, values: tuple[tuple[str, VariableValue], ...],
            types: Mapping[str, str]) -> None:
    for var, value in values:
        vv = _sub(parent, "VariableValue")
        _sub(vv, "VariableRef", targetGUID=var)
        kind = types[var]
        if kind == "Boolean":
            text = "true" if value else "false"
        elif kind == "DateTime":
            text = _time(value)  # type: ignore[arg-type]
        else:
            text = value.isoformat() if isinstance(value, date) else str(value)
        _sub(vv, f"{kind}Value", text)


def _codings(parent: etree._Element, codings: tuple[Coding, ...]) -> None:
    for c in codings:
        el = _sub(parent, "Coding", guid=c.guid, creatingUser=c.coder,
                  creationDateTime=_time(c.created))
        _sub(el, "CodeRef", targetGUID=c.code)
        _refs(el, "NoteRef", c.notes)


def project_to_xml(project: Project, text_paths: Mapping[str, str] | None = None) -> bytes:
    """Serialise; ``text_paths`` maps source GUID → ``internal://…`` path (else inline text)."""
    text_paths = text_paths or {}
    root = etree.Element(_q("Project"), nsmap={None: NS,
                                               "xsi": "http://www.w3.org/2001/XMLSchema-instance"})
    root.set("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", f"{NS} {SCHEMA_LOCATION}")
    _set(root, name=project.name, origin=project.origin, creatingUserGUID=project.creator,
         creationDateTime=_time(project.created), modifyingUserGUID=project.modifier,
         modifiedDateTime=_time(project.modified), basePath=project.base_path)
    if project.users:
        users = _sub(root, "Users")
        for u in project.users:
            _sub(users, "User", guid=u.guid, name=u.name, id=u.id)
    if project.codes:
        codes = _sub(_sub(root, "CodeBook"), "Codes")
        elements: dict[str | None, etree._Element] = {None: codes}
        for code in _tree_order(project.codes):
            el = _sub(elements[code.parent], "Code", guid=code.guid, name=code.name,
                      isCodable=code.codable, color=code.color)
            if code.description:
                _sub(el, "Description", code.description)
            _refs(el, "NoteRef", code.notes)
            elements[code.guid] = el
    types = {v.guid: v.type for v in project.variables}
    if project.variables:
        variables = _sub(root, "Variables")
        for v in project.variables:
            el = _sub(variables, "Variable", guid=v.guid, name=v.name, typeOfVariable=v.type)
            if v.description:
                _sub(el, "Description", v.description)
    if project.cases:
        cases = _sub(root, "Cases")
        for case in project.cases:
            el = _sub(cases, "Case", guid=case.guid, name=case.name)
            if case.description:
                _sub(el, "Description", case.description)
            _refs(el, "CodeRef", case.codes)
            _values(el, case.values, types)
            _refs(el, "SourceRef", case.sources)
            _refs(el, "SelectionRef", case.selections)
    if project.sources:
        sources = _sub(root, "Sources")
        for src in project.sources:
            path = None if src.inline else text_paths.get(src.guid)
            el = _sub(sources, "TextSource", guid=src.guid, name=src.name, plainTextPath=path,
                      creatingUser=src.creator, creationDateTime=_time(src.created))
            if src.description:
                _sub(el, "Description", src.description)
            if path is None:
                _sub(el, "PlainTextContent", src.text)
            for sel in src.selections:
                s_el = _sub(el, "PlainTextSelection", guid=sel.guid, name=sel.name,
                            startPosition=sel.start, endPosition=sel.end, creatingUser=sel.coder,
                            creationDateTime=_time(sel.created))
                if sel.description:
                    _sub(s_el, "Description", sel.description)
                _codings(s_el, sel.codings)
                _refs(s_el, "NoteRef", sel.notes)
            _codings(el, src.codings)
            _refs(el, "NoteRef", src.notes)
            _values(el, src.values, types)
    if project.notes:
        notes = _sub(root, "Notes")
        for note in project.notes:
            el = _sub(notes, "Note", guid=note.guid, name=note.name, creatingUser=note.creator,
                      creationDateTime=_time(note.created))
            if note.description:
                _sub(el, "Description", note.description)
            _sub(el, "PlainTextContent", note.text)
    if project.sets:
        sets = _sub(root, "Sets")
        for s in project.sets:
            el = _sub(sets, "Set", guid=s.guid, name=s.name)
            if s.description:
                _sub(el, "Description", s.description)
            _refs(el, "MemberCode", s.codes)
            _refs(el, "MemberSource", s.sources)
            _refs(el, "MemberNote", s.notes)
    if project.description:
        _sub(root, "Description", project.description)
    _refs(root, "NoteRef", project.project_notes)
    data = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    schema().assertValid(etree.fromstring(data))  # our own output must always be valid
    return data


def _tree_order(codes: tuple[QdaCode, ...]) -> list[QdaCode]:
    """Parents before children, keeping sibling order."""
    by_parent: dict[str | None, list[QdaCode]] = {}
    for c in codes:
        by_parent.setdefault(c.parent, []).append(c)
    out: list[QdaCode] = []
    todo = list(reversed(by_parent.get(None, [])))
    while todo:
        code = todo.pop()
        out.append(code)
        todo.extend(reversed(by_parent.get(code.guid, [])))
    if len(out) != len(codes):
        raise ValidationError("a code's parent is missing or the code tree has a cycle",
                              where="CodeBook")
    return out


# ---- reading -------------------------------------------------------------------------------

def _where(el: etree._Element) -> str:
    name = etree.QName(el).localname
    ident = el.get("guid") or el.get("name") or ""
    return f"project.qde line {el.sourceline} <{name}{' ' + ident if ident else ''}>"


def _parse_time(el: etree._Element, attr: str) -> datetime | None:
    value = el.get(attr)
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _kids(el: etree._Element, tag: str) -> list[etree._Element]:
    return el.findall(_q(tag))


def _text(el: etree._Element, tag: str) -> str:
    child = el.find(_q(tag))
    return (child.text or "") if child is not None else ""


def _ref_list(el: etree._Element, tag: str) -> tuple[str, ...]:
    return tuple(guid(r.get("targetGUID", "")) for r in _kids(el, tag))


_CONVERT: dict[str, Callable[[str], VariableValue]] = {
    "TextValue": str, "BooleanValue": lambda v: v.strip() in ("true", "1"),
    "IntegerValue": int, "FloatValue": Decimal, "DateValue": date.fromisoformat,
    "DateTimeValue": lambda v: datetime.fromisoformat(v.strip().replace("Z", "+00:00")),
}


def _parse_values(el: etree._Element) -> tuple[tuple[str, VariableValue], ...]:
    out = []
    for vv in _kids(el, "VariableValue"):
        ref = guid(vv.find(_q("VariableRef")).get("targetGUID"))
        value_el = next((c for c in vv if etree.QName(c).localname != "VariableRef"), None)
        if value_el is None:
            continue
        kind = etree.QName(value_el).localname
        out.append((ref, _CONVERT[kind]((value_el.text or "").strip() if kind != "TextValue"
                                        else value_el.text or "")))
    return tuple(out)


def _parse_codings(el: etree._Element) -> tuple[Coding, ...]:
    return tuple(Coding(guid(c.get("guid")), guid(c.find(_q("CodeRef")).get("targetGUID")),
                        guid(c.get("creatingUser", "")), _parse_time(c, "creationDateTime"),
                        _ref_list(c, "NoteRef")) for c in _kids(el, "Coding"))


def _check_supported(root: etree._Element) -> None:
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        qname = etree.QName(el)
        if qname.namespace == NS and qname.localname in UNSUPPORTED:
            raise ValidationError(f"<{qname.localname}> is valid REFI-QDA but not supported by "
                                  "the workbench yet; remove it or export text sources only",
                                  where=f"project.qde line {el.sourceline}")


def parse_project(data: bytes, read_text: Callable[[str, str], str]) -> Project:
    """Parse ``project.qde`` bytes; ``read_text(path, where)`` returns a source's plain text."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ValidationError(f"not well-formed XML: {exc.msg}",
                              where=f"project.qde line {exc.lineno}") from None
    if etree.QName(root).namespace != NS:
        raise ValidationError(f"root element must be <Project> in namespace {NS}",
                              where="project.qde line 1")
    _check_supported(root)
    xsd = schema()
    if not xsd.validate(root):
        error = xsd.error_log[0]
        raise ValidationError(schema_message(error.message, NS),
                              where=f"project.qde line {error.line}")
    users = tuple(User(guid(u.get("guid")), u.get("name", ""), u.get("id", ""))
                  for users_el in _kids(root, "Users") for u in _kids(users_el, "User"))
    codes: list[QdaCode] = []

    def walk(parent_el: etree._Element, parent: str | None) -> None:
        for c in _kids(parent_el, "Code"):
            code = QdaCode(guid(c.get("guid")), c.get("name"),
                           c.get("isCodable") in ("true", "1"), c.get("color", ""),
                           _text(c, "Description"), parent, _ref_list(c, "NoteRef"))
            codes.append(code)
            walk(c, code.guid)

    for book in _kids(root, "CodeBook"):
        walk(book.find(_q("Codes")), None)
    variables = tuple(Variable(guid(v.get("guid")), v.get("name"), v.get("typeOfVariable"),
                               _text(v, "Description"))
                      for vs in _kids(root, "Variables") for v in _kids(vs, "Variable"))
    cases = tuple(Case(guid(c.get("guid")), c.get("name", ""), _text(c, "Description"),
                       _ref_list(c, "CodeRef"), _parse_values(c), _ref_list(c, "SourceRef"),
                       _ref_list(c, "SelectionRef"))
                  for cs in _kids(root, "Cases") for c in _kids(cs, "Case"))
    sources = []
    for srcs in _kids(root, "Sources"):
        for s in _kids(srcs, "TextSource"):
            sources.append(_parse_source(s, read_text))
    notes = []
    for ns in _kids(root, "Notes"):
        for n in _kids(ns, "Note"):
            text = _body(n, read_text)
            notes.append(Note(guid(n.get("guid")), n.get("name", ""), text, _text(n, "Description"),
                              guid(n.get("creatingUser", "")), _parse_time(n, "creationDateTime")))
    sets = tuple(CodeSet(guid(s.get("guid")), s.get("name"), _text(s, "Description"),
                         _ref_list(s, "MemberCode"), _ref_list(s, "MemberSource"),
                         _ref_list(s, "MemberNote"))
                 for ss in _kids(root, "Sets") for s in _kids(ss, "Set"))
    return Project(
        name=root.get("name"), origin=root.get("origin", ""),
        creator=guid(root.get("creatingUserGUID", "")), created=_parse_time(root, "creationDateTime"),
        modifier=guid(root.get("modifyingUserGUID", "")),
        modified=_parse_time(root, "modifiedDateTime"), base_path=root.get("basePath", ""),
        users=users, codes=tuple(codes), variables=variables, cases=cases,
        sources=tuple(sources), notes=tuple(notes), sets=sets,
        description=_text(root, "Description"), project_notes=_ref_list(root, "NoteRef"))


def _body(el: etree._Element, read_text: Callable[[str, str], str]) -> str:
    content, path = el.find(_q("PlainTextContent")), el.get("plainTextPath")
    if content is not None and path:
        raise ValidationError("has both PlainTextContent and plainTextPath; the standard allows "
                              "one", where=_where(el))
    if content is not None:
        return content.text or ""
    if path:
        return read_text(path, _where(el))
    return ""


def _parse_source(s: etree._Element, read_text: Callable[[str, str], str]) -> TextSource:
    text = _body(s, read_text)
    selections = []
    for sel in _kids(s, "PlainTextSelection"):
        start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
        if not 0 <= start <= end <= len(text):
            raise ValidationError(f"positions [{start}, {end}) fall outside the source text "
                                  f"(length {len(text)})", where=_where(sel))
        selections.append(Selection(guid(sel.get("guid")), start, end, sel.get("name", ""),
                                    _text(sel, "Description"), guid(sel.get("creatingUser", "")),
                                    _parse_time(sel, "creationDateTime"), _parse_codings(sel),
                                    _ref_list(sel, "NoteRef")))
    return TextSource(guid(s.get("guid")), s.get("name", ""), text, _text(s, "Description"),
                      tuple(selections), _parse_codings(s), _ref_list(s, "NoteRef"),
                      _parse_values(s), guid(s.get("creatingUser", "")),
                      _parse_time(s, "creationDateTime"),
                      inline=s.find(_q("PlainTextContent")) is not None)
