"""Coded segments: who applied which code to which span of which transcript.

A segment is a (source, start, end) span; a coding puts one code on it for one coder. They are
kept flat here (one row per coding) because that is the shape agreement, analysis and REFI-QDA
export all start from; identical spans coded by several coders share a REFI selection on export.
Consensus is recorded as its own coder (``CONSENSUS``) so that the original layers survive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import pandas as pd

from workbench.errors import ValidationError
from workbench.qualitative.transcripts import Transcript

__all__ = ["CONSENSUS", "PROVENANCES", "CodedSegment", "check_segments", "segments_frame",
           "segments_from_frame", "with_quotes"]

CONSENSUS = "consensus"
PROVENANCES = ("human", "rule", "ai-suggestion", "consensus", "import")
COLUMNS = ["source", "start", "end", "code", "coder", "quote", "created", "provenance"]


@dataclass(frozen=True)
class CodedSegment:
    """One code applied by one coder to ``text[start:end]`` of one source."""

    source: str
    start: int
    end: int
    code: str
    coder: str
    quote: str = ""
    created: datetime | None = None
    provenance: str = "human"

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValidationError(f"empty or reversed span [{self.start}, {self.end})",
                                  where=f"coding of {self.code!r} by {self.coder!r} in {self.source!r}")
        if self.provenance not in PROVENANCES:
            raise ValidationError(f"unknown provenance {self.provenance!r}",
                                  where=f"coding of {self.code!r} by {self.coder!r}")


def check_segments(segments: Iterable[CodedSegment], sources: Mapping[str, Transcript | str]) -> None:
    """Every segment points at a known source, lies inside its text, and quotes it exactly."""
    for i, seg in enumerate(segments, start=1):
        where = f"coding {i} ({seg.code!r} by {seg.coder!r})"
        if seg.source not in sources:
            raise ValidationError(f"unknown source {seg.source!r}", where=where)
        src = sources[seg.source]
        text = src.text if isinstance(src, Transcript) else src
        if seg.end > len(text):
            raise ValidationError(f"offsets [{seg.start}, {seg.end}) go beyond the text "
                                  f"(length {len(text)})", where=where)
        if seg.quote and text[seg.start:seg.end] != seg.quote:
            raise ValidationError("quoted text does not match the source at these offsets",
                                  where=where)


def with_quotes(segments: Iterable[CodedSegment], sources: Mapping[str, Transcript | str]
                ) -> list[CodedSegment]:
    """Fill each segment's quote from its source (after checking offsets)."""
    segs = list(segments)
    check_segments(segs, sources)
    out = []
    for seg in segs:
        src = sources[seg.source]
        text = src.text if isinstance(src, Transcript) else src
        out.append(replace(seg, quote=text[seg.start:seg.end]))
    return out


def segments_frame(segments: Sequence[CodedSegment]) -> pd.DataFrame:
    """One row per coding, columns ``COLUMNS``."""
    if not segments:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in {"start", "end"} else object)
                             for c in COLUMNS})
    return pd.DataFrame([asdict(s) for s in segments], columns=COLUMNS)


def segments_from_frame(frame: pd.DataFrame) -> list[CodedSegment]:
    missing = [c for c in ("source", "start", "end", "code", "coder") if c not in frame.columns]
    if missing:
        raise ValidationError(f"missing column(s) {', '.join(missing)}", where="codings header")
    out = []
    for row_no, row in enumerate(frame.itertuples(index=False), start=1):
        data = row._asdict()
        try:
            start, end = int(data["start"]), int(data["end"])
        except (TypeError, ValueError):
            raise ValidationError("start and end must be whole numbers",
                                  where=f"codings row {row_no}") from None
        created = data.get("created")
        out.append(CodedSegment(
            str(data["source"]), start, end, str(data["code"]), str(data["coder"]),
            str(data.get("quote") or ""),
            None if created is None or pd.isna(created) else pd.Timestamp(created).to_pydatetime(),
            str(data.get("provenance") or "human")))
    return out
