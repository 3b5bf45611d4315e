"""The REFI-QDA project (QDA-XML 1.0) as plain dataclasses, one per element we exchange.

This mirrors the standard rather than the workbench's own model so that a project read from
NVivo, MAXQDA, ATLAS.ti or QualCoder survives a round trip untouched; ``convert`` maps it to
and from codebooks, transcripts and coded segments. GUIDs are stored lower-case, without braces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

__all__ = [
    "VARIABLE_TYPES",
    "Case",
    "CodeSet",
    "Coding",
    "Note",
    "Project",
    "QdaCode",
    "Selection",
    "TextSource",
    "User",
    "Variable",
    "VariableValue",
]

VARIABLE_TYPES = ("Text", "Boolean", "Integer", "Float", "Date", "DateTime")
VariableValue = str | bool | int | Decimal | date | datetime


@dataclass(frozen=True)
class User:
    guid: str
    name: str = ""
    id: str = ""


@dataclass(frozen=True)
class QdaCode:
    """A node of the code tree, flattened: ``parent`` is the enclosing code's GUID."""

    guid: str
    name: str
    codable: bool = True
    color: str = ""
    description: str = ""
    parent: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variable:
    guid: str
    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class Case:
    guid: str
    name: str = ""
    description: str = ""
    codes: tuple[str, ...] = ()
    values: tuple[tuple[str, VariableValue], ...] = ()
    sources: tuple[str, ...] = ()
    selections: tuple[str, ...] = ()


@dataclass(frozen=True)
class Coding:
    guid: str
    code: str
    coder: str = ""
    created: datetime | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    guid: str
    start: int
    end: int
    name: str = ""
    description: str = ""
    coder: str = ""
    created: datetime | None = None
    codings: tuple[Coding, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextSource:
    guid: str
    name: str
    text: str
    description: str = ""
    selections: tuple[Selection, ...] = ()
    codings: tuple[Coding, ...] = ()
    notes: tuple[str, ...] = ()
    values: tuple[tuple[str, VariableValue], ...] = ()
    creator: str = ""
    created: datetime | None = None
    inline: bool = False  # PlainTextContent instead of a file under Sources/


@dataclass(frozen=True)
class Note:
    guid: str
    name: str
    text: str
    description: str = ""
    creator: str = ""
    created: datetime | None = None


@dataclass(frozen=True)
class CodeSet:
    guid: str
    name: str
    description: str = ""
    codes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project:
    name: str
    origin: str = ""
    creator: str = ""
    created: datetime | None = None
    modifier: str = ""
    modified: datetime | None = None
    base_path: str = ""
    users: tuple[User, ...] = ()
    codes: tuple[QdaCode, ...] = ()
    variables: tuple[Variable, ...] = ()
    cases: tuple[Case, ...] = ()
    sources: tuple[TextSource, ...] = ()
    notes: tuple[Note, ...] = ()
    sets: tuple[CodeSet, ...] = ()
    description: str = ""
    project_notes: tuple[str, ...] = ()
