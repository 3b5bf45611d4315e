"""`.qdpx` project archives and `.qdc` codebooks on disk.

A `.qdpx` is a ZIP holding ``project.qde`` and a sources folder with each text source as
``<GUID>.txt`` (UTF-8, exactly the text the offsets were computed on). Readers accept
``Sources/`` or ``sources/``, a BOM, upper- or lower-case GUIDs and braces. Writes go to a
temporary file renamed into place, so a failed export never leaves a partial archive.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from lxml import etree

from workbench.errors import ValidationError
from workbench.qualitative.refi.model import CodeSet, Project, QdaCode
from workbench.qualitative.refi.xml import (
    _tree_order,
    guid,
    parse_project,
    project_to_xml,
    schema,
    schema_message,
)

__all__ = ["CODEBOOK_NS", "check_references", "read_qdc", "read_qdpx", "write_qdc", "write_qdpx"]

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_references(project: Project) -> None:
    """Every GUID reference points at an element of the right kind; GUIDs are unique."""
    seen: dict[str, str] = {}

    def declare(g: str, kind: str) -> None:
        if g in seen:
            raise ValidationError(f"GUID {g} is used by a {seen[g]} and a {kind}", where=kind)
        seen[g] = kind

    for u in project.users:
        declare(u.guid, "User")
    for c in project.codes:
        declare(c.guid, "Code")
    for v in project.variables:
        declare(v.guid, "Variable")
    for c in project.cases:
        declare(c.guid, "Case")
    for s in project.sources:
        declare(s.guid, "TextSource")
        for sel in s.selections:
            declare(sel.guid, "PlainTextSelection")
            for coding in sel.codings:
                declare(coding.guid, "Coding")
        for coding in s.codings:
            declare(coding.guid, "Coding")
    for n in project.notes:
        declare(n.guid, "Note")
    for st in project.sets:
        declare(st.guid, "Set")

    def need(g: str, kinds: set[str], where: str) -> None:
        if g and seen.get(g) not in kinds:
            raise ValidationError(f"refers to {g}, which is not a known {'/'.join(sorted(kinds))}",
                                  where=where)

    for attr, where in ((project.creator, "Project creatingUserGUID"),
                        (project.modifier, "Project modifyingUserGUID")):
        need(attr, {"User"}, where)
    for c in project.codes:
        for n in c.notes:
            need(n, {"Note"}, f"<Code {c.name}> NoteRef")
    for case in project.cases:
        w = f"<Case {case.name or case.guid}>"
        for g in case.codes:
            need(g, {"Code"}, f"{w} CodeRef")
        for g, _ in case.values:
            need(g, {"Variable"}, f"{w} VariableRef")
        for g in case.sources:
            need(g, {"TextSource"}, f"{w} SourceRef")
        for g in case.selections:
            need(g, {"PlainTextSelection"}, f"{w} SelectionRef")
    for s in project.sources:
        w = f"<TextSource {s.name or s.guid}>"
        need(s.creator, {"User"}, f"{w} creatingUser")
        for g, _ in s.values:
            need(g, {"Variable"}, f"{w} VariableRef")
        for g in s.notes:
            need(g, {"Note"}, f"{w} NoteRef")
        for sel in s.selections:
            ws = f"<PlainTextSelection {sel.guid}>"
            need(sel.coder, {"User"}, f"{ws} creatingUser")
            for g in sel.notes:
                need(g, {"Note"}, f"{ws} NoteRef")
            for coding in (*sel.codings,):
                need(coding.code, {"Code"}, f"<Coding {coding.guid}> CodeRef")
                need(coding.coder, {"User"}, f"<Coding {coding.guid}> creatingUser")
        for coding in s.codings:
            need(coding.code, {"Code"}, f"<Coding {coding.guid}> CodeRef")
    for n in project.notes:
        need(n.creator, {"User"}, f"<Note {n.name}> creatingUser")
    for st in project.sets:
        for g in st.codes:
            need(g, {"Code"}, f"<Set {st.name}> MemberCode")
        for g in st.sources:
            need(g, {"TextSource"}, f"<Set {st.name}> MemberSource")
        for g in st.notes:
            need(g, {"Note"}, f"<Set {st.name}> MemberNote")
    for g in project.project_notes:
        need(g, {"Note"}, "Project NoteRef")


def write_qdpx(project: Project, path: str | Path) -> Path:
    check_references(project)
    paths = {s.guid: f"internal://{s.guid}.txt" for s in project.sources if not s.inline}
    xml = project_to_xml(project, paths)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.qde", xml)
            for source in project.sources:
                if not source.inline:
                    zf.writestr(f"Sources/{source.guid}.txt", source.text.encode("utf-8"))

    _atomic_write(Path(path), write)
    return Path(path)


def read_qdpx(path: str | Path) -> Project:
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValidationError(f"not a readable .qdpx archive ({exc})", where=path.name) from None
    with archive:
        names = {n: n for n in archive.namelist()}
        qde = next((n for n in names if n.lower() == "project.qde"), None)
        if qde is None:
            raise ValidationError("the archive has no project.qde at its root", where=path.name)
        sources = {PurePosixPath(n).name.lower(): n for n in names
                   if PurePosixPath(n).parent.name.lower() == "sources"}

        def read_text(ref: str, where: str) -> str:
            if not ref.startswith("internal://"):
                raise ValidationError(f"{ref!r}: only internal:// source paths can be read from "
                                      "an archive", where=where)
            member = sources.get(ref[len("internal://"):].lstrip("/").lower())
            if member is None:
                raise ValidationError(f"{ref!r} is missing from the archive's Sources folder",
                                      where=where)
            try:
                return archive.read(member).decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError(f"{member} is not UTF-8 text", where=where) from None

        project = parse_project(archive.read(qde), read_text)
    check_references(project)
    return project


# ---- codebook exchange (.qdc) ------------------------------------------------------------

def _cq(tag: str) -> str:
    return f"{{{CODEBOOK_NS}}}{tag}"


def write_qdc(codes: Iterable[QdaCode], sets: Iterable[CodeSet], path: str | Path,
              origin: str = "WeShare workbench") -> Path:
    codes, sets = list(codes), list(sets)
    root = etree.Element(_cq("CodeBook"), nsmap={None: CODEBOOK_NS})
    root.set("origin", origin)
    parent_of = {None: etree.SubElement(root, _cq("Codes"))}
    for code in _tree_order(tuple(codes)):
        el = etree.SubElement(parent_of[code.parent], _cq("Code"), guid=code.guid, name=code.name,
                              isCodable="true" if code.codable else "false")
        if code.color:
            el.set("color", code.color)
        if code.description:
            etree.SubElement(el, _cq("Description")).text = code.description
        parent_of[code.guid] = el
    if sets:
        sets_el = etree.SubElement(root, _cq("Sets"))
        for s in sets:
            el = etree.SubElement(sets_el, _cq("Set"), guid=s.guid, name=s.name)
            if s.description:
                etree.SubElement(el, _cq("Description")).text = s.description
            for member in s.codes:
                etree.SubElement(el, _cq("MemberCode"), guid=member)
    data = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    schema("Codebook.xsd").assertValid(etree.fromstring(data))
    _atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))
    return Path(path)


def read_qdc(path: str | Path) -> tuple[list[QdaCode], list[CodeSet]]:
    path = Path(path)
    try:
        root = etree.fromstring(path.read_bytes(),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ValidationError(f"not well-formed XML: {exc.msg}",
                              where=f"{path.name} line {exc.lineno}") from None
    xsd = schema("Codebook.xsd")
    if not xsd.validate(root):
        err = xsd.error_log[0]
        raise ValidationError(schema_message(err.message, CODEBOOK_NS),
                              where=f"{path.name} line {err.line}")
    codes: list[QdaCode] = []

    def walk(el: etree._Element, parent: str | None) -> None:
        for c in el.findall(_cq("Code")):
            desc = c.find(_cq("Description"))
            code = QdaCode(guid(c.get("guid")), c.get("name"), c.get("isCodable") in ("true", "1"),
                           c.get("color", ""), desc.text or "" if desc is not None else "", parent)
            codes.append(code)
            walk(c, code.guid)

    walk(root.find(_cq("Codes")), None)
    sets = []
    for s in root.iterfind(f"{_cq('Sets')}/{_cq('Set')}"):
        desc = s.find(_cq("Description"))
        sets.append(CodeSet(guid(s.get("guid")), s.get("name"),
                            desc.text or "" if desc is not None else "",
                            tuple(guid(m.get("guid")) for m in s.findall(_cq("MemberCode")))))
    known = {c.guid for c in codes}
    if len(known) != len(codes):
        raise ValidationError("two codes share a GUID", where=path.name)
    for s in sets:
        for member in s.codes:
            if member not in known:
                raise ValidationError(f"MemberCode {member} is not a code of this codebook",
                                      where=f"{path.name} <Set {s.name}>")
    return codes, sets
