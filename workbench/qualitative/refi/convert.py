"""Workbench objects ⇄ REFI-QDA ``Project``.

Codes keep their definition, criteria, examples, origin and version inside the REFI
``Description`` as labelled lines (readable in NVivo or MAXQDA, parsed back here); themes travel
as ``Set``s of codes; memos as ``Note``s referenced from the codes they are about; coders as
``User``s; identical spans coded by several coders share one ``PlainTextSelection``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd

from workbench.qualitative.codebook import Code, Codebook, Memo, Theme, stable_guid
from workbench.qualitative.coding import CodedSegment
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
)
from workbench.qualitative.transcript_formats import parse_plain_text
from workbench.qualitative.transcripts import Transcript, Turn

__all__ = ["ImportedProject", "code_description", "from_project", "parse_code_description",
           "to_project"]

_LABELS = {"Include": "inclusion", "Exclude": "exclusion", "Example": "examples",
           "Origin": "origin", "Since version": "since_version"}


def code_description(code: Code) -> str:
    lines = [code.definition] if code.definition else []
    extra = []
    if code.inclusion:
        extra.append(f"Include: {code.inclusion}")
    if code.exclusion:
        extra.append(f"Exclude: {code.exclusion}")
    extra += [f"Example: {e}" for e in code.examples]
    extra += [f"Origin: {code.origin.replace('_', ' ')}", f"Since version: {code.since_version}"]
    return "\n\n".join([*lines, "\n".join(extra)])


def parse_code_description(text: str) -> dict[str, object]:
    """Inverse of ``code_description``; text without labels is all definition."""
    fields: dict[str, object] = {"examples": []}
    definition = []
    for line in text.split("\n"):
        label, sep, value = line.partition(": ")
        if sep and label in _LABELS:
            key = _LABELS[label]
            if key == "examples":
                fields["examples"].append(value)  # type: ignore[union-attr]
            elif key == "origin":
                fields["origin"] = value.replace(" ", "_")
            else:
                fields[key] = value
        else:
            definition.append(line)
    fields["definition"] = "\n".join(definition).strip("\n")
    fields["examples"] = tuple(fields["examples"])  # type: ignore[arg-type]
    return fields


def _variable_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "Boolean"
    if pd.api.types.is_integer_dtype(series):
        return "Integer"
    if pd.api.types.is_float_dtype(series):
        return "Float"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "DateTime"
    return "Text"


def to_project(name: str, codebook: Codebook, transcripts: Mapping[str, Transcript],
               segments: Sequence[CodedSegment], *, cases: pd.DataFrame | None = None,
               created: datetime | None = None, origin: str = "WeShare workbench") -> Project:
    """Build a project; ``cases`` has columns participant, source and any attributes."""
    coders = sorted({s.coder for s in segments})
    users = tuple(User(stable_guid("user", c), c, c) for c in coders)
    user_guid = {u.id: u.guid for u in users}
    code_guid = {c.id: c.guid for c in codebook.codes}
    source_guid = {s: stable_guid("source", s) for s in transcripts}
    notes, code_notes, source_notes = [], {}, {}
    for memo in codebook.memos:
        note = Note(memo.guid, memo.title, memo.text, f"kind: {memo.kind}\nid: {memo.id}",
                    user_guid.get(memo.author, ""), memo.created)
        notes.append(note)
        for target in memo.about:
            bucket = code_notes if target in code_guid else source_notes
            bucket.setdefault(target, []).append(note.guid)
    codes = tuple(QdaCode(c.guid, c.name, c.codable, c.color, code_description(c),
                          code_guid[c.parent] if c.parent else None,
                          tuple(code_notes.get(c.id, ())))
                  for c in codebook.codes)
    grouped: dict[tuple[str, int, int], list[CodedSegment]] = {}
    for seg in segments:
        grouped.setdefault((seg.source, seg.start, seg.end), []).append(seg)
    sources = []
    for src_name, transcript in transcripts.items():
        selections = []
        for (src, start, end), segs in sorted(grouped.items()):
            if src != src_name:
                continue
            key = f"{src}:{start}:{end}"
            codings = tuple(Coding(stable_guid("coding", f"{key}:{s.code}:{s.coder}"),
                                   code_guid[s.code], user_guid[s.coder], s.created)
                            for s in segs)
            selections.append(Selection(stable_guid("selection", key), start, end,
                                        transcript.text[start:end], codings=codings))
        sources.append(TextSource(source_guid[src_name], src_name, transcript.text,
                                  selections=tuple(selections),
                                  notes=tuple(source_notes.get(src_name, ()))))
    variables, case_list = [], []
    if cases is not None and len(cases):
        attributes = [c for c in cases.columns if c not in ("participant", "source")]
        for attr in attributes:
            variables.append(Variable(stable_guid("variable", attr), attr,
                                      _variable_type(cases[attr])))
        types = {v.name: (v.guid, v.type) for v in variables}
        for participant, rows in cases.groupby("participant", sort=True):
            values = []
            first = rows.iloc[0]
            for attr in attributes:
                value = first[attr]
                if pd.isna(value):
                    continue
                guid_, kind = types[attr]
                value = {"Integer": int, "Float": lambda v: Decimal(str(v)),
                         "Boolean": bool, "DateTime": lambda v: pd.Timestamp(v).to_pydatetime(),
                         "Text": str}[kind](value)
                values.append((guid_, value))
            case_list.append(Case(stable_guid("case", str(participant)), str(participant),
                                  values=tuple(values),
                                  sources=tuple(source_guid[s] for s in rows["source"]
                                                if s in source_guid)))
    sets = tuple(CodeSet(t.guid, t.name, t.description, tuple(code_guid[c] for c in t.codes))
                 for t in codebook.themes)
    return Project(name=name, origin=origin, created=created, users=users, codes=codes,
                   variables=tuple(variables), cases=tuple(case_list), sources=tuple(sources),
                   notes=tuple(notes), sets=sets, description=codebook.description)


@dataclass(frozen=True)
class ImportedProject:
    codebook: Codebook
    transcripts: dict[str, Transcript]
    segments: list[CodedSegment]
    cases: pd.DataFrame


def _transcript(name: str, text: str) -> Transcript:
    """Turns from the text if it is in canonical form, else one turn per non-empty line."""
    parsed = parse_plain_text(text, name)
    if parsed.text == text:
        return parsed
    turns, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if body.strip():
            turns.append(Turn(len(turns), "", body, pos, pos + len(body), pos))
        pos += len(line)
    return Transcript(name, tuple(turns), text, {"layout": "lines"})


def _slug(value: str, taken: set[str]) -> str:
    ascii_only = unicodedata.normalize("NFKD", value.lower()).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_only).strip("_")[:48] or "code"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}_{n}", n + 1
    taken.add(slug)
    return slug


def from_project(project: Project, *, language: str = "en") -> ImportedProject:
    """Codebook, transcripts (keyed by source name), codings and a cases table."""
    taken: set[str] = set()
    code_id = {c.guid: _slug(c.name, taken) for c in project.codes}
    memo_about: dict[str, list[str]] = {}
    for c in project.codes:
        for n in c.notes:
            memo_about.setdefault(n, []).append(code_id[c.guid])
    source_name = {s.guid: s.name or s.guid for s in project.sources}
    for s in project.sources:
        for n in s.notes:
            memo_about.setdefault(n, []).append(source_name[s.guid])
    users = {u.guid: u.id or u.name or u.guid for u in project.users}
    codes = []
    for c in project.codes:
        fields = parse_code_description(c.description)
        codes.append(Code(id=code_id[c.guid], name=c.name,
                          parent=code_id[c.parent] if c.parent else None,
                          color=c.color or "#888888", codable=c.codable, guid=c.guid,
                          origin=str(fields.get("origin", "a_priori")),
                          since_version=str(fields.get("since_version", "1")),
                          **{k: fields[k] for k in ("definition", "inclusion", "exclusion",
                                                    "examples") if k in fields}))
    memos = []
    for n in project.notes:
        meta = dict(line.split(": ", 1) for line in n.description.split("\n") if ": " in line)
        memos.append(Memo(id=meta.get("id", n.guid), title=n.name, text=n.text,
                          kind=meta.get("kind", "other"), about=tuple(memo_about.get(n.guid, ())),
                          author=users.get(n.creator, ""), created=n.created, guid=n.guid))
    themes = [Theme(id=f"set_{_slug(s.name, taken)}", name=s.name, description=s.description,
                    codes=tuple(code_id[g] for g in s.codes), guid=s.guid) for s in project.sets]
    codebook = Codebook(name=project.name, language=language, codes=tuple(codes),
                        themes=tuple(themes), memos=tuple(memos), description=project.description)
    transcripts = {source_name[s.guid]: _transcript(source_name[s.guid], s.text)
                   for s in project.sources}
    segments = [CodedSegment(source_name[s.guid], sel.start, sel.end, code_id[c.code],
                             users.get(c.coder or sel.coder, "unknown"),
                             s.text[sel.start:sel.end], c.created, "import")
                for s in project.sources for sel in s.selections for c in sel.codings
                if sel.end > sel.start]
    var_name = {v.guid: v.name for v in project.variables}
    rows = []
    for case in project.cases:
        values = {var_name[g]: v for g, v in case.values}
        for src in case.sources or ("",):
            rows.append({"participant": case.name or case.guid,
                         "source": source_name.get(src, ""), **values})
    return ImportedProject(codebook, transcripts, segments, pd.DataFrame(rows))
