"""Vectorised scoring of questionnaire responses, one column per scale named by its manual code.

Every scorer works on a matrix (responses × items, NaN for unanswered) so a million responses
score in one pass of NumPy. Codes outside an item's range are data errors: they are reported
with their row and column and never turned into missing values silently (PROscorer does the same).
Rules and test vectors: QLQ-C30 scoring manual 3rd ed. (half rule; summary score of Giesinger
2016), PHQ-9 (Kroenke 2001), GAD-7 (Spitzer 2006), WHO-5, ESAS-r (Watanabe 2011), PRO-CTCAE
composite grades (Basch 2021).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import NotFoundError, ValidationError
from workbench.instruments import proctcae

__all__ = ["SCORERS", "Scorer", "score_frame", "score_matrix", "score_response"]

Scales = dict[str, np.ndarray]


@dataclass(frozen=True)
class Scorer:
    instrument_id: str
    items: tuple[str, ...]  # item names in instrument order; a CSV may also call them q1…qN
    low: tuple[int, ...]
    high: tuple[int, ...]
    compute: Callable[[np.ndarray], Scales]
    optional: frozenset[str] = frozenset()  # items that may be absent from a file altogether
    labels: tuple[str, ...] = ()  # scale codes that hold text (severity bands)


# --- QLQ-C30 ---------------------------------------------------------------------------------
QLQ_C30_SCALES: dict[str, tuple[str, tuple[int, ...]]] = {
    "QL2": ("global", (29, 30)),
    "PF2": ("functional", (1, 2, 3, 4, 5)),
    "RF2": ("functional", (6, 7)),
    "EF": ("functional", (21, 22, 23, 24)),
    "CF": ("functional", (20, 25)),
    "SF": ("functional", (26, 27)),
    "FA": ("symptom", (10, 12, 18)),
    "NV": ("symptom", (14, 15)),
    "PA": ("symptom", (9, 19)),
    "DY": ("symptom", (8,)),
    "SL": ("symptom", (11,)),
    "AP": ("symptom", (13,)),
    "CO": ("symptom", (16,)),
    "DI": ("symptom", (17,)),
    "FI": ("symptom", (28,)),
}
SUMMARY_SCALES = ("PF2", "RF2", "EF", "CF", "SF", "FA", "NV", "PA", "DY", "SL", "AP", "CO", "DI")


def _half_rule_mean(x: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """Mean of answered items where at least half are answered, else NaN."""
    sub = x[:, [c - 1 for c in columns]]
    answered = ~np.isnan(sub)
    count = answered.sum(axis=1)
    total = np.where(answered, sub, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    mean[count * 2 < len(columns)] = np.nan
    return mean


def _qlq_c30(x: np.ndarray) -> Scales:
    out: Scales = {}
    for code, (kind, columns) in QLQ_C30_SCALES.items():
        raw = _half_rule_mean(x, columns)
        span = 6.0 if kind == "global" else 3.0
        out[code] = (1.0 - (raw - 1.0) / span) * 100.0 if kind == "functional" else (raw - 1.0) / span * 100.0
    summary = np.zeros(x.shape[0])
    for code in SUMMARY_SCALES:
        kind = QLQ_C30_SCALES[code][0]
        summary += out[code] if kind == "functional" else 100.0 - out[code]
    out["SUMMARY"] = summary / len(SUMMARY_SCALES)  # NaN unless all 13 scales are available
    return out


# --- sums with severity bands ------------------------------------------------------------------
def _complete_sum(x: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    sub = x[:, [c - 1 for c in columns]]
    return sub.sum(axis=1)  # NaN as soon as one item is missing: no proration


def _bands(total: np.ndarray, cuts: Sequence[float], names: Sequence[str]) -> np.ndarray:
    labels = np.asarray(names, dtype=object)[np.searchsorted(np.asarray(cuts), np.nan_to_num(total, nan=-1),
                                                             side="right")]
    labels[np.isnan(total)] = ""
    return labels


def _missing(x: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    return np.isnan(x[:, [c - 1 for c in columns]]).sum(axis=1).astype(float)


def _flag(condition: np.ndarray, known: np.ndarray) -> np.ndarray:
    return np.where(known, condition.astype(float), np.nan)


def _phq9(x: np.ndarray) -> Scales:
    total = _complete_sum(x, range(1, 10))
    item9 = x[:, 8]
    return {"TOTAL": total,
            "SEVERITY": _bands(total, [0, 5, 10, 15, 20], ["", "minimal", "mild", "moderate",
                                                            "moderately severe", "severe"]),
            "ITEM9_FLAG": _flag(item9 > 0, ~np.isnan(item9)),
            "MISSING": _missing(x, range(1, 10))}


def _gad7(x: np.ndarray) -> Scales:
    total = _complete_sum(x, range(1, 8))
    return {"TOTAL": total,
            "SEVERITY": _bands(total, [0, 5, 10, 15], ["", "minimal", "mild", "moderate", "severe"]),
            "GAD2": _complete_sum(x, (1, 2)),
            "MISSING": _missing(x, range(1, 8))}


def _who5(x: np.ndarray) -> Scales:
    raw = _complete_sum(x, range(1, 6))
    known = ~np.isnan(raw)
    return {"RAW": raw, "PERCENT": raw * 4.0,
            "POOR_WELLBEING": _flag(raw < 13, known),
            "LIKELY_DEPRESSION": _flag(raw <= 7, known),
            "LOW_ITEM": _flag((np.nan_to_num(x[:, :5], nan=9) <= 1).any(axis=1), known)}


def _esas(x: np.ndarray) -> Scales:
    nine = x[:, :9]
    known = ~np.isnan(nine).any(axis=1)
    return {"TOTAL": _complete_sum(x, range(1, 10)),
            "PHYSICAL": _complete_sum(x, range(1, 7)),
            "EMOTIONAL": _complete_sum(x, (7, 8)),
            "MODERATE_COUNT": np.where(known, (np.nan_to_num(nine) >= 4).sum(axis=1), np.nan),
            "SEVERE_COUNT": np.where(known, (np.nan_to_num(nine) >= 7).sum(axis=1), np.nan)}


_PRO_ITEMS = proctcae.item_attributes()


def _pro_ctcae(x: np.ndarray) -> Scales:
    out: Scales = {}
    position = {(n, a): i for i, (n, _, a) in enumerate(_PRO_ITEMS)}
    for group, numbers in proctcae.GROUPS.items():
        lut = proctcae.composite_lut(group)
        for number in numbers:
            cols = [x[:, position[(number, letter)]] for letter in group]
            first = cols[0]
            known = ~np.isnan(first)
            for later in cols[1:]:
                known &= (first == 0) | ~np.isnan(later)
            index = tuple(np.nan_to_num(c, nan=0).astype(np.intp) for c in cols)
            grade = lut[index]
            out[f"AE{number}"] = np.where(known, grade, np.nan)
    return out


def _scorer(instrument_id: str, n: int, low: int, high: int, compute: Callable[[np.ndarray], Scales],
            *, extra: Sequence[tuple[int, int]] = (), optional: Sequence[str] = (),
            labels: Sequence[str] = ()) -> Scorer:
    lows = [low] * n + [lo for lo, _ in extra]
    highs = [high] * n + [hi for _, hi in extra]
    items = tuple(f"q{i}" for i in range(1, n + len(extra) + 1))
    return Scorer(instrument_id, items, tuple(lows), tuple(highs), compute, frozenset(optional),
                  tuple(labels))


SCORERS: dict[str, Scorer] = {
    "qlq-c30": Scorer("qlq-c30", tuple(f"q{i}" for i in range(1, 31)), (1,) * 30,
                      (4,) * 28 + (7, 7), _qlq_c30),
    "phq-9": _scorer("phq-9", 9, 0, 3, _phq9, extra=[(0, 3)], optional=["q10"], labels=["SEVERITY"]),
    "gad-7": _scorer("gad-7", 7, 0, 3, _gad7, labels=["SEVERITY"]),
    "who-5": _scorer("who-5", 5, 0, 5, _who5),
    "esas-r": _scorer("esas-r", 9, 0, 10, _esas, extra=[(0, 10)], optional=["q10"]),
    "pro-ctcae": Scorer("pro-ctcae", tuple(f"ae{n}_{a}" for n, _, a in _PRO_ITEMS),
                        tuple(0 for _ in _PRO_ITEMS), tuple(4 for _ in _PRO_ITEMS), _pro_ctcae,
                        frozenset(f"ae{n}_{a}" for n, _, a in _PRO_ITEMS)),
}


def get_scorer(instrument_id: str) -> Scorer:
    try:
        return SCORERS[instrument_id]
    except KeyError:
        raise NotFoundError(f"no scoring for {instrument_id!r}; scored instruments: "
                            f"{', '.join(SCORERS)}") from None


def score_matrix(instrument_id: str, x: np.ndarray) -> Scales:
    """Scales for a float matrix (rows × items in instrument order, NaN = unanswered), unchecked."""
    return get_scorer(instrument_id).compute(x)


def _columns(scorer: Scorer, frame: pd.DataFrame, where: str, absent_ok: bool = False) -> list[str | None]:
    """Which frame column holds each item: its own name, else q1…qN in instrument order."""
    chosen: list[str | None] = []
    for position, name in enumerate(scorer.items, start=1):
        alias = f"q{position}"
        if name in frame.columns:
            chosen.append(name)
        elif alias in frame.columns:
            chosen.append(alias)
        elif name in scorer.optional or absent_ok:
            chosen.append(None)
        else:
            raise ValidationError(f"column {name} is missing (items are {scorer.items[0]}…"
                                  f"{scorer.items[-1]} in instrument order)", where=where or "columns")
    return chosen


def _matrix(scorer: Scorer, frame: pd.DataFrame, columns: list[str | None], where: str,
            first_row: int) -> np.ndarray:
    x = np.full((len(frame), len(columns)), np.nan)
    for j, column in enumerate(columns):
        if column is None:
            continue
        series = frame[column]
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        text = np.isnan(values) & series.notna().to_numpy()
        if text.any():
            blank = series[text].astype(str).str.strip() == ""
            text[np.flatnonzero(text)[blank.to_numpy()]] = False
        low, high = scorer.low[j], scorer.high[j]
        bad = text | (~np.isnan(values) & ((values < low) | (values > high) | (values != np.floor(values))))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                f"code {series.iloc[row]!r} is not a valid answer (expected an integer {low}–{high} or blank)",
                where=f"{where + ', ' if where else ''}row {row + first_row}, column {column}")
        x[:, j] = values
    return x


def score_frame(instrument_id: str, frame: pd.DataFrame, *, where: str = "",
                first_row: int = 1, absent_items_blank: bool = False) -> pd.DataFrame:
    """The frame with one column per scale appended (existing columns pass through untouched).

    ``first_row`` is the number shown in errors for the frame's first row (2 for a CSV whose
    header is line 1); ``where`` names the file. A missing item column is an error (a typo in a
    file), unless ``absent_items_blank`` (exports, where nobody answered that item).
    """
    scorer = get_scorer(instrument_id)
    columns = _columns(scorer, frame, where, absent_items_blank)
    scales = scorer.compute(_matrix(scorer, frame, columns, where, first_row))
    if instrument_id == "pro-ctcae":  # a study asks a subset of adverse events: grade those only
        asked = {name.split("_")[0].upper() for name, col in zip(scorer.items, columns, strict=True) if col}
        scales = dict(sorted(((c, v) for c, v in scales.items() if c in asked), key=lambda t: int(t[0][2:])))
    out = frame.copy()
    for code, values in scales.items():
        out[code] = values
    return out


def score_response(instrument_id: str, answers: dict[str, Any]) -> dict[str, Any]:
    """Scales for one stored response (None where a scale cannot be computed)."""
    if instrument_id not in SCORERS:
        return {}
    scorer = SCORERS[instrument_id]
    row = {name: answers.get(name) for name in scorer.items}
    frame = pd.DataFrame([row], columns=list(scorer.items), dtype=object)
    scored = score_frame(instrument_id, frame, where=f"{instrument_id} response")
    result: dict[str, Any] = {}
    for code in scored.columns[len(frame.columns):]:
        value = scored[code].iloc[0]
        if isinstance(value, str):
            result[code] = value or None
        else:
            result[code] = None if pd.isna(value) else round(float(value), 6)
    return result
