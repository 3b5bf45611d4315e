"""The three allocation rules, as pure functions of the design and the draws.

- simple: position *i* gets arm ``expanded[draw_int(["simple", i], ratio_sum)]`` where
  ``expanded`` repeats each arm ``ratio`` times (so a 2:1 design draws A with probability 2/3);
- permuted blocks: per stratum, block *b* has size ``multiple × ratio_sum`` with the multiple drawn
  from ``block_multiples`` (``["blocks", stratum, b, "size"]``), holds each arm ``ratio × multiple``
  times, and is shuffled by Fisher–Yates (``["blocks", stratum, b, "swap", i]``);
- minimisation (Pocock–Simon): for each arm, the imbalance that would follow if the participant
  joined it is the weighted sum, over the participant's factor levels, of the range (or variance)
  of the ratio-adjusted counts ``n_k × L / r_k`` (L = lcm of ratios, so a 2:1 split counts as
  balanced). Arms with the smallest imbalance share probability ``p_preferred`` in proportion to
  their ratios, the others share the rest likewise; if every arm ties the draw follows the ratio.
  One exact uniform ``["minimisation", seq]`` picks the arm by inverse CDF. With
  ``unequal_ratio="expanded"`` an arm of ratio r becomes r virtual arms of ratio 1 balanced as
  above; by symmetry each virtual arm is equally likely at every step, so the allocation ratio
  holds exactly, at the cost of some balance spent between virtual arms of the same real arm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from workbench.randomisation.design import Design
from workbench.randomisation.streams import (
    draw_int_message,
    draw_unit,
    label_prefix,
    seed_key,
)

__all__ = [
    "Tally",
    "allocation_lists",
    "block_list",
    "choose_minimisation",
    "minimisation_probabilities",
    "minimisation_uniform",
    "simple_list",
]


def _expanded(design: Design) -> list[int]:
    return [i for i, arm in enumerate(design.arms) for _ in range(arm.ratio)]


def simple_list(design: Design) -> list[str]:
    key, expanded, names = seed_key(design.seed), _expanded(design), design.arm_names
    prefix, bound = label_prefix(["simple"]), len(expanded)
    return [names[expanded[draw_int_message(key, f"{prefix}{pos}]", bound)]]
            for pos in range(design.list_length)]


def block_list(design: Design, stratum: str) -> tuple[list[str], list[int]]:
    """One stratum's list (at least ``list_length`` long, whole blocks) and its block sizes."""
    key, names = seed_key(design.seed), design.arm_names
    arms: list[str] = []
    sizes: list[int] = []
    block = 0
    # Labels are ["blocks", stratum, block, "size"] and ["blocks", stratum, block, "swap", i];
    # built from one serialised prefix per stratum (byte-identical to canonical_json, tested).
    head = label_prefix(["blocks", stratum])
    while len(arms) < design.list_length:
        multiple = design.block_multiples[
            draw_int_message(key, f'{head}{block},"size"]', len(design.block_multiples))]
        content = [i for i, arm in enumerate(design.arms) for _ in range(arm.ratio * multiple)]
        prefix = f'{head}{block},"swap",'
        for i in range(len(content) - 1, 0, -1):
            j = draw_int_message(key, f"{prefix}{i}]", i + 1)
            content[i], content[j] = content[j], content[i]
        arms.extend(names[i] for i in content)
        sizes.append(len(content))
        block += 1
    return arms, sizes


def allocation_lists(design: Design) -> dict[str, list[str]] | None:
    """The full committed list per stratum (``"all"`` when unstratified); None for minimisation."""
    if design.method == "simple":
        return {"all": simple_list(design)}
    if design.method == "blocks":
        return {s: block_list(design, s)[0] for s in design.strata()}
    return None


@dataclass
class Tally:
    """Arm counts per factor level and overall: everything minimisation needs from the past."""

    n_arms: int
    by_level: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    totals: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.totals:
            self.totals = [0] * self.n_arms

    def counts(self, factor: str, level: str) -> list[int]:
        return self.by_level.get((factor, level)) or [0] * self.n_arms

    def add(self, levels: Mapping[str, str], arm: int) -> None:
        for factor, level in levels.items():
            row = self.by_level.setdefault((factor, level), [0] * self.n_arms)
            row[arm] += 1
        self.totals[arm] += 1

    def move(self, old: Mapping[str, str], new: Mapping[str, str], arm: int) -> None:
        """A correction: the participant's arm stays, their levels change."""
        for factor, level in old.items():
            self.by_level[(factor, level)][arm] -= 1
        for factor, level in new.items():
            self.by_level.setdefault((factor, level), [0] * self.n_arms)[arm] += 1


def _spread(values: list[int], kind: str) -> int:
    if kind == "range":
        return max(values) - min(values)
    # K² × population variance: the same order as the variance, in exact integers.
    return len(values) * sum(v * v for v in values) - sum(values) ** 2


def minimisation_probabilities(
    design: Design, tally: Tally, levels: Mapping[str, str],
) -> tuple[list[Fraction], list[Fraction]]:
    """Imbalance if the participant joined each column (arm, or virtual arm when ``expanded``),
    and the resulting assignment probabilities per column."""
    columns = design.columns
    k = len(columns)
    ratios = [1 if k > len(design.arms) else design.arms[c].ratio for c in columns]
    lcm = math.lcm(*ratios)
    scale = [lcm // r for r in ratios]
    weights = design.weights()
    rows = [(w, tally.counts(f.name, levels[f.name])) for f, w in zip(design.factors, weights, strict=True)]
    if design.total_weight:
        rows.append((Fraction(str(design.total_weight)), tally.totals))
    scores: list[Fraction] = []
    for cand in range(k):
        score = Fraction(0)
        for weight, row in rows:
            if not weight:
                continue
            adjusted = [(row[i] + (i == cand)) * scale[i] for i in range(k)]
            score += weight * _spread(adjusted, design.imbalance)
        scores.append(score)
    best = min(scores)
    preferred = [i for i in range(k) if scores[i] == best]
    if len(preferred) == k:
        total = sum(ratios)
        return scores, [Fraction(r, total) for r in ratios]
    p = Fraction(str(design.p_preferred))
    pref_sum = sum(ratios[i] for i in preferred)
    rest_sum = sum(ratios) - pref_sum
    probs = [p * ratios[i] / pref_sum if i in preferred else (1 - p) * ratios[i] / rest_sum
             for i in range(k)]
    return scores, probs


def choose_minimisation(probs: list[Fraction], u: Fraction) -> int:
    """Inverse CDF: the first arm whose cumulative probability exceeds ``u``."""
    cumulative = Fraction(0)
    last = 0
    for i, prob in enumerate(probs):
        if prob <= 0:
            continue
        cumulative += prob
        last = i
        if u < cumulative:
            return i
    return last


def minimisation_uniform(design: Design, seq: int) -> Fraction:
    return draw_unit(seed_key(design.seed), ["minimisation", seq])
