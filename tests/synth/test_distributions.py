"""The cohort looks like one: reference baseline scores, plausible case mix, informative missingness.

Tolerances are set from the sampling error of a 6,000-participant cohort (SE of a mean ≈ 0.4
points) plus the item rounding the generator cannot avoid; a broken item map, a reversed scale
or a missing effect moves the figures far outside them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from workbench.synth import CohortChunk
from workbench.synth.reference import GAD7_REFERENCE, PHQ9_REFERENCE, QLQ_C30_REFERENCE

COHORT_N = 6000  # size of the shared ``cohort`` fixture

REFERENCE = {scale: (mean, sd) for scale, mean, sd in QLQ_C30_REFERENCE}


@pytest.mark.parametrize("scale", list(REFERENCE))
def test_baseline_scores_match_reference_values(scored: pd.DataFrame, scale: str) -> None:
    baseline = scored.loc[scored["timepoint"] == "BL", scale].dropna()
    mean, sd = REFERENCE[scale]
    assert len(baseline) > 0.95 * 0.92 * COHORT_N  # patients only: carers have no QLQ-C30
    assert abs(baseline.mean() - mean) < (2.5 if scale == "QL2" else 3.0), baseline.mean()
    assert abs(baseline.std() - sd) < 4.0, baseline.std()


def test_item_codes_are_in_range(cohort: CohortChunk) -> None:
    answers = cohort.answers
    qlq = answers[answers["instrument"] == "QLQ-C30"]
    assert qlq["item"].between(1, 30).all()
    four = qlq[qlq["item"] <= 28]["value"]
    seven = qlq[qlq["item"] >= 29]["value"]
    assert four.between(1, 4).all() and seven.between(1, 7).all()
    assert set(four.unique()) == {1, 2, 3, 4} and set(seven.unique()) == set(range(1, 8))
    for instrument, n_items in (("PHQ-9", 9), ("GAD-7", 7)):
        sub = answers[answers["instrument"] == instrument]
        assert sub["item"].between(1, n_items).all() and sub["value"].between(0, 3).all()
    assert not answers.duplicated(["assessment_id", "instrument", "item"]).any()


def test_answers_only_for_completed_assessments(cohort: CohortChunk) -> None:
    status = cohort.assessments.set_index("assessment_id")["status"]
    assert (status[cohort.answers["assessment_id"].unique()] == "completed").all()
    completed = set(status[status == "completed"].index)
    assert completed == set(cohort.answers["assessment_id"])
    carers = set(cohort.participants.loc[cohort.participants["respondent_type"] == "carer",
                                         "participant_id"])
    n_carer = sum(aid // 100 in carers for aid in completed)
    expected = (len(completed) - n_carer) * 46 + n_carer * 16  # carers: PHQ-9 + GAD-7 only
    missing_share = 1 - len(cohort.answers) / expected
    assert 0.005 < missing_share < 0.02  # item non-response at the specified 1 %


def test_scored_items_track_the_latent_truth(cohort: CohortChunk, scored: pd.DataFrame) -> None:
    truth = cohort.truth.set_index("assessment_id")
    observed = scored.set_index("assessment_id")[["QL2", "PF2", "FA"]]
    both = observed.join(truth.add_suffix("_true"))
    for scale in ("QL2", "PF2", "FA"):
        assert both[scale].corr(both[f"{scale}_true"]) > 0.8
        assert abs((both[scale] - both[f"{scale}_true"]).mean()) < 2.0


def test_scales_correlate_in_the_expected_directions(scored: pd.DataFrame) -> None:
    baseline = scored[scored["timepoint"] == "BL"]
    assert baseline["QL2"].corr(baseline["PF2"]) > 0.4
    assert baseline["QL2"].corr(baseline["FA"]) < -0.4
    assert baseline["PF2"].corr(baseline["FA"]) < -0.3


def test_case_mix_is_plausible(cohort: CohortChunk) -> None:
    assert 0.06 < (cohort.participants["respondent_type"] == "carer").mean() < 0.10
    people = cohort.participants[cohort.participants["respondent_type"] == "patient"]
    share = people["cancer_site"].value_counts(normalize=True)
    assert share.index[0] == "breast" and 0.26 < share["breast"] < 0.34
    by_site_sex = pd.crosstab(people["cancer_site"], people["sex"], normalize="index")
    assert by_site_sex.loc["prostate", "M"] == 1.0 and by_site_sex.loc["gynaecological", "F"] == 1
    assert by_site_sex.loc["breast", "F"] > 0.95
    assert people["age_at_inclusion"].between(18, 95).all()
    assert 55 < people["age_at_inclusion"].mean() < 68
    assert abs((people["arm"] == "intervention").mean() - 0.5) < 0.03
    assert 0.02 < people["proxy_completion"].mean() < 0.10
    assert (people["diagnosis_date"] < people["inclusion_date"]).all()
    assert (people["inclusion_date"].dt.year - people["birth_year"]).between(18, 96).all()
    assert people["icd10"][people["cancer_site"] == "lung"].eq("C34").all()


def test_treatments_are_consistent(cohort: CohortChunk) -> None:
    t = cohort.treatments.merge(cohort.participants, on="participant_id")
    assert (t["start_date"] <= t["end_date"]).all()
    assert (t["start_date"] > t["inclusion_date"]).all()  # baseline is before treatment
    died = t["death_date"].notna()
    assert (t.loc[died, "start_date"] < t.loc[died, "death_date"]).all()
    assert (t.loc[died, "end_date"] <= t.loc[died, "death_date"]).all()
    hormone = t[t["treatment"] == "hormone_therapy"]["cancer_site"].value_counts(normalize=True)
    assert hormone.get("breast", 0) + hormone.get("prostate", 0) > 0.95
    assert not t.duplicated(["participant_id", "treatment"]).any()
    chemo = t[t["treatment"] == "chemotherapy"]
    patients = cohort.participants[cohort.participants["respondent_type"] == "patient"]
    assert (chemo["cancer_site"] == "haematological").sum() > 0.8 * (
        patients["cancer_site"] == "haematological").sum()
    assert (t["respondent_type"] == "patient").all()


def test_visits_fall_in_their_windows_and_status_is_monotone(cohort: CohortChunk) -> None:
    a = cohort.assessments
    done = a[a["status"] == "completed"]
    assert done["visit_date"].between(done["window_start"], done["window_end"]).all()
    assert a.loc[a["status"] != "completed", "visit_date"].isna().all()
    wide = a.pivot(index="participant_id", columns="timepoint", values="status")
    dead = (wide == "dead").to_numpy()
    gone = dead | (wide == "dropped_out").to_numpy()
    assert (np.diff(dead.astype(int), axis=1) >= 0).all()
    assert (np.diff(gone.astype(int), axis=1) >= 0).all()
    assert not gone[:, 0].any()


def test_death_follows_stage(cohort: CohortChunk) -> None:
    people = cohort.participants[cohort.participants["respondent_type"] == "patient"]
    died = people.groupby("stage", observed=True)["death_date"].apply(lambda s: s.notna().mean())
    assert died["I"] < died["II"] < died["III"] < died["IV"]
    assert died["IV"] > 0.35 and died["I"] < 0.08
    a = cohort.assessments.merge(people[["participant_id", "death_date"]], on="participant_id")
    dead = a[a["status"] == "dead"]
    assert (dead["death_date"] <= dead["scheduled_date"] + pd.Timedelta(days=21)).all()
    alive = a[a["status"] == "completed"]
    assert (alive["death_date"].isna() | (alive["death_date"] > alive["visit_date"])).all()


def test_dropout_is_informative(cohort: CohortChunk, scored: pd.DataFrame) -> None:
    baseline = scored[scored["timepoint"] == "BL"].set_index("participant_id")["QL2"]
    dropped = cohort.participants.set_index("participant_id")["dropout_date"].notna()
    dropped = dropped[baseline.index]
    gap = baseline[~dropped].mean() - baseline[dropped].mean()
    assert gap > 4, gap
    # At the visit where people drop out, their (unobserved) true QoL is worse than that of
    # people still completing the same visit: missing not at random, by construction.
    truth = cohort.truth.merge(cohort.assessments[["assessment_id", "status"]], on="assessment_id")
    follow = truth[truth["timepoint"].isin(["W12", "W24", "W36"])]
    by_status = follow.groupby("status", observed=True)["QL2"].mean()
    assert by_status["completed"] - by_status["dropped_out"] > 5


def test_completion_falls_over_time_with_deaths_not_counted_as_missing(
        cohort: CohortChunk) -> None:
    a = cohort.assessments
    rates = a.groupby("timepoint", observed=True)["status"].value_counts(normalize=True).unstack()
    assert rates.loc["BL", "completed"] > 0.96
    assert rates["completed"].is_monotonic_decreasing
    assert 0.4 < rates.loc["W96", "completed"] < 0.75
    assert rates.loc["W96", "dead"] > rates.loc["W24", "dead"] > 0


def test_intervention_arm_improves_qol(scored: pd.DataFrame) -> None:
    means = scored.groupby(["timepoint", "arm"], observed=True)["QL2"].mean().unstack()
    assert abs(means.loc["BL", "intervention"] - means.loc["BL", "control"]) < 2
    assert means.loc["W24", "intervention"] - means.loc["W24", "control"] > 2
    # treatment dip: QoL at week 6 is lower than at baseline in the control arm
    assert means.loc["W06", "control"] < means.loc["BL", "control"] - 2


def test_chemotherapy_brings_nausea(scored: pd.DataFrame, cohort: CohortChunk) -> None:
    chemo = cohort.treatments[cohort.treatments["treatment"] == "chemotherapy"]
    on_chemo = scored.merge(chemo[["participant_id", "start_date", "end_date"]],
                            on="participant_id", how="left")
    during = on_chemo["visit_date"].between(on_chemo["start_date"], on_chemo["end_date"])
    assert on_chemo.loc[during, "NV"].mean() > on_chemo.loc[on_chemo["start_date"].isna(),
                                                            "NV"].mean() + 8


def test_phq9_and_gad7_are_plausible(cohort: CohortChunk, scored: pd.DataFrame,
                                     pro_totals: Callable[..., pd.Series]) -> None:
    base_ids = cohort.assessments.loc[cohort.assessments["timepoint"] == "BL", "assessment_id"]
    phq = pro_totals(cohort.answers, "PHQ-9", 9)
    gad = pro_totals(cohort.answers, "GAD-7", 7)
    phq_bl, gad_bl = phq[phq.index.isin(base_ids)], gad[gad.index.isin(base_ids)]
    assert abs(phq_bl.mean() - PHQ9_REFERENCE[0]) < 1.0
    assert abs(gad_bl.mean() - GAD7_REFERENCE[0]) < 1.0
    assert phq.between(0, 27).all() and gad.between(0, 21).all()
    item9 = cohort.answers[(cohort.answers["instrument"] == "PHQ-9")
                           & (cohort.answers["item"] == 9)]["value"]
    assert 0.02 < (item9 > 0).mean() < 0.12
    ef = scored.set_index("assessment_id")["EF"]
    assert phq.corr(ef) < -0.4 and gad.corr(ef) < -0.4 and phq.corr(gad) > 0.5


def test_carers_answer_their_own_questionnaires(cohort: CohortChunk,
                                                pro_totals: Callable[..., pd.Series]) -> None:
    people = cohort.participants
    carers = people[people["respondent_type"] == "carer"]
    answers = cohort.answers[cohort.answers["participant_id"].isin(carers["participant_id"])]
    assert set(answers["instrument"]) == {"PHQ-9", "GAD-7"}
    assert not cohort.treatments["participant_id"].isin(carers["participant_id"]).any()
    assert carers["death_date"].isna().all() and not carers["proxy_completion"].any()
    assert 0.55 < (carers["sex"] == "F").mean() < 0.75
    assert cohort.truth[cohort.truth["participant_id"].isin(carers["participant_id"])][
        "QL2"].isna().all()
    # relatives of stage IV patients are more anxious than those of stage I patients
    gad = pro_totals(cohort.answers, "GAD-7", 7)
    frame = gad.rename("gad").reset_index()
    frame["participant_id"] = frame["assessment_id"] // 100
    frame = frame.merge(carers[["participant_id", "stage"]], on="participant_id")
    by_stage = frame.groupby("stage", observed=True)["gad"].mean()
    assert by_stage["IV"] > by_stage["I"] + 0.5
