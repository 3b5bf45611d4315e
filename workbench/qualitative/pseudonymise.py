"""Pseudonymisation of transcripts at import, through a list a person reviews.

Automatic name finding is never trusted blindly: ``propose_replacements`` returns a list of
(name → placeholder) entries with where each came from; a researcher removes false positives,
adds missed names or renames placeholders, then ``apply_replacements`` rewrites speakers and
texts. Applying the same list to the same transcript always gives the same result (longest names
first, whole words only, placeholders numbered by first appearance).

The list itself holds direct identifiers: it belongs with the trusted third party or is
destroyed after review; it must never be written to logs or exported with the project.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources

from workbench.errors import ValidationError
from workbench.qualitative.transcripts import Transcript

__all__ = ["ROLE_LABELS", "STOP_WORDS", "Replacement", "apply_replacements", "import_pseudonymised",
           "propose_replacements", "read_replacements", "write_replacements"]

PLACEHOLDER = "[NAME-{n:02d}]"
_PLACEHOLDER_RE = re.compile(r"^\[[^\[\]\n]{1,40}\]$")

# Speaker labels that are roles or study codes, not names: kept as they are.
ROLE_LABELS = frozenset({
    "interviewer", "intervieweur", "intervieweuse", "enquêteur", "enquêtrice", "enqueteur",
    "chercheur", "chercheuse", "researcher", "moderator", "modérateur", "modératrice",
    "animateur", "animatrice", "facilitator", "participant", "participante", "patient",
    "patiente", "aidant", "aidante", "carer", "caregiver", "proche", "conjoint", "conjointe",
    "spouse", "partner", "médecin", "infirmier", "infirmière", "nurse", "doctor", "i", "r", "q",
    "a", "e", "p", "int", "resp", "respondent", "répondant", "répondante", "speaker", "locuteur",
    "inconnu", "unknown",
})
_STUDY_CODE = re.compile(r"^(?:[A-Z]{1,4}[-_ ]?\d{1,5}|SPEAKER[_ ]?\d+|Locuteur \d+|Speaker \d+)$",
                         re.IGNORECASE)

# Capitalised words that are not names (French and English): function words that open
# sentences, calendar words, courtesy titles, places of care and common oncology terms.
# Read once at import from package data (an immutable constant, not mutable state).
STOP_WORDS = frozenset(
    word
    for group in json.loads(resources.files("workbench.qualitative").joinpath(
        "data/name_stop_words.json").read_text(encoding="utf-8"))["groups"]
    for word in group
)
_TITLES = r"(?:Dr|Docteur|Doctor|Pr|Professeur|Professor|Mme|Madame|Mlle|Mademoiselle|M|Monsieur|Mr|Mrs|Ms|Miss)"
_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]+"
_CAP = rf"{_WORD}(?:-{_WORD})*"
_CAP_RUN = re.compile(rf"(?<![\w'’\-])({_CAP}(?: {_CAP})*)")
_TITLED = re.compile(rf"\b{_TITLES}\.?\s+({_CAP}(?: {_CAP})?)")
_SENTENCE_START = re.compile(r"(?:^|[.!?…:;»\"“]\s*|\n\s*|^\s*[-–—]\s*)$")


@dataclass(frozen=True)
class Replacement:
    """One reviewable entry: every whole-word occurrence of ``name`` becomes ``placeholder``."""

    name: str
    placeholder: str
    origin: str  # "speaker", "supplied", "name part", "title" or "capitalised"
    occurrences: int = 0


def _is_role(label: str) -> bool:
    return label.strip().lower() in ROLE_LABELS or bool(_STUDY_CODE.match(label.strip()))


def _word_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w\-]){re.escape(name)}(?![\w\-])")


def _candidates(transcript: Transcript, names: Iterable[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for speaker in transcript.speakers:
        if not _is_role(speaker):
            found.append((speaker, "speaker"))
    for name in names:
        if name.strip():
            found.append((name.strip(), "supplied"))
    for name, _origin in list(found):
        for part in re.split(r"[ ]", name):  # "Marie" alone still identifies "Marie Dupont"
            if len(part) > 1 and part != name and part.lower() not in STOP_WORDS:
                found.append((part, "name part"))
    for turn in transcript.turns:
        for match in _TITLED.finditer(turn.text):
            found.append((match.group(1), "title"))
        for match in _CAP_RUN.finditer(turn.text):
            at_start = bool(_SENTENCE_START.search(turn.text[: match.start()]))
            # Stop words (greetings, titles, sentence openers) split a run into candidates.
            for index, part in enumerate(_split_on_stop_words(match.group(1).split(" "))):
                if part is None:
                    at_start = False
                    continue
                if at_start and index == 0 and len(part) == 1:
                    continue  # a lone capitalised word opening a sentence is too weak a signal
                found.append((" ".join(part), "capitalised"))
    return found


def _split_on_stop_words(words: list[str]) -> list[list[str] | None]:
    """["Hello", "Mrs", "Anne", "Lambert"] → [None, None, ["Anne", "Lambert"]] (None = stop)."""
    out: list[list[str] | None] = []
    for word in words:
        if word.lower() in STOP_WORDS:
            out.append(None)
        elif out and out[-1] is not None:
            out[-1].append(word)
        else:
            out.append([word])
    return out


def propose_replacements(transcript: Transcript, names: Iterable[str] = ()) -> list[Replacement]:
    """Names found in speakers, in ``names`` and by the heuristics, with numbered placeholders.

    Entries are ordered by first appearance in the canonical text. A name that is part of a
    longer one (e.g. "Dupont" inside "Marie Dupont") gets its own entry with the longer name's
    placeholder, so the reviewer sees it and can decide otherwise.
    """
    seen: dict[str, str] = {}
    for name, origin in _candidates(transcript, names):
        key = name.casefold()
        if key not in {k.casefold() for k in seen}:
            seen[name] = origin
    counted = []
    for name, origin in seen.items():
        pattern = _word_pattern(name)
        hits = [m.start() for m in pattern.finditer(transcript.text)]
        speaker_hits = sum(1 for t in transcript.turns if t.speaker == name)
        if not hits and not speaker_hits:
            continue
        first = min(hits) if hits else -1
        counted.append((first, name, origin, len(hits)))
    counted.sort(key=lambda item: (item[0], -len(item[1]), item[1]))
    # A name that is part of a longer candidate ("Lambert" in "Anne Lambert") shares its
    # placeholder by default; the reviewer can split them.
    full = [name for _, name, _, _ in counted
            if not any(_is_part(name, other) for _, other, _, _ in counted)]
    number = {name: i for i, name in enumerate(sorted(full, key=[c[1] for c in counted].index),
                                               start=1)}
    entries = []
    for _, name, origin, n in counted:
        owner = name if name in number else next(f for f in full if _is_part(name, f))
        entries.append(Replacement(name, PLACEHOLDER.format(n=number[owner]), origin, n))
    return entries


def _is_part(name: str, other: str) -> bool:
    words, others = name.casefold().split(), other.casefold().split()
    return len(words) < len(others) and all(w in others for w in words)


def _check(entries: Sequence[Replacement]) -> None:
    seen: set[str] = set()
    for row, entry in enumerate(entries, start=1):
        where = f"replacement list row {row}"
        if not entry.name.strip():
            raise ValidationError("empty name", where=where)
        if not _PLACEHOLDER_RE.match(entry.placeholder):
            raise ValidationError(f"placeholder {entry.placeholder!r} must look like [SOMETHING]",
                                  where=where)
        if entry.name.casefold() in seen:
            raise ValidationError(f"{entry.name!r} is listed twice", where=where)
        seen.add(entry.name.casefold())


def apply_replacements(transcript: Transcript, entries: Sequence[Replacement]) -> Transcript:
    """Rewrite speakers and texts; longest names first, so "Marie Dupont" wins over "Marie"."""
    _check(entries)
    ordered = sorted(entries, key=lambda e: (-len(e.name), e.name))
    if not ordered:
        return transcript
    combined = re.compile("|".join(f"(?:{_word_pattern(e.name).pattern})" for e in ordered),
                          re.IGNORECASE)
    lookup = {e.name.casefold(): e.placeholder for e in ordered}

    def swap(text: str) -> str:
        return combined.sub(lambda m: lookup[m.group(0).casefold()], text)

    renamed = transcript.rename_speakers(
        {s: swap(s) for s in transcript.speakers if swap(s) != s})
    result = renamed.with_texts([swap(t.text) for t in renamed.turns])
    return replace(result, metadata={**transcript.metadata, "pseudonymised": "yes"})


def import_pseudonymised(
    transcript: Transcript, names: Iterable[str] = (),
) -> tuple[Transcript, list[Replacement]]:
    """First pass at import: apply the proposed list and hand it back for review."""
    entries = propose_replacements(transcript, names)
    return apply_replacements(transcript, entries), entries


def write_replacements(entries: Sequence[Replacement]) -> str:
    """CSV (name, placeholder, origin, occurrences) for review in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "placeholder", "origin", "occurrences"])
    for e in entries:
        writer.writerow([e.name, e.placeholder, e.origin, e.occurrences])
    return out.getvalue()


def read_replacements(text: str) -> list[Replacement]:
    """Read an edited review CSV back; the origin and occurrences columns are optional."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not {"name", "placeholder"} <= set(reader.fieldnames):
        raise ValidationError("needs columns name and placeholder", where="replacement list header")
    entries = []
    for row_no, row in enumerate(reader, start=2):
        name, placeholder = (row.get("name") or "").strip(), (row.get("placeholder") or "").strip()
        if not name and not placeholder:
            continue
        if not name:
            raise ValidationError("empty name", where=f"replacement list row {row_no} column name")
        entries.append(Replacement(name, placeholder, (row.get("origin") or "reviewer").strip()))
    _check(entries)
    return entries
