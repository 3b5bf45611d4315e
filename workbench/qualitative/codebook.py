"""Codebooks: hierarchical codes with definitions, themes above codes, and memos.

A code carries what a second coder needs to apply it the same way (definition, inclusion and
exclusion criteria, examples) and what COREQ asks to report (a priori or emergent, the version
it appeared in). Themes are a separate layer over codes (Braun & Clarke phases 3–5), not
parent categories. A codebook is an immutable value: edits return a new one, and
``changes_between`` lists what moved between two versions for the change log.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from importlib import resources
from typing import Any

from workbench.errors import NotFoundError, ValidationError

__all__ = ["ORIGINS", "Code", "Codebook", "Memo", "Theme", "changes_between", "codebook_from_dict",
           "codebook_to_dict", "load_starter_codebook", "stable_guid"]

ORIGINS = ("a_priori", "emergent")
MEMO_KINDS = ("code rule", "theory", "method", "reflexive", "analytic", "other")
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_NAMESPACE = uuid.UUID("6b0e7a52-4d1c-5f0e-9c61-0f3f1f2b7a10")


def stable_guid(kind: str, key: str) -> str:
    """Deterministic GUID so re-exports of the same codebook keep the same identifiers."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))


@dataclass(frozen=True)
class Code:
    id: str
    name: str
    parent: str | None = None
    color: str = "#888888"
    definition: str = ""
    inclusion: str = ""
    exclusion: str = ""
    examples: tuple[str, ...] = ()
    origin: str = "a_priori"
    since_version: str = "1"
    codable: bool = True
    guid: str = ""

    def __post_init__(self) -> None:
        if not self.guid:
            object.__setattr__(self, "guid", stable_guid("code", self.id))
        object.__setattr__(self, "examples", tuple(self.examples))


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    description: str = ""
    codes: tuple[str, ...] = ()
    guid: str = ""

    def __post_init__(self) -> None:
        if not self.guid:
            object.__setattr__(self, "guid", stable_guid("theme", self.id))
        object.__setattr__(self, "codes", tuple(self.codes))


@dataclass(frozen=True)
class Memo:
    id: str
    title: str
    text: str
    kind: str = "other"
    about: tuple[str, ...] = ()  # ids of codes, themes or sources the memo is attached to
    author: str = ""
    created: datetime | None = None
    guid: str = ""

    def __post_init__(self) -> None:
        if not self.guid:
            object.__setattr__(self, "guid", stable_guid("memo", self.id))
        object.__setattr__(self, "about", tuple(self.about))


@dataclass(frozen=True)
class Codebook:
    name: str
    version: str = "1"
    language: str = "en"
    codes: tuple[Code, ...] = ()
    themes: tuple[Theme, ...] = ()
    memos: tuple[Memo, ...] = ()
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", tuple(self.codes))
        object.__setattr__(self, "themes", tuple(self.themes))
        object.__setattr__(self, "memos", tuple(self.memos))
        _validate(self)

    def code(self, code_id: str) -> Code:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise NotFoundError(f"no code {code_id!r} in codebook {self.name!r}")

    def children(self, code_id: str | None) -> list[Code]:
        return [c for c in self.codes if c.parent == code_id]

    def path(self, code_id: str) -> list[str]:
        """Names from the root down to the code, e.g. ['Work', 'Return to work']."""
        names, current = [], self.code(code_id)
        while True:
            names.append(current.name)
            if current.parent is None:
                return names[::-1]
            current = self.code(current.parent)

    def descendants(self, code_id: str) -> list[str]:
        out, todo = [], [code_id]
        while todo:
            kids = [c.id for c in self.children(todo.pop())]
            out.extend(kids)
            todo.extend(kids)
        return out

    def with_code(self, code: Code) -> Codebook:
        """Add or replace a code; the result is validated as a whole."""
        codes = [c for c in self.codes if c.id != code.id]
        return replace(self, codes=(*codes, code))

    def without_code(self, code_id: str) -> Codebook:
        self.code(code_id)
        if self.children(code_id):
            raise ValidationError("move or remove its sub-codes first", where=f"code {code_id!r}")
        themes = tuple(replace(t, codes=tuple(c for c in t.codes if c != code_id))
                       for t in self.themes)
        return replace(self, codes=tuple(c for c in self.codes if c.id != code_id), themes=themes)

    def table(self) -> list[dict[str, Any]]:
        """Rows for a COREQ item 25 table: path, definition, criteria, origin, version."""
        return [{"code": " > ".join(self.path(c.id)), "definition": c.definition,
                 "include": c.inclusion, "exclude": c.exclusion, "origin": c.origin,
                 "since_version": c.since_version, "codable": c.codable} for c in self.codes]


def _validate(book: Codebook) -> None:
    ids: dict[str, Code] = {}
    guids: set[str] = set()
    for code in book.codes:
        where = f"code {code.id!r}"
        if not _ID.match(code.id):
            raise ValidationError("ids use lower-case letters, digits, '_', '-', '.'", where=where)
        if code.id in ids:
            raise ValidationError("duplicate code id", where=where)
        if code.guid.lower() in guids:
            raise ValidationError("duplicate GUID", where=where)
        if not code.name.strip():
            raise ValidationError("a code needs a name", where=where)
        if not _COLOR.match(code.color):
            raise ValidationError(f"colour {code.color!r} is not #RRGGBB", where=where)
        if code.origin not in ORIGINS:
            raise ValidationError(f"origin must be one of {', '.join(ORIGINS)}", where=where)
        ids[code.id] = code
        guids.add(code.guid.lower())
    for code in book.codes:
        seen = {code.id}
        parent = code.parent
        while parent is not None:
            if parent not in ids:
                raise ValidationError(f"parent {parent!r} does not exist", where=f"code {code.id!r}")
            if parent in seen:
                raise ValidationError("the hierarchy has a cycle", where=f"code {code.id!r}")
            seen.add(parent)
            parent = ids[parent].parent
    theme_ids = set()
    for theme in book.themes:
        if theme.id in theme_ids or theme.id in ids:
            raise ValidationError("duplicate id", where=f"theme {theme.id!r}")
        theme_ids.add(theme.id)
        for member in theme.codes:
            if member not in ids:
                raise ValidationError(f"unknown code {member!r}", where=f"theme {theme.id!r}")
    for memo in book.memos:
        if memo.kind not in MEMO_KINDS:
            raise ValidationError(f"kind must be one of {', '.join(MEMO_KINDS)}",
                                  where=f"memo {memo.id!r}")


def codebook_to_dict(book: Codebook) -> dict[str, Any]:
    data = asdict(book)
    data["metadata"] = dict(book.metadata)
    for memo in data["memos"]:
        memo["created"] = memo["created"].isoformat() if memo["created"] else None
    return data


def codebook_from_dict(data: Mapping[str, Any]) -> Codebook:
    def build(kind: type, rows: Iterable[Mapping[str, Any]], label: str) -> list[Any]:
        out = []
        for i, row in enumerate(rows, start=1):
            try:
                out.append(kind(**row))
            except TypeError as exc:
                raise ValidationError(str(exc), where=f"{label} {i}") from None
        return out

    memos = [dict(m) for m in data.get("memos", [])]
    for memo in memos:
        if memo.get("created"):
            memo["created"] = datetime.fromisoformat(memo["created"])
    return Codebook(
        name=data["name"], version=str(data.get("version", "1")),
        language=data.get("language", "en"), description=data.get("description", ""),
        codes=tuple(build(Code, data.get("codes", []), "code")),
        themes=tuple(build(Theme, data.get("themes", []), "theme")),
        memos=tuple(build(Memo, memos, "memo")), metadata=dict(data.get("metadata", {})))


def load_starter_codebook(language: str = "en") -> Codebook:
    """The workbench's own starter codebook for psycho-social research in oncology (FR/EN)."""
    if language not in ("en", "fr"):
        raise ValidationError("the starter codebook exists in 'en' and 'fr'", where="language")
    raw = json.loads(resources.files("workbench.qualitative").joinpath(
        "data/starter_codebook.json").read_text(encoding="utf-8"))
    codes = []
    for entry in raw["codes"]:
        text = entry[language]
        codes.append(Code(
            id=entry["id"], name=text["name"], parent=entry.get("parent"), color=entry["color"],
            definition=text["definition"], inclusion=text.get("inclusion", ""),
            exclusion=text.get("exclusion", ""), examples=tuple(text.get("examples", [])),
            origin="a_priori", since_version=raw["version"], codable=entry.get("codable", True)))
    themes = [Theme(id=t["id"], name=t[language]["name"], description=t[language]["description"],
                    codes=tuple(t["codes"])) for t in raw["themes"]]
    return Codebook(name=raw["name"][language], version=raw["version"], language=language,
                    codes=tuple(codes), themes=tuple(themes),
                    description=raw["description"][language])


def changes_between(old: Codebook, new: Codebook) -> list[dict[str, str]]:
    """Added, removed, renamed, moved and redefined codes: the codebook change log."""
    before, after = {c.id: c for c in old.codes}, {c.id: c for c in new.codes}
    log = [{"change": "added", "code": i, "detail": after[i].name} for i in after if i not in before]
    log += [{"change": "removed", "code": i, "detail": before[i].name}
            for i in before if i not in after]
    for i in before.keys() & after.keys():
        a, b = before[i], after[i]
        if a.name != b.name:
            log.append({"change": "renamed", "code": i, "detail": f"{a.name} → {b.name}"})
        if a.parent != b.parent:
            log.append({"change": "moved", "code": i, "detail": f"{a.parent} → {b.parent}"})
        for attr in ("definition", "inclusion", "exclusion", "examples"):
            if getattr(a, attr) != getattr(b, attr):
                log.append({"change": f"{attr} changed", "code": i, "detail": b.name})
    return sorted(log, key=lambda r: (r["code"], r["change"]))
