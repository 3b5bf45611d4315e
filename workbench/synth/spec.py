"""The parameters of a synthetic cohort, in one frozen (hashable, comparable) dataclass.

Two runs with the same seed and an equal ``CohortSpec`` give identical data, so the spec is the
full description of a synthetic data set and can be written next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from workbench.errors import ValidationError
from workbench.synth.instruments import QLQ_C30_SCALES
from workbench.synth.reference import (
    CANCER_SITES,
    CENTRES,
    GAD7_REFERENCE,
    PHQ9_REFERENCE,
    QLQ_C30_REFERENCE,
    CancerSiteProfile,
)

__all__ = ["DEFAULT_SCHEDULE", "CohortSpec", "TimePoint"]


@dataclass(frozen=True)
class TimePoint:
    """One scheduled assessment: days after inclusion and the window a visit may fall in."""

    code: str
    label: str
    day: int
    window_before: int = 0
    window_after: int = 0


DEFAULT_SCHEDULE: tuple[TimePoint, ...] = (
    TimePoint("BL", "Baseline / Inclusion", 0, 0, 0),
    TimePoint("W06", "Week 6 / Semaine 6", 42, 7, 7),
    TimePoint("W12", "Week 12 / Semaine 12", 84, 7, 7),
    TimePoint("W24", "Week 24 / Semaine 24", 168, 14, 14),
    TimePoint("W36", "Week 36 / Semaine 36", 252, 14, 14),
    TimePoint("W48", "Week 48 / Semaine 48", 336, 14, 14),
    TimePoint("W72", "Week 72 / Semaine 72", 504, 21, 21),
    TimePoint("W96", "Week 96 / Semaine 96", 672, 21, 21),
)


@dataclass(frozen=True)
class CohortSpec:
    """Everything that shapes the cohort except its size and seed.

    Effects are in standard-deviation units of the latent health factor, so one number means the
    same thing on every scale; 0.25 SD is about 6 points on global health status.
    """

    centres: tuple[tuple[str, float], ...] = tuple((c.code, c.weight) for c in CENTRES)
    arms: tuple[tuple[str, int], ...] = (("control", 1), ("intervention", 1))
    effect_arm: str = "intervention"
    arm_effect: float = 0.25
    arm_effect_ramp_days: int = 84
    cancer_sites: tuple[CancerSiteProfile, ...] = CANCER_SITES
    stage_health_shift: tuple[float, float, float, float] = (0.25, 0.10, -0.10, -0.45)
    stage_annual_decline: tuple[float, float, float, float] = (0.0, 0.0, -0.10, -0.35)
    proxy_prob: tuple[float, float, float, float] = (0.03, 0.03, 0.05, 0.12)
    proxy_shift: float = -0.15
    carer_share: float = 0.08
    carer_female_prob: float = 0.65
    carer_age: tuple[float, float] = (58.0, 13.0)
    carer_distress_by_stage: tuple[float, float, float, float] = (0.2, 0.3, 0.4, 0.5)
    recruitment_start: date = date(2024, 1, 8)
    recruitment_days: int = 730
    schedule: tuple[TimePoint, ...] = DEFAULT_SCHEDULE
    slope_sd_per_year: float = 0.30
    mean_slope_per_year: float = 0.05
    stage_annual_mortality: tuple[float, float, float, float] = (0.015, 0.04, 0.12, 0.40)
    terminal_decline: float = 1.0
    terminal_decline_days: int = 120
    dropout_per_visit: float = 0.04
    dropout_odds_ratio_per_sd: float = 1.8
    missed_baseline: float = 0.02
    missed_visit: float = 0.06
    item_nonresponse: float = 0.01
    qlq_c30_reference: tuple[tuple[str, float, float], ...] = QLQ_C30_REFERENCE
    phq9_reference: tuple[float, float] = PHQ9_REFERENCE
    gad7_reference: tuple[float, float] = GAD7_REFERENCE
    include_truth: bool = False

    def __post_init__(self) -> None:
        _check_weights(self.centres, "CohortSpec.centres")
        _check_weights(tuple((a, float(r)) for a, r in self.arms), "CohortSpec.arms")
        _check_weights(tuple((s.name, s.weight) for s in self.cancer_sites),
                       "CohortSpec.cancer_sites")
        if self.effect_arm not in {a for a, _ in self.arms}:
            raise ValidationError(f"{self.effect_arm!r} is not one of the arms",
                                  where="CohortSpec.effect_arm")
        for site in self.cancer_sites:
            where = f"CohortSpec.cancer_sites[{site.name}]"
            _check_probs(site.stage_probs, where + ".stage_probs", total=True)
            _check_probs(site.treatment_probs, where + ".treatment_probs")
            _check_weights(site.icd10, where + ".icd10")
            if not 0 <= site.female_prob <= 1 or site.age_sd <= 0 or site.mortality_factor < 0:
                raise ValidationError("female_prob, age_sd or mortality_factor out of range",
                                      where=where)
        self._check_schedule()
        for name in ("dropout_per_visit", "missed_baseline", "missed_visit", "item_nonresponse",
                     "carer_share", "carer_female_prob"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValidationError(f"must be in [0, 1), got {value}", where=f"CohortSpec.{name}")
        _check_probs(self.proxy_prob, "CohortSpec.proxy_prob")
        if self.carer_age[1] <= 0:
            raise ValidationError("the age SD must be positive", where="CohortSpec.carer_age")
        _check_probs(self.stage_annual_mortality, "CohortSpec.stage_annual_mortality", upper=0.99)
        if self.dropout_odds_ratio_per_sd <= 0:
            raise ValidationError("must be positive", where="CohortSpec.dropout_odds_ratio_per_sd")
        if self.recruitment_days < 1 or self.arm_effect_ramp_days < 1:
            raise ValidationError("recruitment_days and arm_effect_ramp_days must be ≥ 1",
                                  where="CohortSpec")
        scales = [s for s, _, _ in self.qlq_c30_reference]
        if sorted(scales) != sorted(QLQ_C30_SCALES):
            raise ValidationError("needs exactly one (scale, mean, sd) per QLQ-C30 scale",
                                  where="CohortSpec.qlq_c30_reference")
        for scale, mean, sd in self.qlq_c30_reference:
            if not (0 < mean < 100 and 0 < sd < 60):
                raise ValidationError(f"implausible reference {mean} ± {sd}",
                                      where=f"CohortSpec.qlq_c30_reference[{scale}]")

    def _check_schedule(self) -> None:
        where = "CohortSpec.schedule"
        if not self.schedule or self.schedule[0].day != 0:
            raise ValidationError("the first time point must be day 0 (baseline)", where=where)
        days = [tp.day for tp in self.schedule]
        if any(b <= a for a, b in pairwise(days)):
            raise ValidationError("time points must be in strictly increasing day order",
                                  where=where)
        codes = [tp.code for tp in self.schedule]
        if len(set(codes)) != len(codes):
            raise ValidationError("time point codes must be unique", where=where)
        for prev, tp in pairwise(self.schedule):
            if tp.window_before < 0 or tp.window_after < 0:
                raise ValidationError(f"negative window at {tp.code}", where=where)
            if tp.day - tp.window_before <= prev.day + prev.window_after:
                raise ValidationError(f"window of {tp.code} overlaps {prev.code}", where=where)

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a for a, _ in self.arms)

    @property
    def site_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.cancer_sites)

    @property
    def centre_codes(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.centres)

    @property
    def icd10_codes(self) -> tuple[str, ...]:
        """Every ICD-10 code any site can draw, in first-seen order (categories of the column)."""
        seen: dict[str, None] = {}
        for site in self.cancer_sites:
            for code, _ in site.icd10:
                seen.setdefault(code, None)
        return tuple(seen)


def _check_weights(pairs: tuple[tuple[str, float], ...], where: str) -> None:
    if not pairs:
        raise ValidationError("needs at least one entry", where=where)
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise ValidationError("names must be unique", where=where)
    weights = [w for _, w in pairs]
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValidationError("weights must be non-negative with a positive sum", where=where)


def _check_probs(probs: tuple[float, ...], where: str, *, total: bool = False,
                 upper: float = 1.0) -> None:
    if any(not 0 <= p <= upper for p in probs):
        raise ValidationError(f"probabilities must be in [0, {upper}]", where=where)
    if total and abs(sum(probs) - 1) > 1e-6:
        raise ValidationError(f"must sum to 1, got {sum(probs):.4f}", where=where)
