"""A small, seeded, vectorised cohort in OMOP form, for tests, demos and the benchmark.

Not the project's synthetic-cohort generator (``workbench.synth``): just enough realism to
exercise the warehouse — two arms, cancer sites, treatments, five questionnaire waves with
dropout, QLQ-C30/PHQ-9/GAD-7 items in OBSERVATION and their scores in MEASUREMENT, linked to a
``survey_conduct`` sitting. The same seed always gives the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pyarrow as pa

__all__ = ["ARMS", "WAVES", "sample_cohort"]

WAVES = (("baseline", 0, 2000000301), ("M3", 91, 2000000302), ("M6", 182, 2000000303),
         ("M12", 365, 2000000304), ("M24", 730, 2000000305))
ARMS = ("control", "intervention")
SURVEY_TYPE = 32862
EHR = 32817
FIELD_SURVEY = 2000000401
ARM_CONCEPT = 2000000402
QLQ_ITEMS = np.arange(2000000101, 2000000131)
QLQ_SCALES = np.arange(2000000201, 2000000216)
PHQ_ITEMS = np.arange(2000100002, 2000100011)
PHQ_TOTAL = 2000100011
GAD_ITEMS = np.arange(2000100013, 2000100020)
GAD_TOTAL = 2000100020
# SNOMED sites: breast, lung, colon, prostate, ovary (ids from the mini-vocabulary).
BREAST, DUCT, PROSTATE, OVARY = 2000200002, 2000200003, 2000200006, 2000200007
SITES = np.array([BREAST, 2000200004, 2000200005, PROSTATE, OVARY])
SITE_P = np.array([0.4, 0.2, 0.2, 0.15, 0.05])
DRUGS = np.array([2000300001, 2000300002, 2000300003, 2000300004])
PROCEDURES = np.array([2000300005, 2000300006, 2000300007])
_EPOCH = date(1970, 1, 1).toordinal()


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), pa.int32()).cast(pa.date32())


def sample_cohort(persons: int, *, seed: int = 0, first_id: int = 1,
                  chunk: int = 10_000) -> Iterator[dict[str, pa.Table]]:
    """Yield batches of tables (name → Arrow table), ``chunk`` persons at a time."""
    for start in range(0, persons, chunk):
        n = min(chunk, persons - start)
        rng = np.random.default_rng([seed, start])
        yield _batch(rng, first_id + start, n)


def _batch(rng: np.random.Generator, first: int, n: int) -> dict[str, pa.Table]:
    pid = np.arange(first, first + n, dtype=np.int64)
    female = rng.random(n) < 0.55
    birth = rng.integers(1935, 2000, n)
    arm = rng.integers(0, 2, n)
    site = rng.choice(SITES, n, p=SITE_P)
    site = np.where(female & (site == PROSTATE), BREAST, site)
    site = np.where(~female & np.isin(site, [BREAST, OVARY]), PROSTATE, site)
    site = np.where((site == BREAST) & (rng.random(n) < 0.6), DUCT, site)
    entry = (date(2020, 1, 1).toordinal() - _EPOCH) + rng.integers(0, 730, n)
    waves_done = np.minimum(rng.geometric(0.18, n), len(WAVES))  # dropout after k waves
    end = entry + np.array([w[1] for w in WAVES])[waves_done - 1] + 30
    person = pa.table({
        "person_id": pid, "gender_concept_id": np.where(female, 8532, 8507),
        "year_of_birth": birth, "race_concept_id": np.zeros(n, np.int32),
        "ethnicity_concept_id": np.zeros(n, np.int32),
    })
    period = pa.table({
        "observation_period_id": pid, "person_id": pid,
        "observation_period_start_date": _dates(entry - 30), "observation_period_end_date": _dates(end),
        "period_type_concept_id": np.full(n, EHR)})
    condition = pa.table({
        "condition_occurrence_id": pid, "person_id": pid, "condition_concept_id": site,
        "condition_start_date": _dates(entry - 30), "condition_type_concept_id": np.full(n, EHR)})
    treated = rng.random(n) < 0.7
    drug = pa.table({
        "drug_exposure_id": pid[treated], "person_id": pid[treated],
        "drug_concept_id": rng.choice(DRUGS, treated.sum()),
        "drug_exposure_start_date": _dates(entry[treated] + 7),
        "drug_exposure_end_date": _dates(entry[treated] + 120),
        "drug_type_concept_id": np.full(treated.sum(), EHR)})
    operated = rng.random(n) < 0.5
    procedure = pa.table({
        "procedure_occurrence_id": pid[operated], "person_id": pid[operated],
        "procedure_concept_id": rng.choice(PROCEDURES, operated.sum()),
        "procedure_date": _dates(entry[operated] + 3),
        "procedure_type_concept_id": np.full(operated.sum(), EHR)})
    arm_obs = pa.table({
        "observation_id": pid * 1000 + 999, "person_id": pid, "observation_concept_id": np.full(n, ARM_CONCEPT),
        "observation_date": _dates(entry), "observation_type_concept_id": np.full(n, EHR),
        "value_as_string": pa.array(np.array(ARMS)[arm])})
    # Sittings: one per person and wave reached.
    wave_idx = np.concatenate([np.arange(k) for k in waves_done])
    s_person = np.repeat(pid, waves_done)
    s_entry = np.repeat(entry, waves_done)
    s_arm = np.repeat(arm, waves_done)
    s_day = s_entry + np.array([w[1] for w in WAVES])[wave_idx]
    s_id = s_person * 10 + wave_idx
    m = len(s_id)
    survey = pa.table({
        "survey_conduct_id": s_id, "person_id": s_person, "survey_concept_id": np.full(m, 2000000001),
        "survey_start_date": _dates(s_day), "survey_end_date": _dates(s_day),
        "survey_end_datetime": pa.array(s_day.astype("int64") * 86_400_000_000 + 36_000_000_000,
                                        pa.timestamp("us")),
        "assisted_concept_id": np.full(m, 2000000521), "respondent_type_concept_id": np.full(m, 2000000501),
        "timing_concept_id": np.array([w[2] for w in WAVES])[wave_idx],
        "collection_method_concept_id": np.full(m, 2000000511),
        "timing_source_value": pa.array(np.array([w[0] for w in WAVES])[wave_idx]),
        "survey_source_concept_id": np.full(m, 2000000001),
        "validated_survey_concept_id": np.full(m, 2000000001)})
    # Latent QoL: intervention recovers faster after a treatment dip.
    latent = rng.normal(0, 1, n)[np.repeat(np.arange(n), waves_done)]
    dip = np.array([0.0, -0.6, -0.3, -0.1, 0.0])[wave_idx] * np.where(s_arm == 1, 0.5, 1.0)
    level = latent + dip + rng.normal(0, 0.3, m)
    items = np.concatenate([QLQ_ITEMS, PHQ_ITEMS, GAD_ITEMS])
    k = len(items)
    noise = rng.normal(0, 0.8, (m, k))
    ordinal = np.empty((m, k), np.int16)
    ordinal[:, :28] = np.clip(np.round(2.5 - level[:, None] + noise[:, :28]), 1, 4)
    ordinal[:, 28:30] = np.clip(np.round(4.5 + 1.5 * level[:, None] + noise[:, 28:30]), 1, 7)
    ordinal[:, 30:] = np.clip(np.round(1.0 - level[:, None] + noise[:, 30:]), 0, 3)
    obs_ids = (s_id[:, None] * 100 + np.arange(k)[None, :]).ravel()
    observation = pa.table({
        "observation_id": obs_ids, "person_id": np.repeat(s_person, k),
        "observation_concept_id": np.tile(items, m), "observation_date": _dates(np.repeat(s_day, k)),
        "observation_type_concept_id": np.full(m * k, SURVEY_TYPE),
        "value_as_number": ordinal.ravel().astype("float64"),
        "observation_event_id": np.repeat(s_id, k), "obs_event_field_concept_id": np.full(m * k, FIELD_SURVEY)})
    scores = _scores(ordinal)
    j = scores.shape[1]
    measurement = pa.table({
        "measurement_id": (s_id[:, None] * 100 + np.arange(j)[None, :]).ravel(),
        "person_id": np.repeat(s_person, j),
        "measurement_concept_id": np.tile(np.concatenate([QLQ_SCALES, [PHQ_TOTAL, GAD_TOTAL]]), m),
        "measurement_date": _dates(np.repeat(s_day, j)),
        "measurement_type_concept_id": np.full(m * j, SURVEY_TYPE),
        "value_as_number": scores.ravel(), "measurement_event_id": np.repeat(s_id, j),
        "meas_event_field_concept_id": np.full(m * j, FIELD_SURVEY)})
    dead = (waves_done < len(WAVES)) & (rng.random(n) < 0.25)
    death = pa.table({"person_id": pid[dead], "death_date": _dates(end[dead]),
                      "death_type_concept_id": np.full(dead.sum(), EHR)})
    return {"person": person, "observation_period": period, "condition_occurrence": condition,
            "drug_exposure": drug, "procedure_occurrence": procedure, "survey_conduct": survey,
            "observation": pa.concat_tables([arm_obs, observation], promote_options="default")
            .sort_by("observation_id").combine_chunks(),
            "measurement": measurement, "death": death}


# EORTC QLQ-C30 scale → item numbers (structure only; the scoring manual is licensed).
_QLQ_SCALES = {"QL": (29, 30), "PF": (1, 2, 3, 4, 5), "RF": (6, 7), "EF": (21, 22, 23, 24),
               "CF": (20, 25), "SF": (26, 27), "FA": (10, 12, 18), "NV": (14, 15),
               "PA": (9, 19), "DY": (8,), "SL": (11,), "AP": (13,), "CO": (16,), "DI": (17,),
               "FI": (28,)}
_FUNCTIONAL = {"PF", "RF", "EF", "CF", "SF"}


def _scores(ordinal: np.ndarray) -> np.ndarray:
    """Linear 0–100 transform of the raw-score mean, then PHQ-9 and GAD-7 sums."""
    out = []
    for scale, numbers in _QLQ_SCALES.items():
        raw = ordinal[:, [q - 1 for q in numbers]].mean(axis=1)
        span = 6.0 if scale == "QL" else 3.0
        if scale == "QL":
            out.append((raw - 1) / span * 100)
        elif scale in _FUNCTIONAL:
            out.append((1 - (raw - 1) / span) * 100)
        else:
            out.append((raw - 1) / span * 100)
    out.append(ordinal[:, 30:39].sum(axis=1))
    out.append(ordinal[:, 39:46].sum(axis=1))
    return np.column_stack(out).astype("float64")
