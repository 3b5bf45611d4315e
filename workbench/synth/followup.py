"""Follow-up of one block: visit days, latent QoL, death, drop-out, and item answers.

The model, in standard-deviation units of a latent general health factor ``h``:

    h_it = standardised(stage shift + age + random intercept) + slope·t + stage decline·t
           + arm effect (ramped in) + treatment burden (while on treatment, fading after)
           − terminal decline (in the months before death)

Each QLQ-C30 scale loads on ``h`` and keeps its own stable and occasion-specific parts, plus the
scale-specific harms of each treatment (nausea on chemotherapy, pain after surgery…).
Death hazard rises with stage, site and poor baseline health; drop-out at a visit rises with
the *current* latent health (missing not at random), so later time points are missing for the
reasons real cohorts lose people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.synth.instruments import (
    HEALTH_LOADING,
    SCALE_ORDER,
    Calibration,
    gad7_items,
    phq9_items,
    qlq_c30_items,
)
from workbench.synth.people import People
from workbench.synth.reference import TREATMENTS
from workbench.synth.spec import CohortSpec

__all__ = ["STATUSES", "FollowUp", "follow_up", "health_moments"]

STATUSES: tuple[str, ...] = ("completed", "missed", "dropped_out", "dead")
COMPLETED, MISSED, DROPPED, DEAD = range(4)

_YEAR = 365.25
_OCCASION_SHARE = 0.4  # share of scale-specific variance that changes from visit to visit
_RECOVERY_DAYS = 42.0  # treatment harms fade with this time constant once treatment ends
_AGE_EFFECT = -0.01  # per year of age above 62
_HEALTH_HAZARD = 0.35  # log hazard ratio of death per SD of worse baseline health

# General burden of each modality on h while active (order of TREATMENTS).
_BURDEN = np.array([-0.35, -0.45, -0.20, -0.15, -0.10])
# Extra, scale-specific harms (rows TREATMENTS, columns SCALE_ORDER), in y units.
_HARM = np.zeros((len(TREATMENTS), len(SCALE_ORDER)))
for _t, _harms in enumerate([
    {"PF2": -0.3, "RF2": -0.4, "PA": -0.5, "SF": -0.2},
    {"NV": -0.9, "FA": -0.4, "AP": -0.6, "DI": -0.3, "CO": -0.3, "CF": -0.2, "FI": -0.2},
    {"FA": -0.3, "DI": -0.2, "AP": -0.1},
    {"FA": -0.2, "DI": -0.3},
    {"SL": -0.3, "EF": -0.1, "PA": -0.1},
]):
    for _scale, _value in _harms.items():
        _HARM[_t, SCALE_ORDER.index(_scale)] = _value
_LOADING = np.array([HEALTH_LOADING[s] for s in SCALE_ORDER])
_EF = SCALE_ORDER.index("EF")


@dataclass(frozen=True)
class FollowUp:
    """Per (participant, time point) arrays of shape (n, K), and answers of completed forms.

    ``qlq``/``phq9``/``gad7`` rows follow the completed cells of ``status`` in row-major order;
    ``*_answered`` say which items were answered (item non-response is left out of the data).
    """

    visit_day: np.ndarray
    status: np.ndarray
    death_day: np.ndarray
    dropout_day: np.ndarray
    true_y: np.ndarray  # (n, K, 15) latent standardised scale values, higher = better
    qlq: np.ndarray
    phq9: np.ndarray
    gad7: np.ndarray
    qlq_answered: np.ndarray
    phq9_answered: np.ndarray
    gad7_answered: np.ndarray


def health_moments(spec: CohortSpec) -> tuple[float, float]:
    """Mean and variance of the fixed part of baseline health over the spec's case mix.

    Computed from the spec (not from the sample) so every block standardises identically.
    """
    weights = np.array([s.weight for s in spec.cancer_sites])
    weights = weights / weights.sum()
    shift = np.array(spec.stage_health_shift)
    first = second = 0.0
    for w, site in zip(weights, spec.cancer_sites, strict=True):
        p = np.array(site.stage_probs)
        s1, s2 = float(p @ shift), float(p @ shift**2)
        age = _AGE_EFFECT * (site.age_mean - 62)
        first += w * (s1 + age)
        second += w * (s2 + 2 * s1 * age + age**2 + (_AGE_EFFECT * site.age_sd) ** 2)
    return first, second - first**2


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(np.log(p / (1 - p)))


def _visit_days(spec: CohortSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    sched = np.array([tp.day for tp in spec.schedule], dtype=float)
    before = np.array([tp.window_before for tp in spec.schedule], dtype=float)
    after = np.array([tp.window_after for tp in spec.schedule], dtype=float)
    u = rng.triangular(-1.0, 0.0, 1.0, (n, sched.size))
    return sched + np.rint(np.where(u < 0, u * before, u * after))


def _treatment_activity(people: People, days: np.ndarray) -> np.ndarray:
    """(n, K, T) activity: 1 on treatment, fading after it ends, 0 before or if not given."""
    t = days[:, :, None]
    start, end = people.treatment_start[:, None, :], people.treatment_end[:, None, :]
    with np.errstate(invalid="ignore"):
        fading = np.exp(-np.maximum(t - end, 0.0) / _RECOVERY_DAYS)
        active = np.where(t >= start, fading, 0.0)
    return np.nan_to_num(active, nan=0.0)


def follow_up(spec: CohortSpec, cal: Calibration, people: People,
              rng: np.random.Generator) -> FollowUp:
    n, k = people.ids.size, len(spec.schedule)
    days = _visit_days(spec, n, rng)
    years = days / _YEAR

    mean_c, var_c = health_moments(spec)
    carer = people.carer
    stage_shift = np.where(carer, mean_c, np.array(spec.stage_health_shift)[people.stage])
    fixed = stage_shift + _AGE_EFFECT * (people.age - 62)
    h0 = (fixed + rng.standard_normal(n) - mean_c) / np.sqrt(var_c + 1.0)
    slope = spec.mean_slope_per_year + spec.slope_sd_per_year * rng.standard_normal(n)
    decline = np.where(carer, 0.0, np.array(spec.stage_annual_decline)[people.stage])

    # Death: stage hazard × site factor × worse baseline health; NaN = alive at end of follow-up.
    base = -np.log1p(-np.array(spec.stage_annual_mortality))[people.stage]
    factor = np.array([s.mortality_factor for s in spec.cancer_sites])[people.site]
    hazard = np.where(carer, 0.0, base * factor * np.exp(-_HEALTH_HAZARD * h0) / _YEAR)
    with np.errstate(divide="ignore"):
        death = np.ceil(rng.exponential(1.0, n) / hazard)
    horizon = spec.schedule[-1].day + spec.schedule[-1].window_after
    death = np.where(death <= horizon, np.maximum(death, 1.0), np.nan)

    activity = _treatment_activity(people, days)
    arm_on = people.arm == spec.arm_names.index(spec.effect_arm)
    ramp = np.clip(days / spec.arm_effect_ramp_days, 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        terminal = np.clip(1 - (death[:, None] - days) / spec.terminal_decline_days, 0.0, 1.0)
    terminal = np.nan_to_num(terminal, nan=0.0)
    h = (h0[:, None] + (slope + decline)[:, None] * years
         + spec.arm_effect * arm_on[:, None] * ramp
         + activity @ _BURDEN - spec.terminal_decline * terminal)

    unique = np.sqrt(1 - _LOADING**2)
    stable = rng.standard_normal((n, 1, _LOADING.size))
    occasion = rng.standard_normal((n, k, _LOADING.size))
    y = (_LOADING * h[:, :, None]
         + unique * (np.sqrt(1 - _OCCASION_SHARE) * stable + np.sqrt(_OCCASION_SHARE) * occasion)
         + activity @ _HARM + spec.proxy_shift * people.proxy[:, None, None])

    status, dropout = _statuses(spec, rng, days, h, death)
    done = status == COMPLETED
    y_done = y[done]
    w = rng.standard_normal((n, 2))
    e = rng.standard_normal((n, k, 2))[done]
    w_done = np.broadcast_to(w[:, None, :], (n, k, 2))[done]
    ef = y_done[:, _EF]
    # Carers worry more the more advanced their relative's cancer is.
    carer_done = np.broadcast_to(carer[:, None], (n, k))[done]
    worry = np.where(carer_done,
                     np.array(spec.carer_distress_by_stage)[people.stage][:, None]
                     .repeat(k, axis=1)[done], 0.0)
    distress = -0.8 * ef + 0.6 * (0.77 * w_done[:, 0] + 0.63 * e[:, 0]) + worry
    anxiety = (-0.7 * ef + 0.714 * (0.45 * w_done[:, 0] + 0.6 * w_done[:, 1] + 0.66 * e[:, 1])
               + worry)
    qlq = qlq_c30_items(y_done, cal, rng)
    phq = phq9_items(distress, cal, rng)
    gad = gad7_items(anxiety, cal, rng)
    p = spec.item_nonresponse
    qlq_answered = rng.random(qlq.shape, dtype=np.float32) >= p
    qlq_answered[carer_done] = False  # the QLQ-C30 is a patient questionnaire
    return FollowUp(
        days, status, death, dropout, y, qlq, phq, gad, qlq_answered,
        rng.random(phq.shape, dtype=np.float32) >= p,
        rng.random(gad.shape, dtype=np.float32) >= p,
    )


def _statuses(spec: CohortSpec, rng: np.random.Generator, days: np.ndarray, h: np.ndarray,
              death: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Status of every scheduled assessment, and the drop-out day (NaN if none)."""
    n, k = days.shape
    log_or = np.log(spec.dropout_odds_ratio_per_sd)
    p_drop = _expit(_logit(spec.dropout_per_visit) - log_or * h)
    drop_now = rng.random((n, k)) < p_drop
    drop_now[:, 0] = False
    dropped = np.logical_or.accumulate(drop_now, axis=1)
    first = np.argmax(dropped, axis=1)
    any_drop = dropped[:, -1]
    rows = np.arange(n)
    previous = days[rows, np.maximum(first - 1, 0)]
    gap = days[rows, first] - previous
    dropout = np.where(any_drop, previous + np.ceil(rng.random(n) * np.maximum(gap, 1)), np.nan)
    dropout = np.where(death <= dropout, np.nan, dropout)  # death came first: not a drop-out

    p_miss = _expit(_logit(spec.missed_visit) - 0.3 * h)
    p_miss[:, 0] = spec.missed_baseline
    missed = rng.random((n, k)) < p_miss

    status = np.full((n, k), COMPLETED, dtype=np.int8)
    status[missed] = MISSED
    with np.errstate(invalid="ignore"):
        status[dropout[:, None] <= days] = DROPPED
        status[death[:, None] <= days] = DEAD
    return status, dropout
