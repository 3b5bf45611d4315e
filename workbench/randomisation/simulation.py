"""Vectorised Monte-Carlo of the three methods, to size a design before committing it.

Thousands of trials are simulated at once with numpy (loops run over participants, never over
trials). The rules are the same as ``methods``: a test feeds the live minimisation's own uniform
draws through ``simulate_minimisation`` and checks every arm agrees. Permuted blocks are simulated
exactly in distribution from end-of-trial stratum sizes: whole blocks contribute the ratio, the
last, partly used block a multivariate hypergeometric draw (a prefix of a shuffled block).

Imbalance of a group of participants is ``max_k d_k − min_k d_k`` with ``d_k = n_k − n·w_k`` and
``w_k`` the target share of arm k: for 1:1 it is |n_A − n_B|, for other ratios the spread of
departures from the target split. It is reported overall, in the worst stratum (every combination
of factor levels) and in the worst margin (every single factor level).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = [
    "Scenario",
    "imbalance_summary",
    "simple_reference",
    "simulate",
    "simulate_factors",
    "simulate_minimisation",
    "stratum_counts",
]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Scenario:
    name: str
    ratios: tuple[int, ...]
    n: int
    levels: tuple[int, ...]  # number of levels of each factor, each level equally likely
    block_multiples: tuple[int, ...] = (1, 2)
    p_preferred: float = 0.8
    imbalance: str = "range"
    weights: tuple[float, ...] | None = None
    unequal_ratio: str = "adjusted"  # minimisation only: "adjusted" or "expanded" (as in Design)

    @property
    def shares(self) -> NDArray[np.float64]:
        r = np.asarray(self.ratios, dtype=float)
        return r / r.sum()

    @property
    def n_strata(self) -> int:
        return math.prod(self.levels)


def simulate_factors(sc: Scenario, trials: int, rng: np.random.Generator) -> IntArray:
    """Participants' factor levels, shape (trials, n, factors)."""
    cols = [rng.integers(0, lv, size=(trials, sc.n)) for lv in sc.levels]
    return np.stack(cols, axis=-1).astype(np.int64)


def _stratum_index(sc: Scenario, x: IntArray) -> IntArray:
    index = np.zeros(x.shape[:-1], dtype=np.int64)
    for f, lv in enumerate(sc.levels):
        index = index * lv + x[..., f]
    return index


def stratum_counts(sc: Scenario, x: IntArray, arms: IntArray) -> IntArray:
    """Arm counts per trial and stratum, shape (trials, strata, arms)."""
    t, k, s = x.shape[0], len(sc.ratios), sc.n_strata
    flat = (np.arange(t)[:, None] * s + _stratum_index(sc, x)) * k + arms
    return np.bincount(flat.ravel(), minlength=t * s * k).reshape(t, s, k)


def _simple(sc: Scenario, x: IntArray, rng: np.random.Generator) -> IntArray:
    arms = rng.choice(len(sc.ratios), size=x.shape[:2], p=sc.shares)
    return stratum_counts(sc, x, arms)


def _blocks(sc: Scenario, x: IntArray, rng: np.random.Generator) -> IntArray:
    t, s, k = x.shape[0], sc.n_strata, len(sc.ratios)
    ratio_sum = sum(sc.ratios)
    n_s = np.bincount((np.arange(t)[:, None] * s + _stratum_index(sc, x)).ravel(),
                      minlength=t * s).reshape(t, s)
    n_blocks = sc.n // (min(sc.block_multiples) * ratio_sum) + 2
    multiples = np.asarray(sc.block_multiples)[rng.integers(0, len(sc.block_multiples), (t, s, n_blocks))]
    ends = np.cumsum(multiples * ratio_sum, axis=-1)
    complete = (ends <= n_s[..., None]).sum(axis=-1)
    filled = np.where(complete > 0, np.take_along_axis(ends, np.maximum(complete - 1, 0)[..., None], -1)[..., 0], 0)
    left = n_s - filled
    partial_multiple = np.take_along_axis(multiples, complete[..., None], -1)[..., 0]
    counts = np.empty((t, s, k), dtype=np.int64)
    pool = partial_multiple * ratio_sum
    for arm, ratio in enumerate(sc.ratios):
        whole = filled // ratio_sum * ratio
        good = partial_multiple * ratio
        if arm == k - 1:
            drawn = left
        else:
            drawn = rng.hypergeometric(good.ravel(), (pool - good).ravel(), left.ravel()).reshape(t, s)
        counts[..., arm] = whole + drawn
        left, pool = left - drawn, pool - good
    return counts


def _spread(values: NDArray[np.float64], kind: str) -> NDArray[np.float64]:
    if kind == "range":
        return values.max(axis=-1) - values.min(axis=-1)
    k = values.shape[-1]
    return k * (values * values).sum(axis=-1) - values.sum(axis=-1) ** 2


def simulate_minimisation(
    sc: Scenario, x: IntArray, rng: np.random.Generator | None = None,
    uniforms: NDArray[np.float64] | None = None,
) -> IntArray:
    """Arms, shape (trials, n), under Pocock–Simon minimisation with the design's random element."""
    t, n, f = x.shape
    if sc.unequal_ratio == "expanded":
        columns = np.repeat(np.arange(len(sc.ratios)), sc.ratios)
        virtual = Scenario(sc.name, (1,) * len(columns), sc.n, sc.levels, sc.block_multiples,
                           sc.p_preferred, sc.imbalance, sc.weights)
        return columns[simulate_minimisation(virtual, x, rng, uniforms)]
    k = len(sc.ratios)
    if uniforms is None:
        assert rng is not None
        uniforms = rng.random((t, n))
    ratios = np.asarray(sc.ratios, dtype=float)
    scale = math.lcm(*sc.ratios) / ratios
    weights = np.asarray(sc.weights if sc.weights is not None else (1.0,) * f)
    counts = np.zeros((t, f, max(sc.levels), k))
    arms = np.empty((t, n), dtype=np.int64)
    rows_t = np.arange(t)[:, None]
    rows_f = np.arange(f)[None, :]
    eye = np.eye(k)
    for i in range(n):
        level = x[:, i, :]
        current = counts[rows_t, rows_f, level, :]  # (t, f, k)
        scores = np.stack([(weights * _spread((current + eye[c]) * scale, sc.imbalance)).sum(axis=-1)
                           for c in range(k)], axis=-1)
        preferred = scores == scores.min(axis=-1, keepdims=True)
        pref_sum = (preferred * ratios).sum(axis=-1, keepdims=True)
        rest_sum = ratios.sum() - pref_sum
        all_tie = rest_sum == 0
        probs = np.where(preferred, sc.p_preferred * ratios / pref_sum,
                         (1 - sc.p_preferred) * ratios / np.where(all_tie, 1, rest_sum))
        probs = np.where(all_tie, ratios / ratios.sum(), probs)
        cumulative = np.cumsum(probs, axis=-1)
        arm = np.minimum((uniforms[:, i, None] >= cumulative).sum(axis=-1), k - 1)
        arms[:, i] = arm
        counts[rows_t, rows_f, level, arm[:, None]] += 1
    return arms


def simulate(sc: Scenario, method: str, trials: int, rng: np.random.Generator) -> IntArray:
    """End-of-trial arm counts per stratum, shape (trials, strata, arms)."""
    x = simulate_factors(sc, trials, rng)
    if method == "simple":
        return _simple(sc, x, rng)
    if method == "blocks":
        return _blocks(sc, x, rng)
    if method == "minimisation":
        return stratum_counts(sc, x, simulate_minimisation(sc, x, rng))
    raise ValueError(f"unknown method {method}")


def _imbalance(counts: NDArray[np.int64], shares: NDArray[np.float64]) -> NDArray[np.float64]:
    dev = counts - counts.sum(axis=-1, keepdims=True) * shares
    return dev.max(axis=-1) - dev.min(axis=-1)


def imbalance_summary(sc: Scenario, counts: IntArray) -> dict[str, NDArray[np.float64]]:
    """Per-trial imbalance: overall, worst stratum and worst margin."""
    shares = sc.shares
    t, _, k = counts.shape
    overall = _imbalance(counts.sum(axis=1), shares)
    worst_stratum = _imbalance(counts, shares).max(axis=1)
    grid = counts.reshape(t, *sc.levels, k)
    margins = []
    for f in range(len(sc.levels)):
        others = tuple(1 + g for g in range(len(sc.levels)) if g != f)
        margins.append(_imbalance(grid.sum(axis=others), shares).max(axis=1))
    worst_margin = np.max(np.stack(margins, axis=-1), axis=-1) if margins else overall
    return {"overall": overall, "stratum": worst_stratum, "margin": worst_margin}


def simple_reference(n: int, ratios: tuple[int, int]) -> tuple[float, float]:
    """Exact mean and 95th percentile of overall imbalance under simple randomisation, 2 arms:
    imbalance = 2·|X − n·w| with X ~ Binomial(n, w)."""
    w = ratios[0] / sum(ratios)
    x = np.arange(n + 1)
    pmf = stats.binom.pmf(x, n, w)
    values = 2 * np.abs(x - n * w)
    order = np.argsort(values)
    cdf = np.cumsum(pmf[order])
    p95 = float(values[order][np.searchsorted(cdf, 0.95 - 1e-12)])
    return float((pmf * values).sum()), p95
