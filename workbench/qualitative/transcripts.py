"""Interview transcripts as speaker turns over one canonical, immutable document text.

Why one canonical text: every coding, agreement figure and REFI-QDA export refers to offsets,
and offsets only mean something against one exact string. The text is derived from the turns:

    for each turn, in order:  "<speaker>: <text>\\n"   (or "<text>\\n" when the speaker is unknown)

Offsets are Python ``str`` indices: Unicode code points, zero-based, end exclusive, so
``text[start:end]`` is the quote. ``Turn.start``/``Turn.end`` cover the utterance only (not the
speaker label, the ": " or the trailing newline); ``Turn.line_start`` is where its line begins.
Turn text is NFC-normalised, line endings are LF only, and a turn may contain inner newlines.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from workbench.errors import ValidationError

__all__ = ["Span", "Transcript", "Turn", "build_transcript", "clean_text", "format_ms", "parse_timestamp"]

_TIMESTAMP = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$")


@dataclass(frozen=True)
class Span:
    """A [start, end) range of code points in a transcript's canonical text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValidationError(f"invalid span [{self.start}, {self.end})", where="span")


@dataclass(frozen=True)
class Turn:
    """One utterance. ``start``/``end`` are offsets of ``text`` inside the canonical text."""

    index: int
    speaker: str
    text: str
    start: int
    end: int
    line_start: int
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class Transcript:
    """Turns plus the text derived from them; build with ``build_transcript``."""

    name: str
    turns: tuple[Turn, ...]
    text: str
    metadata: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def speakers(self) -> list[str]:
        seen: dict[str, None] = {}
        for turn in self.turns:
            if turn.speaker:
                seen.setdefault(turn.speaker, None)
        return list(seen)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical text: a coding is valid only against this exact text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def quote(self, start: int, end: int) -> str:
        self.check_span(start, end)
        return self.text[start:end]

    def check_span(self, start: int, end: int, where: str = "span") -> None:
        if not (0 <= start <= end <= len(self.text)):
            raise ValidationError(
                f"offsets [{start}, {end}) fall outside the text (length {len(self.text)})",
                where=where)

    def turn_at(self, offset: int) -> Turn | None:
        """The turn whose line contains ``offset`` (speaker label included)."""
        for turn in self.turns:
            if turn.line_start <= offset <= turn.end:
                return turn
        return None

    def turns_overlapping(self, start: int, end: int) -> list[Turn]:
        """Turns whose utterance shares at least one character with [start, end)."""
        return [t for t in self.turns if t.start < end and start < t.end]

    def rename_speakers(self, mapping: dict[str, str]) -> Transcript:
        return build_transcript(
            self.name,
            [(mapping.get(t.speaker, t.speaker), t.text, t.start_ms, t.end_ms) for t in self.turns],
            metadata=self.metadata)

    def with_texts(self, texts: Sequence[str]) -> Transcript:
        """Same turns with new utterance texts (offsets recomputed)."""
        return build_transcript(
            self.name,
            [(t.speaker, new, t.start_ms, t.end_ms) for t, new in zip(self.turns, texts, strict=True)],
            metadata=self.metadata)


def clean_text(text: str) -> str:
    """NFC, LF line endings, no trailing spaces per line, no leading/trailing blank lines."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\ufeff", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def build_transcript(
    name: str,
    turns: Iterable[tuple[str, str, int | None, int | None]],
    *, metadata: dict[str, str] | None = None,
) -> Transcript:
    """Lay out (speaker, text, start_ms, end_ms) tuples into the canonical text."""
    parts: list[str] = []
    built: list[Turn] = []
    pos = 0
    for speaker, raw, start_ms, end_ms in turns:
        speaker = clean_text(speaker).replace("\n", " ")
        body = clean_text(raw)
        if not body:
            continue
        if start_ms is not None and end_ms is not None and end_ms < start_ms:
            raise ValidationError(f"turn ends ({format_ms(end_ms)}) before it starts "
                                  f"({format_ms(start_ms)})", where=f"{name} turn {len(built) + 1}")
        prefix = f"{speaker}: " if speaker else ""
        line_start = pos
        start = pos + len(prefix)
        end = start + len(body)
        built.append(Turn(len(built), speaker, body, start, end, line_start, start_ms, end_ms))
        parts.append(prefix + body + "\n")
        pos = end + 1
    return Transcript(name, tuple(built), "".join(parts), dict(metadata or {}))


def parse_timestamp(value: str, where: str) -> int:
    """``[h:]mm:ss[.mmm]`` (``,`` accepted as in SRT) → milliseconds."""
    match = _TIMESTAMP.match(value.strip())
    if not match:
        raise ValidationError(f"{value!r} is not a timestamp (expected hh:mm:ss.mmm)", where=where)
    hours, minutes, seconds, frac = match.groups()
    millis = int((frac or "0").ljust(3, "0"))
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise ValidationError(f"{value!r} is not a valid time", where=where)
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis


def format_ms(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"

