"""Kaplan–Meier against published R ``survfit`` output for Freireich (research file §8.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from workbench.analysis import kaplan_meier, number_at_risk
from workbench.errors import ValidationError

# t, n at risk, events, S(t), Greenwood SE, 95% CI (log transform): R survfit, 6-MP arm.
SIX_MP_R = [
    (6, 21, 3, 0.8571, 0.0764, 0.720, 1.000),
    (7, 17, 1, 0.8067, 0.0869, 0.653, 0.996),
    (10, 15, 1, 0.7529, 0.0963, 0.586, 0.968),
    (13, 12, 1, 0.6902, 0.1068, 0.510, 0.935),
    (16, 11, 1, 0.6275, 0.1141, 0.439, 0.896),
    (22, 7, 1, 0.5378, 0.1282, 0.337, 0.858),
    (23, 6, 1, 0.4482, 0.1346, 0.249, 0.807),
]
PLACEBO_S = {1: 0.9048, 2: 0.8095, 3: 0.7619, 4: 0.6667, 5: 0.5714, 8: 0.3810, 11: 0.2857,
             12: 0.1905, 15: 0.1429, 17: 0.0952, 22: 0.0476, 23: 0.0}


def test_six_mp_matches_r_survfit(freireich: pd.DataFrame) -> None:
    km = kaplan_meier(freireich[freireich.arm == "6-MP"], "weeks", "relapse")
    got = km.event_rows()
    expected = pd.DataFrame(SIX_MP_R, columns=["time", "n_at_risk", "events", "survival", "se",
                                               "ci_low", "ci_high"])
    assert got["time"].tolist() == expected["time"].tolist()
    assert got["n_at_risk"].tolist() == expected["n_at_risk"].tolist()
    assert got["events"].tolist() == expected["events"].tolist()
    for col, tol in (("survival", 5e-5), ("se", 5e-5), ("ci_low", 5e-4), ("ci_high", 5e-4)):
        np.testing.assert_allclose(got[col], expected[col], atol=tol, err_msg=col)
    assert (km.n, km.events) == (21, 9)
    assert km.median == 23
    assert km.median_ci == (16, float("inf"))  # R: lower 16, upper NA


def test_placebo_curve_median_and_zero_tail(freireich: pd.DataFrame) -> None:
    km = kaplan_meier(freireich[freireich.arm == "placebo"], "weeks", "relapse")
    np.testing.assert_allclose(km.at(list(PLACEBO_S)), list(PLACEBO_S.values()), atol=5e-5)
    assert km.median == 8 and km.median_ci == (4, 12)  # R: 8 (4–12)
    last = km.table.iloc[-1]
    assert last["survival"] == 0 and np.isnan(last["ci_low"])  # undefined, as R's NA


def test_matches_statsmodels_on_random_data() -> None:
    rng = np.random.default_rng(7)
    t = np.round(rng.exponential(10, 500), 1)  # rounding creates ties
    e = (rng.random(500) < 0.7).astype(int)
    km = kaplan_meier(pd.DataFrame({"t": t, "e": e}), "t", "e")
    sm = SurvfuncRight(t, e)
    rows = km.event_rows()
    np.testing.assert_allclose(rows["time"], sm.surv_times)
    np.testing.assert_allclose(rows["survival"], sm.surv_prob, rtol=1e-12)
    finite = np.isfinite(rows["se"].to_numpy())
    np.testing.assert_allclose(rows["se"].to_numpy()[finite], sm.surv_prob_se[finite], rtol=1e-10)
    np.testing.assert_array_equal(rows["n_at_risk"], sm.n_risk)


def test_median_on_exact_half_is_midpoint() -> None:
    # S drops to exactly 0.5 at t=2 and stays there until t=5: R reports (2+5)/2.
    data = pd.DataFrame({"t": [1, 2, 5, 6], "e": [0, 1, 1, 1]})
    km = kaplan_meier(pd.DataFrame({"t": [2, 5], "e": [1, 1]}), "t", "e")
    assert km.median == 3.5
    assert kaplan_meier(data, "t", "e").median == 5  # 2/3 → 1/3: first time ≤ 0.5


def test_log_log_band(freireich: pd.DataFrame) -> None:
    six = freireich[freireich.arm == "6-MP"]
    km = kaplan_meier(six, "weeks", "relapse", transform="log-log")
    first = km.event_rows().iloc[0]
    # R survfit(conf.type = "log-log") at t = 6: 0.620 to 0.952.
    assert first["ci_low"] == pytest.approx(0.620, abs=5e-4)
    assert first["ci_high"] == pytest.approx(0.952, abs=5e-4)
    both = kaplan_meier(freireich, "weeks", "relapse", transform="log-log", conf=0.9).table.dropna()
    assert ((both["ci_low"] <= both["survival"]) & (both["survival"] <= both["ci_high"])).all()
    assert ((both["ci_low"] >= 0) & (both["ci_high"] <= 1)).all()


def test_number_at_risk(freireich: pd.DataFrame) -> None:
    six = freireich[freireich.arm == "6-MP"]["weeks"].to_numpy()
    assert number_at_risk(six, [0, 10, 20, 30, 40]).tolist() == [21, 15, 8, 4, 0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"t": [1.0, -2.0], "e": [1, 0]}), "row 2 column t"),
        (pd.DataFrame({"t": [1.0, None], "e": [1, 0]}), "must be a number"),
        (pd.DataFrame({"t": [1.0, 2.0], "e": [1, 2]}), "1 (event) or 0 (censored)"),
        (pd.DataFrame({"t": [1.0, "x"], "e": [1, 0]}), "row 2 column t"),
        (pd.DataFrame({"t": [], "e": []}), "no rows"),
    ],
)
def test_bad_input_says_what_to_fix(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kaplan_meier(frame, "t", "e")


def test_missing_column_and_bad_options(freireich: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match=r"column.*time.*not found"):
        kaplan_meier(freireich, "time", "relapse")
    with pytest.raises(ValidationError, match="transform"):
        kaplan_meier(freireich, "weeks", "relapse", transform="arcsine")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="confidence"):
        kaplan_meier(freireich, "weeks", "relapse", conf=95)
