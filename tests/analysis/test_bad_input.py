"""Bad input across the toolkit: no baseline, negative times, a group with one level, a model that
cannot be fitted. Each gives a message saying what to change (never a silent NaN result)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from tests.analysis.conftest import synthetic_trial
from workbench.analysis import (
    DeteriorationRule,
    adjusted_means,
    baseline_table,
    code_score_table,
    compare_groups,
    consort_pro_flow,
    cox_model,
    fit_gee,
    fit_mixed_model,
    kaplan_meier,
    logrank_test,
    responders,
    time_to_deterioration,
)
from workbench.errors import ValidationError

TRIAL = synthetic_trial(40, visits=(0, 3, 6, 12), seed=4)
ONE_ARM = TRIAL[TRIAL["arm"] == "A"]
SCORES = TRIAL.rename(columns={"month": "time"})
SURV = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6, 7, 8], "e": [1, 0, 1, 1, 0, 1, 1, 0], "g": list("abababab")})
TTD = pd.DataFrame({"subject": ["X", "X", "Y", "Y"], "day": [0, 30, 0, 30], "score": [60, 40, 50, 50]})
STATUS = pd.DataFrame({"subject": ["a", "a", "b", "b"], "timepoint": ["W6", "W12"] * 2,
                       "status": ["received", "missing", "received", "received"]})
RULE = DeteriorationRule(worse="decrease")
_rng = np.random.default_rng(5)
NOISE = pd.DataFrame({"y": _rng.normal(size=40), "t": np.tile(np.arange(4.0), 10), "g": np.repeat(np.arange(10), 4)})

CASES: dict[str, tuple[Callable[[], object], str]] = {
    # no baseline
    "TTD, nobody has a baseline": (
        lambda: time_to_deterioration(TTD[TTD["day"] > 0], RULE), "no subject has a baseline score"),
    "responders, no baseline time point": (
        lambda: responders(SCORES[SCORES["time"] > 0], worse="decrease", threshold=10, arm="arm"),
        "no baseline scores .*set ``baseline``"),
    "CONSORT-PRO flow, baseline not in the table": (
        lambda: consort_pro_flow(STATUS, baseline="T0"), "baseline time point 'T0'"),
    # negative times
    "Kaplan–Meier, negative time": (
        lambda: kaplan_meier(SURV.assign(t=SURV["t"] - 3), "t", "e"), "row 1 column t .*zero or positive"),
    "log-rank, negative time": (
        lambda: logrank_test(SURV.assign(t=SURV["t"] - 3), "t", "e", "g"), "zero or positive"),
    "Cox, negative time": (
        lambda: cox_model(SURV.assign(t=SURV["t"] - 3), "t", "e", ["g"]), "zero or positive"),
    "TTD, assessment before baseline": (
        lambda: time_to_deterioration(TTD.assign(day=TTD["day"] - 10), RULE),
        r"row 1 column day .*before the baseline window \(day 0\)"),
    "TTD, death before the time origin": (
        lambda: time_to_deterioration(TTD, RULE, deaths=pd.DataFrame({"subject": ["X"], "death_day": [-5]})),
        "row 1 column death_day: death dated before the time origin"),
    "responders, assessment before baseline": (
        lambda: responders(pd.concat([SCORES, SCORES[SCORES["time"] == 0].assign(time=-1)], ignore_index=True),
                           worse="decrease", threshold=10),
        f"row {len(SCORES) + 1} column time .*before the baseline time point"),
    # a group with a single level
    "mixed model, one arm": (
        lambda: fit_mixed_model(ONE_ARM, "score ~ month * C(arm)", subject="subject", slope="month"),
        r"C\(arm\) has a single level \(A\)"),
    "mixed model (fast engine), one arm": (
        lambda: fit_mixed_model(ONE_ARM, "score ~ month * C(arm)", subject="subject", engine="fast"),
        r"C\(arm\) has a single level"),
    "GEE, one arm": (
        lambda: fit_gee(ONE_ARM, "score ~ month * C(arm)", subject="subject"), r"C\(arm\) has a single level"),
    "survival comparison, one group": (
        lambda: compare_groups(SURV.assign(g="a"), "t", "e", "g"), r"at least 2 groups .*has 1 \(a\)"),
    "Cox, constant covariate": (
        lambda: cox_model(SURV.assign(x=1.0), "t", "e", ["x"]), "never varies"),
    "Table 1, blank group": (
        lambda: baseline_table(pd.DataFrame({"participant": ["a", "b"], "arm": ["x", None]}), group="arm"),
        "have no arm"),
    # models that cannot be fitted
    "mixed model, outcome all blank": (
        lambda: fit_mixed_model(TRIAL.assign(score=np.nan), "score ~ month", subject="subject", slope="month"),
        "column score: the outcome has no numeric value"),
    "mixed model, duplicated term": (
        lambda: fit_mixed_model(TRIAL.assign(m2=TRIAL["month"] * 2), "score ~ month + m2", subject="subject"),
        "term m2 never varies or is a combination"),
    "mixed model, random slope on pure noise without fallback": (
        lambda: fit_mixed_model(NOISE, "y ~ t", subject="g", slope="t", fallback=False),
        r"could not be fitted.*Simplify it: drop the random slope"),
    "GEE, duplicated term": (
        lambda: fit_gee(TRIAL.assign(m2=TRIAL["month"] * 2), "score ~ month + m2", subject="subject"),
        "term m2 never varies"),
    "Cox, perfect separation": (
        lambda: cox_model(SURV.assign(e=(SURV["g"] == "a").astype(int)), "t", "e", ["g"]), "could not be estimated"),
    "log-rank, no events": (lambda: logrank_test(SURV.assign(e=0), "t", "e", "g"), "no events"),
    "codes × scores, no shared pseudonym": (
        lambda: code_score_table(pd.DataFrame({"participant": ["a"], "c": [1]}),
                                 pd.DataFrame({"participant": ["z"], "QL2": [50.0]}), codes=["c"], score="QL2"),
        "same pseudonyms"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_says_what_to_change(case: str) -> None:
    call, message = CASES[case]
    with pytest.raises(ValidationError, match=message):
        call()


def test_negative_times_in_a_mixed_model_are_explained_not_refused() -> None:
    """A time axis starting before 0 is a valid model, but the intercept then means something else."""
    fit = fit_mixed_model(TRIAL.assign(month=TRIAL["month"] - 3), "score ~ month * C(arm)",
                          subject="subject", slope="month", engine="fast")
    assert fit.notes[0].startswith("month has negative values (row 1 column month")
    assert "estimates at time 0" in fit.notes[0]
    assert np.isfinite(fit.fixed[["estimate", "se", "p"]].to_numpy()).all()


def test_adjusted_means_are_finite_or_refused() -> None:
    fit = fit_mixed_model(TRIAL, "score ~ month * C(arm)", subject="subject", slope="month", engine="fast")
    means = adjusted_means(fit, TRIAL, time="month", arm="arm")
    assert np.isfinite(means[["mean", "se", "ci_low", "ci_high"]].to_numpy()).all()
    with pytest.raises(ValidationError, match="cannot build predictions"):
        adjusted_means(fit, TRIAL.assign(arm="C"), time="month", arm="arm")
