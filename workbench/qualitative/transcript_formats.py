"""Readers turning transcript files into speaker turns: plain text, docx, WebVTT, SRT, CSV.

Each reader only finds turns (speaker, text, start_ms, end_ms); ``build_transcript`` lays them
out into the canonical text, so every format yields the same offsets for the same conversation.
Whisper/noScribe style subtitle files are merged into one turn per run of cues by one speaker.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from workbench.errors import ValidationError
from workbench.qualitative.transcripts import Transcript, build_transcript, parse_timestamp

__all__ = ["FORMATS", "parse_csv", "parse_docx", "parse_plain_text", "parse_srt", "parse_vtt",
           "read_transcript"]

RawTurn = tuple[str, str, int | None, int | None]

_TS = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
_LEAD_TS = re.compile(rf"^\s*[\[(]?({_TS})[\])]?\s+")
# Speaker labels at line start: "Name:", "[Name]" or "{Name}" (a label has ≤ 4 words, ≤ 40 chars).
_NAME = r"[^\W\d_][\w.'’\- ]{0,39}?"
_LABELS = (
    re.compile(rf"^({_NAME})\s?:(?:\s+|$)"),
    re.compile(rf"^\[({_NAME})\]\s*"),
    re.compile(rf"^\{{({_NAME})\}}\s*"),
)
_CUE_TIMING = re.compile(rf"^\s*({_TS})\s*-->\s*({_TS})(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>]+>")


def _split_label(line: str) -> tuple[str | None, int | None, str]:
    """(speaker or None, timestamp in ms or None, rest of the line)."""
    ms = None
    match = _LEAD_TS.match(line)
    if match:
        ms = parse_timestamp(match.group(1), "timestamp")
        line = line[match.end():]
    for pattern in _LABELS:
        found = pattern.match(line)
        if found and len(found.group(1).split()) <= 4:
            return found.group(1).strip(), ms, line[found.end():]
    return None, ms, line


def _turns_from_lines(lines: Iterable[str]) -> list[RawTurn]:
    """Speaker-prefixed lines open turns; other lines continue the current one.

    Without any speaker label, blank-line-separated paragraphs become turns with no speaker.
    """
    turns: list[list] = []
    blank_before = True
    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            blank_before = True
            continue
        speaker, ms, rest = _split_label(line)
        if speaker is not None:
            turns.append([speaker, rest.strip(), ms, None])
        elif turns and not (blank_before and turns[-1][0] == ""):
            turns[-1][1] = f"{turns[-1][1]}\n{line.strip()}".strip("\n")
        else:
            turns.append(["", line.strip(), ms, None])
        blank_before = False
    return [(s, t, a, b) for s, t, a, b in turns]


def parse_plain_text(text: str, name: str = "transcript") -> Transcript:
    return build_transcript(name, _turns_from_lines(text.replace("\r\n", "\n").split("\n")))


def parse_docx(data: bytes, name: str = "transcript") -> Transcript:
    """Paragraphs as lines of text; two- or three-column tables as (speaker, text) or
    (time, speaker, text) rows, the way transcription services lay them out."""
    from docx import Document  # python-docx; imported here so plain-text use stays light

    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises assorted zip/XML errors
        raise ValidationError(f"not a readable .docx file ({type(exc).__name__})", where=name) from None
    turns = _turns_from_lines(p.text for p in document.paragraphs)
    for t_index, table in enumerate(document.tables, start=1):
        for r_index, row in enumerate(table.rows, start=1):
            cells = [c.text.strip() for c in row.cells]
            where = f"{name} table {t_index} row {r_index}"
            if len(cells) == 2:
                speaker, text, ms = cells[0], cells[1], None
            elif len(cells) == 3:
                ms = parse_timestamp(cells[0], where) if cells[0] else None
                speaker, text = cells[1], cells[2]
            else:
                raise ValidationError("transcript tables need 2 (speaker, text) or 3 (time, "
                                      "speaker, text) columns", where=where)
            turns.append((speaker, text, ms, None))
    return build_transcript(name, turns)


def _cue_blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    block: list[str] = []
    first = 0
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if line.strip():
            if not block:
                first = number
            block.append(line)
        elif block:
            yield first, block
            block = []
    if block:
        yield first, block


def _cue_text(lines: list[str]) -> tuple[str, str]:
    """(speaker, text) from a cue payload: <v Name> voice tags or a "Name:" label."""
    joined = "\n".join(lines)
    voice = _VOICE.search(joined)
    speaker = voice.group(1).strip() if voice else ""
    body = _TAG.sub("", joined).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    body = body.replace("&nbsp;", " ").strip()
    if not speaker:
        label, _, rest = _split_label(body)
        if label is not None:
            speaker, body = label, rest.strip()
    return speaker, body


def _merge(cues: list[RawTurn]) -> list[RawTurn]:
    """Consecutive cues by the same named speaker form one turn."""
    merged: list[RawTurn] = []
    for speaker, text, start, end in cues:
        if merged and speaker and merged[-1][0] == speaker:
            prev = merged[-1]
            merged[-1] = (speaker, f"{prev[1]} {text}", prev[2], end)
        else:
            merged.append((speaker, text, start, end))
    return merged


def _parse_cues(text: str, name: str, *, vtt: bool) -> list[RawTurn]:
    cues: list[RawTurn] = []
    blocks = list(_cue_blocks(text))
    if vtt:
        if not blocks or not blocks[0][1][0].lstrip("\ufeff").startswith("WEBVTT"):
            raise ValidationError("a WebVTT file must start with 'WEBVTT'", where=f"{name} line 1")
        blocks = blocks[1:]
    for line_no, lines in blocks:
        if vtt and lines[0].split(" ", 1)[0] in {"NOTE", "STYLE", "REGION"}:
            continue
        timing_at = next((i for i, line in enumerate(lines[:2]) if "-->" in line), None)
        if timing_at is None:
            raise ValidationError("cue without a 'start --> end' timing line",
                                  where=f"{name} line {line_no}")
        where = f"{name} line {line_no + timing_at}"
        match = _CUE_TIMING.match(lines[timing_at])
        if not match:
            raise ValidationError(f"cannot read the timing {lines[timing_at]!r}", where=where)
        start, end = (parse_timestamp(g, where) for g in match.groups())
        speaker, body = _cue_text(lines[timing_at + 1:])
        if body:
            cues.append((speaker, body, start, end))
    return _merge(cues)


def parse_vtt(text: str, name: str = "transcript") -> Transcript:
    return build_transcript(name, _parse_cues(text, name, vtt=True))


def parse_srt(text: str, name: str = "transcript") -> Transcript:
    return build_transcript(name, _parse_cues(text, name, vtt=False))


def _time_cell(value: str, where: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return parse_timestamp(value, where)
    if seconds < 0:
        raise ValidationError("a time cannot be negative", where=where)
    return round(seconds * 1000)


def parse_csv(text: str, name: str = "transcript.csv") -> Transcript:
    """One row per turn: columns speaker, start, end, text (times in seconds or hh:mm:ss.mmm)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    required = ["speaker", "start", "end", "text"]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValidationError(f"missing column(s) {', '.join(missing)}; expected "
                              f"{', '.join(required)}", where=f"{name} header")
    reader.fieldnames = header
    turns: list[RawTurn] = []
    for row_no, row in enumerate(reader, start=2):
        if None in row:
            raise ValidationError("more cells than header columns", where=f"{name} row {row_no}")
        start = _time_cell(row["start"] or "", f"{name} row {row_no} column start")
        end = _time_cell(row["end"] or "", f"{name} row {row_no} column end")
        if not (row["text"] or "").strip():
            raise ValidationError("empty text", where=f"{name} row {row_no} column text")
        turns.append(((row["speaker"] or "").strip(), row["text"], start, end))
    return build_transcript(name, turns)


FORMATS = {".txt": "text", ".md": "text", ".docx": "docx", ".vtt": "vtt", ".srt": "srt",
           ".csv": "csv"}


def read_transcript(path: str | Path, fmt: str | None = None) -> Transcript:
    """Read a transcript file; the format comes from the extension unless ``fmt`` is given."""
    path = Path(path)
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError(f"unknown transcript format {path.suffix!r}; use one of "
                              f"{', '.join(sorted(FORMATS))}", where=path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read the file ({exc.strerror})", where=str(path)) from None
    if fmt == "docx":
        return parse_docx(data, path.name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text (byte {exc.start})", where=path.name) from None
    parser = {"text": parse_plain_text, "vtt": parse_vtt, "srt": parse_srt, "csv": parse_csv}[fmt]
    return parser(text, path.name)
