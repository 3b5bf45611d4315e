"""Mixed-methods helpers on DataFrames: frequencies by case attribute, co-occurrence, quotes.

What MAXQDA and NVivo offer as menus (crosstabs, matrix coding, quote export) becomes ordinary
pandas here, joined to case attributes such as arm, age group or QoL scores. Cases are
identified by pseudonymous participant IDs only; quotes are labelled with them (COREQ item 29).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.errors import ValidationError
from workbench.qualitative.coding import CodedSegment, segments_frame
from workbench.qualitative.transcripts import Transcript, format_ms
from workbench.qualitative.units import turn_units

__all__ = ["code_frequencies", "cooccurrence", "quotes"]


def _with_cases(segments: Sequence[CodedSegment], cases: pd.DataFrame) -> pd.DataFrame:
    for column in ("source", "participant"):
        if column not in cases.columns:
            raise ValidationError(f"missing column {column!r}", where="cases")
    if cases["source"].duplicated().any():
        dup = cases.loc[cases["source"].duplicated(), "source"].iloc[0]
        raise ValidationError(f"source {dup!r} belongs to two cases", where="cases")
    frame = segments_frame(segments).merge(cases, on="source", how="left", validate="many_to_one")
    if frame["participant"].isna().any():
        orphan = frame.loc[frame["participant"].isna(), "source"].iloc[0]
        raise ValidationError(f"source {orphan!r} is not linked to a case", where="cases")
    return frame


def code_frequencies(segments: Sequence[CodedSegment], cases: pd.DataFrame, by: str, *,
                     count: str = "cases", coder: str | None = None,
                     codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Codes × values of the case attribute ``by``.

    ``count="cases"`` counts participants with the code at least once (what matters for
    patterns across people); ``count="segments"`` counts codings. Attribute values with no
    coding still get a column of zeros, so groups are never silently dropped.
    """
    if by not in cases.columns:
        raise ValidationError(f"no case attribute {by!r}", where="cases")
    if count not in ("cases", "segments"):
        raise ValidationError("count is 'cases' or 'segments'", where="count")
    frame = _with_cases(segments, cases)
    if coder is not None:
        frame = frame[frame["coder"] == coder]
    if count == "cases":
        frame = frame.drop_duplicates(["participant", "code"])
    table = pd.crosstab(frame["code"], frame[by])
    values = sorted(cases[by].dropna().unique(), key=str)
    table = table.reindex(columns=values, fill_value=0)
    if codes is not None:
        table = table.reindex(index=list(codes), fill_value=0)
    table.columns.name, table.index.name = by, "code"
    if count == "cases":
        totals = cases.drop_duplicates("participant")[by].value_counts()
        table.attrs["participants_per_group"] = {k: int(v) for k, v in totals.items()}
    return table


def cooccurrence(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript] | None = None,
                 *, coder: str | None = None, codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Code × code counts of units carrying both codes; the diagonal counts units per code.

    With transcripts the units are speaker turns; without, the units are codings: two codings
    of different codes co-occur when their spans overlap in the same source (one count per
    overlapping pair), and the diagonal counts codings per code.
    """
    segs = [s for s in segments if coder is None or s.coder == coder]
    code_list = list(codes) if codes is not None else sorted({s.code for s in segs})
    if transcripts is not None:
        coders = sorted({s.coder for s in segs})
        tu = turn_units(segs, transcripts, codes=code_list, coders=coders,
                        sources=sorted({s.source for s in segs}) or None)
        present = tu.applied.any(axis=2).astype(np.int64)
        matrix = present.T @ present
    else:
        pos = {c: i for i, c in enumerate(code_list)}
        matrix = np.zeros((len(code_list), len(code_list)), dtype=np.int64)
        frame = segments_frame([s for s in segs if s.code in pos])
        for _, group in frame.groupby("source"):
            g = group.sort_values("start")
            starts, ends = g["start"].to_numpy(), g["end"].to_numpy()
            idx = g["code"].map(pos).to_numpy()
            overlap = (starts[:, None] < ends[None, :]) & (starts[None, :] < ends[:, None])
            i, j = np.nonzero(np.triu(overlap, k=1))
            other = idx[i] != idx[j]
            np.add.at(matrix, (idx[i][other], idx[j][other]), 1)
            np.add.at(matrix, (idx[j][other], idx[i][other]), 1)
            np.add.at(matrix, (idx, idx), 1)
    return pd.DataFrame(matrix, index=pd.Index(code_list, name="code"),
                        columns=pd.Index(code_list, name="code"))


def quotes(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript],
           cases: pd.DataFrame, *, code: str | Sequence[str] | None = None,
           coder: str | None = None, max_chars: int | None = None) -> pd.DataFrame:
    """Coded segments as quotes labelled by pseudonymous participant ID (and time if known)."""
    frame = _with_cases(segments, cases)
    if code is not None:
        wanted = [code] if isinstance(code, str) else list(code)
        frame = frame[frame["code"].isin(wanted)]
    if coder is not None:
        frame = frame[frame["coder"] == coder]
    rows = []
    for seg in frame.itertuples(index=False):
        transcript = transcripts.get(seg.source)
        if transcript is None:
            raise ValidationError(f"no transcript named {seg.source!r}", where="transcripts")
        transcript.check_span(seg.start, seg.end, where=f"coding of {seg.code!r} in {seg.source!r}")
        text = transcript.text[seg.start:seg.end]
        if max_chars is not None and len(text) > max_chars:
            text = text[: max_chars - 1].rstrip() + "…"
        turn = transcript.turn_at(seg.start)
        when = format_ms(turn.start_ms) if turn and turn.start_ms is not None else ""
        speaker = turn.speaker if turn else ""
        label = f"{seg.participant}" + (f", {when}" if when else "")
        rows.append({"participant": seg.participant, "source": seg.source, "code": seg.code,
                     "coder": seg.coder, "speaker": speaker, "time": when,
                     "start": seg.start, "end": seg.end, "quote": text,
                     "citation": f"« {text} » ({label})"})
    columns = ["participant", "source", "code", "coder", "speaker", "time", "start", "end",
               "quote", "citation"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["code", "participant", "start"], kind="stable").reset_index(drop=True)
