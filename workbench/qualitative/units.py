"""From coded spans to agreement units: speaker turns and characters.

Turn units (the default for team coding): a coder "applied" a code to a turn when any of their
spans with that code shares at least one character with the turn's utterance. Character units
(NVivo's coding comparison): each character of the source text is coded or not by each coder.
Both are built with numpy over whole arrays — no Python loop over units or characters — so a
study's worth of transcripts is compared in well under a second.

Every listed coder is assumed to have coded every listed transcript: a missing coding means
"not applied", not "not seen". Restrict ``sources`` to the transcripts all coders finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.errors import ValidationError
from workbench.qualitative.coding import CodedSegment
from workbench.qualitative.transcripts import Transcript

__all__ = ["CharacterUnits", "TurnUnits", "character_units", "turn_units"]


@dataclass(frozen=True)
class TurnUnits:
    """``applied[u, k, c]`` is True when coder ``coders[c]`` applied ``codes[k]`` to unit ``u``.

    ``units`` has one row per turn: source, turn (index), speaker, start, end.
    """

    units: pd.DataFrame
    codes: list[str]
    coders: list[str]
    applied: np.ndarray


@dataclass(frozen=True)
class CharacterUnits:
    """Per (source, code): character counts coded by each coder and by each pair of coders.

    ``coded[s, k, c]`` = characters of source ``s`` coded with ``codes[k]`` by ``coders[c]``;
    ``both[s, k, c1, c2]`` = characters coded by both; ``length[s]`` = source length.
    Overlapping spans of one coder count each character once.
    """

    sources: list[str]
    codes: list[str]
    coders: list[str]
    length: np.ndarray
    coded: np.ndarray
    both: np.ndarray


def _frame(segments: Sequence[CodedSegment]) -> pd.DataFrame:
    return pd.DataFrame({
        "source": [s.source for s in segments], "start": [s.start for s in segments],
        "end": [s.end for s in segments], "code": [s.code for s in segments],
        "coder": [s.coder for s in segments]})


def _resolve(frame: pd.DataFrame, transcripts: Mapping[str, Transcript],
             codes: Sequence[str] | None, coders: Sequence[str] | None,
             sources: Sequence[str] | None) -> tuple[pd.DataFrame, list[str], list[str], list[str]]:
    source_list = list(sources) if sources is not None else sorted(transcripts)
    unknown = sorted(set(source_list) - set(transcripts))
    if unknown:
        raise ValidationError(f"no transcript named {unknown[0]!r}", where="sources")
    coder_list = list(coders) if coders is not None else sorted(frame["coder"].unique())
    code_list = list(codes) if codes is not None else sorted(frame["code"].unique())
    keep = (frame["source"].isin(source_list) & frame["coder"].isin(coder_list)
            & frame["code"].isin(code_list))
    frame = frame[keep]
    lengths = frame["source"].map({s: len(transcripts[s].text) for s in source_list})
    beyond = frame["end"].to_numpy() > lengths.to_numpy()
    if beyond.any():
        row = frame.iloc[int(np.flatnonzero(beyond)[0])]
        raise ValidationError(f"offsets [{row['start']}, {row['end']}) go beyond the text",
                              where=f"coding of {row['code']!r} by {row['coder']!r} in "
                                    f"{row['source']!r}")
    return frame, source_list, code_list, coder_list


def turn_units(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript], *,
               codes: Sequence[str] | None = None, coders: Sequence[str] | None = None,
               sources: Sequence[str] | None = None) -> TurnUnits:
    frame, source_list, code_list, coder_list = _resolve(
        _frame(segments), transcripts, codes, coders, sources)
    rows, starts, ends, offsets = [], [], [], {}
    for s in source_list:
        offsets[s] = len(starts)
        for t in transcripts[s].turns:
            rows.append((s, t.index, t.speaker, t.start, t.end))
            starts.append(t.start)
            ends.append(t.end)
    units = pd.DataFrame(rows, columns=["source", "turn", "speaker", "start", "end"])
    applied = np.zeros((len(units), len(code_list), len(coder_list)), dtype=bool)
    if len(frame) and len(units):
        rank = {s: i for i, s in enumerate(source_list)}
        big = int(max(max(ends, default=0), frame["end"].max())) + 1
        band = units["source"].map(rank).to_numpy(dtype=np.int64) * big
        g_starts, g_ends = np.asarray(starts) + band, np.asarray(ends) + band
        shift = frame["source"].map(rank).to_numpy(dtype=np.int64) * big
        base = frame["source"].map(offsets).to_numpy()
        count = frame["source"].map({s: len(transcripts[s].turns) for s in source_list}).to_numpy()
        # First turn ending after the span starts, last turn starting before it ends.
        first = np.searchsorted(g_ends, frame["start"].to_numpy() + shift, side="right")
        last = np.searchsorted(g_starts, frame["end"].to_numpy() + shift, side="left") - 1
        first, last = np.maximum(first, base), np.minimum(last, base + count - 1)
        spans = np.maximum(last - first + 1, 0)
        unit_idx = np.repeat(first, spans) + _ranges(spans)
        code_idx = np.repeat(frame["code"].map({c: i for i, c in enumerate(code_list)}).to_numpy(),
                             spans)
        coder_idx = np.repeat(
            frame["coder"].map({c: i for i, c in enumerate(coder_list)}).to_numpy(), spans)
        applied[unit_idx, code_idx, coder_idx] = True
    return TurnUnits(units, code_list, coder_list, applied)


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """[0..l0-1, 0..l1-1, ...] without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    reset = np.repeat(ends - lengths, lengths)
    return np.arange(total) - reset


def _covered(group: np.ndarray, start: np.ndarray, end: np.ndarray, n_groups: int) -> np.ndarray:
    """Characters covered by the union of each group's spans, without a loop over spans.

    Groups are shifted into disjoint bands; after sorting, a span adds only what lies beyond
    the running maximum of the ends before it, so overlaps are counted once.
    """
    if len(group) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    band = int(end.max()) + 1
    s = group.astype(np.int64) * band + start
    e = group.astype(np.int64) * band + end
    order = np.lexsort((s, group))
    s, e, g = s[order], e[order], group[order]
    reach = np.maximum.accumulate(e)
    before = np.concatenate(([np.iinfo(np.int64).min], reach[:-1]))
    gain = np.maximum(0, e - np.maximum(s, before))
    return np.bincount(g, weights=gain, minlength=n_groups).astype(np.int64)


def character_units(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript], *,
                    codes: Sequence[str] | None = None, coders: Sequence[str] | None = None,
                    sources: Sequence[str] | None = None) -> CharacterUnits:
    frame, source_list, code_list, coder_list = _resolve(
        _frame(segments), transcripts, codes, coders, sources)
    n_s, n_k, n_c = len(source_list), len(code_list), len(coder_list)
    length = np.array([len(transcripts[s].text) for s in source_list], dtype=np.int64)
    s_i = frame["source"].map({s: i for i, s in enumerate(source_list)}).to_numpy(dtype=np.int64)
    k_i = frame["code"].map({c: i for i, c in enumerate(code_list)}).to_numpy(dtype=np.int64)
    c_i = frame["coder"].map({c: i for i, c in enumerate(coder_list)}).to_numpy(dtype=np.int64)
    start, end = frame["start"].to_numpy(dtype=np.int64), frame["end"].to_numpy(dtype=np.int64)
    cell = s_i * n_k + k_i
    coded = _covered(cell * n_c + c_i, start, end, n_s * n_k * n_c).reshape(n_s, n_k, n_c)
    both = np.zeros((n_s, n_k, n_c, n_c), dtype=np.int64)
    for a in range(n_c):
        both[:, :, a, a] = coded[:, :, a]
        for b in range(a + 1, n_c):
            pick = (c_i == a) | (c_i == b)
            union = _covered(cell[pick], start[pick], end[pick], n_s * n_k).reshape(n_s, n_k)
            both[:, :, a, b] = both[:, :, b, a] = coded[:, :, a] + coded[:, :, b] - union
    return CharacterUnits(source_list, code_list, coder_list, length, coded, both)
