"""Participants and their treatments for one block, as plain arrays (frames are built later).

Everything is drawn column-wise for the whole block; conditional draws (stage given cancer site,
sex given site…) use one uniform per row against the row's own cumulative probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.synth.reference import TREATMENTS
from workbench.synth.spec import CohortSpec

__all__ = ["People", "draw_people"]

# Stage modifies how likely each modality is (rows: stage I..IV; columns follow TREATMENTS).
_STAGE_TREATMENT = np.array([
    [1.00, 0.60, 1.00, 0.30, 1.0],
    [1.00, 0.90, 1.00, 0.50, 1.0],
    [0.80, 1.20, 1.10, 1.20, 1.0],
    [0.30, 1.30, 0.70, 2.00, 1.0],
])
SURGERY, CHEMO, RADIO, IMMUNO, HORMONE = range(len(TREATMENTS))


@dataclass(frozen=True)
class People:
    """Per-participant arrays of one block; day counts are relative to the inclusion date."""

    ids: np.ndarray
    centre: np.ndarray
    arm: np.ndarray
    site: np.ndarray
    icd10: np.ndarray
    stage: np.ndarray
    female: np.ndarray
    proxy: np.ndarray  # a patient whose forms a proxy completes
    carer: np.ndarray  # a family carer taking part in their own right (site/stage: the patient's)
    age: np.ndarray
    inclusion: np.ndarray  # datetime64[D]
    birth: np.ndarray  # datetime64[D]; exact date goes to the trusted party only
    diagnosis: np.ndarray  # datetime64[D]
    treatment_start: np.ndarray  # (n, len(TREATMENTS)) days, NaN = not given
    treatment_end: np.ndarray

    @property
    def birth_year(self) -> np.ndarray:
        return self.birth.astype("datetime64[Y]").astype(np.int64) + 1970


def _categorical(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), weights.size - 1)


def _conditional(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per row from ``table[rows]`` (each table row a probability vector)."""
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)[rows]
    return np.minimum((rng.random(rows.size)[:, None] >= cdf).sum(axis=1), table.shape[1] - 1)


def draw_people(spec: CohortSpec, ids: np.ndarray, rng: np.random.Generator) -> People:
    n = ids.size
    sites = spec.cancer_sites
    centre = _categorical(rng, np.array([w for _, w in spec.centres]), n)
    arm = _categorical(rng, np.array([float(r) for _, r in spec.arms]), n)
    site = _categorical(rng, np.array([s.weight for s in sites]), n)
    stage = _conditional(rng, np.array([s.stage_probs for s in sites]), site)

    codes = spec.icd10_codes
    icd_table = np.zeros((len(sites), len(codes)))
    for row, profile in enumerate(sites):
        for code, weight in profile.icd10:
            icd_table[row, codes.index(code)] = weight
    icd10 = _conditional(rng, icd_table, site)

    carer = rng.random(n) < spec.carer_share
    female_p = np.where(carer, spec.carer_female_prob,
                        np.array([s.female_prob for s in sites])[site])
    female = rng.random(n) < female_p
    age_mean = np.where(carer, spec.carer_age[0], np.array([s.age_mean for s in sites])[site])
    age_sd = np.where(carer, spec.carer_age[1], np.array([s.age_sd for s in sites])[site])
    age = np.clip(np.rint(rng.normal(age_mean, age_sd)), 18, 95).astype(np.int16)
    proxy_p = np.array(spec.proxy_prob)[stage] * np.where(age >= 80, 2.0, 1.0)
    proxy = (rng.random(n) < proxy_p) & ~carer

    start = np.datetime64(spec.recruitment_start, "D")
    inclusion = start + rng.integers(0, spec.recruitment_days, n).astype("timedelta64[D]")
    days_old = age.astype(np.int64) * 365 + age // 4 + rng.integers(0, 365, n)
    birth = inclusion - days_old.astype("timedelta64[D]")
    diagnosis = inclusion - (7 + np.rint(rng.gamma(2.0, 15.0, n))).astype("timedelta64[D]")

    given_p = np.array([s.treatment_probs for s in sites])[site] * _STAGE_TREATMENT[stage]
    given = (rng.random((n, len(TREATMENTS))) < np.minimum(given_p, 0.97)) & ~carer[:, None]
    t_start, t_end = _treatment_days(rng, given)
    return People(ids, centre, arm, site, icd10, stage, female, proxy, carer, age, inclusion, birth,
                  diagnosis, t_start, t_end)


def _treatment_days(rng: np.random.Generator, given: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end day of each modality, in the usual order surgery → chemo → radio → hormone.

    Inclusion (baseline questionnaire) comes before the first treatment, as in most QoL studies.
    """
    n = given.shape[0]
    start = np.full(given.shape, np.nan)
    end = np.full(given.shape, np.nan)
    draws = {
        "surgery": 7 + np.rint(rng.gamma(2.0, 7.0, n)),
        "stay": 2 + rng.poisson(4.0, n),
        "adjuvant_gap": 28 + np.rint(rng.gamma(2.0, 7.0, n)),
        "first_line": 5 + np.rint(rng.gamma(2.0, 5.0, n)),
        "cycles": rng.integers(4, 9, n),
        "radio_gap": 21 + np.rint(rng.gamma(2.0, 7.0, n)),
        "radio_days": rng.integers(21, 50, n),
        "immuno_days": rng.integers(180, 731, n),
        "hormone_gap": 14 + np.rint(rng.gamma(2.0, 5.0, n)),
    }
    has = {k: given[:, k] for k in range(given.shape[1])}
    s_end = np.where(has[SURGERY], draws["surgery"] + draws["stay"], np.nan)
    start[:, SURGERY] = np.where(has[SURGERY], draws["surgery"], np.nan)
    end[:, SURGERY] = s_end

    c_start = np.where(has[SURGERY], s_end + draws["adjuvant_gap"], draws["first_line"])
    c_end = c_start + 21 * draws["cycles"]
    start[:, CHEMO] = np.where(has[CHEMO], c_start, np.nan)
    end[:, CHEMO] = np.where(has[CHEMO], c_end, np.nan)

    previous_end = np.where(has[CHEMO], c_end, np.where(has[SURGERY], s_end, 0.0))
    r_start = np.where(previous_end > 0, previous_end + draws["radio_gap"], draws["first_line"])
    start[:, RADIO] = np.where(has[RADIO], r_start, np.nan)
    end[:, RADIO] = np.where(has[RADIO], r_start + draws["radio_days"], np.nan)

    i_start = np.where(has[CHEMO], c_start, draws["first_line"] + 7)
    start[:, IMMUNO] = np.where(has[IMMUNO], i_start, np.nan)
    end[:, IMMUNO] = np.where(has[IMMUNO], i_start + draws["immuno_days"], np.nan)

    last = np.fmax(previous_end, np.where(has[RADIO], r_start + draws["radio_days"], 0.0))
    h_start = last + draws["hormone_gap"]
    start[:, HORMONE] = np.where(has[HORMONE], h_start, np.nan)
    end[:, HORMONE] = np.where(has[HORMONE], h_start + 1826, np.nan)
    return start, end
