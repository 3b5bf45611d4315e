"""Inter-rater agreement coefficients, vectorised with numpy.

Cohen's κ (two coders), Fleiss' κ (a fixed number of ratings per unit) and Krippendorff's α
(any number of coders, missing values, nominal/ordinal/interval/ratio metrics). Formulas follow
Cohen (1960), Fleiss (1971) and Krippendorff (2011, "Computing Krippendorff's Alpha-Reliability");
the tests pin the published worked examples. Long data (unit, coder, value) is the exchange shape:
it is what a coding table naturally looks like, and it makes missing values implicit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from workbench.errors import ValidationError

__all__ = [
    "LEVELS",
    "cohen_kappa",
    "cohen_kappa_from_table",
    "fleiss_kappa",
    "fleiss_kappa_from_counts",
    "interpret",
    "krippendorff_alpha",
    "krippendorff_alpha_from_matrix",
    "percent_agreement",
    "reliability_matrix",
]

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


def cohen_kappa_from_table(table: np.ndarray | Sequence[Sequence[float]]) -> float:
    """κ from a square contingency table (rows coder A, columns coder B)."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValidationError("the contingency table must be square", where="cohen_kappa")
    n = t.sum()
    if n <= 0:
        return math.nan
    p_o = np.trace(t) / n
    p_e = float(t.sum(axis=1) @ t.sum(axis=0)) / (n * n)
    if p_e == 1.0:
        # Both coders used one and the same category throughout: perfect, if degenerate, agreement.
        return 1.0 if p_o == 1.0 else math.nan
    return float((p_o - p_e) / (1.0 - p_e))


def cohen_kappa(a: Sequence[object] | np.ndarray, b: Sequence[object] | np.ndarray) -> float:
    """κ for two aligned rating vectors; pairs where either rating is missing are dropped."""
    sa, sb = pd.Series(list(a), dtype=object), pd.Series(list(b), dtype=object)
    if len(sa) != len(sb):
        raise ValidationError("the two coders rated a different number of units", where="cohen_kappa")
    keep = sa.notna() & sb.notna()
    sa, sb = sa[keep], sb[keep]
    if sa.empty:
        return math.nan
    codes, uniques = pd.factorize(pd.concat([sa, sb], ignore_index=True), sort=True)
    k = len(uniques)
    ia, ib = codes[: len(sa)], codes[len(sa):]
    table = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k)
    return cohen_kappa_from_table(table)


def percent_agreement(matrix: np.ndarray) -> float:
    """Share of agreeing pairs among all pairable values (coders × units matrix, NaN = missing)."""
    counts, _ = _value_counts(np.asarray(matrix, dtype=float))
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.any():
        return math.nan
    counts, m = counts[keep], m[keep]
    agreeing = (counts * (counts - 1)).sum(axis=1)
    return float(agreeing.sum() / (m * (m - 1)).sum())


def fleiss_kappa_from_counts(counts: np.ndarray | Sequence[Sequence[float]]) -> float:
    """Fleiss' κ from a units × categories matrix of rating counts (same total per unit)."""
    c = np.asarray(counts, dtype=float)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValidationError("expected a units × categories count matrix", where="fleiss_kappa")
    n = c.sum(axis=1)
    if not np.all(n == n[0]) or n[0] < 2:
        raise ValidationError(
            "every unit needs the same number (≥ 2) of ratings; use Krippendorff's alpha for "
            "missing ratings", where="fleiss_kappa")
    r = n[0]
    p_i = ((c * c).sum(axis=1) - r) / (r * (r - 1))
    p_bar = p_i.mean()
    p_j = c.sum(axis=0) / c.sum()
    p_e = float((p_j * p_j).sum())
    if p_e == 1.0:
        return 1.0
    return float((p_bar - p_e) / (1.0 - p_e))


def fleiss_kappa(matrix: np.ndarray) -> float:
    """Fleiss' κ from a coders × units matrix of category values (no missing values allowed)."""
    m = np.asarray(matrix, dtype=float)
    if np.isnan(m).any():
        raise ValidationError("Fleiss' kappa needs every coder to rate every unit",
                              where="fleiss_kappa")
    counts, _ = _value_counts(m)
    return fleiss_kappa_from_counts(counts)


def _value_counts(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Units × values count matrix from a coders × units matrix, and the sorted distinct values."""
    if matrix.ndim != 2:
        raise ValidationError("expected a coders × units matrix", where="agreement")
    present = ~np.isnan(matrix)
    values = np.unique(matrix[present])
    n_units = matrix.shape[1]
    counts = np.zeros((n_units, len(values)), dtype=float)
    if len(values):
        unit_idx = np.broadcast_to(np.arange(n_units), matrix.shape)[present]
        value_idx = np.searchsorted(values, matrix[present])
        np.add.at(counts, (unit_idx, value_idx), 1.0)
    return counts, values


def _delta2(values: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    """Squared difference function δ²(c, k) for the metric named by ``level``."""
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        total = c + k
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(total == 0, 0.0, ((c - k) / np.where(total == 0, 1, total)) ** 2)
        return d
    if level == "ordinal":
        # Krippendorff: (Σ_{g=c..k} n_g − (n_c + n_k)/2)² over ranks of the values used.
        cum = np.cumsum(n_c)
        lo = np.minimum.outer(np.arange(len(n_c)), np.arange(len(n_c)))
        hi = np.maximum.outer(np.arange(len(n_c)), np.arange(len(n_c)))
        between = cum[hi] - cum[lo] + n_c[lo]
        return (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    raise ValidationError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}",
                          where="--level")


def krippendorff_alpha_from_matrix(matrix: np.ndarray, level: Level | str = "nominal") -> float:
    """α from a coders × units matrix of numeric values, NaN for missing.

    Each unit with m_u ≥ 2 values adds 1/(m_u − 1) per ordered pair of its values to the
    coincidence matrix; α = 1 − D_o / D_e. Units with fewer than two values are not pairable.
    """
    m = np.asarray(matrix, dtype=float)
    if level == "ratio" and np.nanmin(m, initial=0.0) < 0:
        raise ValidationError("ratio level needs non-negative values", where="--level ratio")
    counts, values = _value_counts(m)
    per_unit = counts.sum(axis=1)
    keep = per_unit >= 2
    counts, per_unit = counts[keep], per_unit[keep]
    if counts.shape[0] == 0:
        return math.nan
    weights = 1.0 / (per_unit - 1.0)
    coincidences = (counts * weights[:, None]).T @ counts
    coincidences[np.diag_indices_from(coincidences)] -= (counts * weights[:, None]).sum(axis=0)
    n_c = coincidences.sum(axis=1)
    n = n_c.sum()
    delta = _delta2(values, n_c, level)
    d_o = float((coincidences * delta).sum())
    d_e = float((np.outer(n_c, n_c) * delta).sum()) / (n - 1.0)
    if d_e == 0.0:
        return 1.0 if d_o == 0.0 else math.nan
    return 1.0 - d_o / d_e


def reliability_matrix(
    data: pd.DataFrame, *, unit: str = "unit", coder: str = "coder", value: str = "value",
    level: Level | str = "nominal",
) -> tuple[np.ndarray, list[object], list[object], list[object]]:
    """Coders × units matrix from long data; non-numeric nominal values become category codes.

    Returns (matrix, coders, units, categories); ``categories`` maps nominal codes back to labels
    (empty when values are used as numbers). A coder rating the same unit twice is an error.
    """
    for column in (unit, coder, value):
        if column not in data.columns:
            raise ValidationError(f"missing column {column!r}", where="header")
    df = data[[unit, coder, value]].dropna(subset=[value])
    dup = df.duplicated(subset=[unit, coder], keep="first")
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValidationError(
            f"coder {df.iloc[row][coder]!r} rated unit {df.iloc[row][unit]!r} twice",
            where=f"row {df.index[row]}")
    numeric = pd.to_numeric(df[value], errors="coerce")
    categories: list[object] = []
    if level == "nominal" and numeric.isna().any():
        codes, uniques = pd.factorize(df[value].astype(str), sort=True)
        numbers = codes.astype(float)
        categories = list(uniques)
    else:
        if numeric.isna().any():
            bad = int(np.flatnonzero(numeric.isna().to_numpy())[0])
            raise ValidationError(f"{df.iloc[bad][value]!r} is not a number (needed at the "
                                  f"{level} level)", where=f"row {df.index[bad]} column {value}")
        numbers = numeric.to_numpy(dtype=float)
    coder_codes, coders = pd.factorize(df[coder], sort=True)
    unit_codes, units = pd.factorize(df[unit], sort=True)
    matrix = np.full((len(coders), len(units)), np.nan)
    matrix[coder_codes, unit_codes] = numbers
    return matrix, list(coders), list(units), categories


def krippendorff_alpha(
    data: pd.DataFrame | np.ndarray, level: Level | str = "nominal", *, unit: str = "unit",
    coder: str = "coder", value: str = "value",
) -> float:
    """α from long data (unit, coder, value) or from a coders × units matrix."""
    if level not in LEVELS:
        raise ValidationError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}",
                              where="--level")
    if isinstance(data, pd.DataFrame):
        matrix, *_ = reliability_matrix(data, unit=unit, coder=coder, value=value, level=level)
    else:
        matrix = np.asarray(data, dtype=float)
    return krippendorff_alpha_from_matrix(matrix, level)


def interpret(value: float, statistic: str) -> str:
    """Conventional reading: Krippendorff (2004) for α, Landis & Koch (1977) for κ."""
    if math.isnan(value):
        return "undefined (no pairable values or no variation)"
    if statistic == "krippendorff":
        if value >= 0.800:
            return "reliable (α ≥ 0.800)"
        if value >= 0.667:
            return "tentative conclusions only (0.667 ≤ α < 0.800)"
        return "unreliable (α < 0.667)"
    bands = [(0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"),
             (0.80, "substantial")]
    for upper, label in bands:
        if value <= upper:
            return f"{label} (Landis & Koch)"
    return "almost perfect (Landis & Koch)"
