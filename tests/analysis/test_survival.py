"""Log-rank and Cox (Efron) against published Freireich results and statsmodels' survdiff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import survdiff

from workbench.analysis import compare_groups, cox_model, logrank_test, proportional_hazards_test
from workbench.errors import ValidationError


def test_logrank_freireich(freireich: pd.DataFrame) -> None:
    lr = logrank_test(freireich, "weeks", "relapse", "arm")
    # R survdiff: chi-square 16.8 on 1 df, p = 4.17e-05; observed 9 / 21, expected 19.3 / 10.7.
    assert lr.chi2 == pytest.approx(16.792941, abs=1e-5)
    assert lr.p == pytest.approx(4.1688e-5, rel=1e-4)
    assert lr.df == 1
    table = lr.table.set_index("group")
    assert table.loc["6-MP", "observed"] == 9 and table.loc["placebo", "observed"] == 21
    assert table.loc["6-MP", "expected"] == pytest.approx(19.25, abs=0.01)
    assert table.loc["placebo", "expected"] == pytest.approx(10.75, abs=0.01)
    assert table["observed"].sum() == pytest.approx(table["expected"].sum())


def test_cox_efron_freireich(freireich: pd.DataFrame) -> None:
    comp = compare_groups(freireich, "weeks", "relapse", "arm", reference="placebo")
    row = comp.cox.table.iloc[0]
    # R coxph (Efron): coef −1.5721, se 0.4124, HR 0.2076 (0.0925–0.4659), z −3.81.
    assert row["term"] == "arm = 6-MP"
    assert row["log_hr"] == pytest.approx(-1.5721, abs=1e-4)
    assert row["se"] == pytest.approx(0.4124, abs=1e-4)
    assert row["hr"] == pytest.approx(0.2076, abs=1e-4)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.0925, 0.4659), abs=1e-4)
    assert row["z"] == pytest.approx(-3.81, abs=0.01)
    assert comp.cox.ties == "efron" and comp.cox.events == 30
    assert list(comp.curves) == ["placebo", "6-MP"]


def test_default_reference_is_first_sorted_level(freireich: pd.DataFrame) -> None:
    comp = compare_groups(freireich, "weeks", "relapse", "arm")
    assert comp.reference == "6-MP"
    assert comp.cox.table.iloc[0]["log_hr"] == pytest.approx(1.5721, abs=1e-4)


def _three_groups(seed: int = 3, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], n)
    stratum = rng.choice(["s1", "s2"], n)
    rate = np.select([group == "a", group == "b"], [0.10, 0.14], 0.08) * np.where(stratum == "s1", 1, 1.5)
    t = np.ceil(rng.exponential(1 / rate))  # whole days: many ties
    c = rng.uniform(0, 30, n)
    return pd.DataFrame({"t": np.minimum(t, np.floor(c)), "e": (t <= c).astype(int),
                         "g": group, "s": stratum})


def test_logrank_matches_statsmodels_k_groups_and_strata() -> None:
    df = _three_groups()
    lr = logrank_test(df, "t", "e", "g")
    chi2, p = survdiff(df["t"], df["e"], df["g"])
    assert lr.df == 2
    assert lr.chi2 == pytest.approx(chi2, rel=1e-9) and lr.p == pytest.approx(p, rel=1e-7)
    st = logrank_test(df, "t", "e", "g", strata="s")
    chi2_s, _ = survdiff(df["t"], df["e"], df["g"], strata=df["s"])
    assert st.chi2 == pytest.approx(chi2_s, rel=1e-9) and st.stratified_by == "s"


def test_cox_with_numeric_covariate_and_strata() -> None:
    df = _three_groups(seed=5)
    df["age"] = np.random.default_rng(1).normal(60, 10, len(df))
    fit = cox_model(df, "t", "e", ["g", "age"], strata="s")
    assert fit.table["term"].tolist() == ["g = b", "g = c", "age"]
    assert np.isfinite(fit.table[["hr", "ci_low", "ci_high"]].to_numpy()).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weeks": -1.0}, "zero or positive"),
        ({"relapse": 3}, r"1 \(event\) or 0"),
        ({"arm": None}, "group is blank"),
    ],
)
def test_bad_rows_are_reported(freireich: pd.DataFrame, change: dict, message: str) -> None:
    bad = freireich.copy()
    for col, value in change.items():
        bad[col] = bad[col].astype(object)
        bad.loc[4, col] = value
    with pytest.raises(ValidationError, match=message) as info:
        compare_groups(bad, "weeks", "relapse", "arm")
    assert "row 5" in str(info.value)


def test_single_group_is_refused(freireich: pd.DataFrame) -> None:
    one = freireich[freireich.arm == "placebo"]
    with pytest.raises(ValidationError, match=r"at least 2 groups.*has 1 \(placebo\)"):
        compare_groups(one, "weeks", "relapse", "arm")


def test_no_events_and_perfect_separation(freireich: pd.DataFrame) -> None:
    none = freireich.assign(relapse=0)
    with pytest.raises(ValidationError, match="no events"):
        logrank_test(none, "weeks", "relapse", "arm")
    separated = freireich.assign(relapse=(freireich.arm == "placebo").astype(int))
    with pytest.raises(ValidationError, match="could not be estimated"):
        cox_model(separated, "weeks", "relapse", ["arm"])


def test_unknown_reference(freireich: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="reference group 'control' not found"):
        compare_groups(freireich, "weeks", "relapse", "arm", reference="control")


def _two_arms(seed: int, crossing: bool, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    if crossing:  # Weibull shape 3 against exponential: hazards cross, PH is false
        t = np.where(x == 1, rng.weibull(3.0, n), rng.exponential(1.0, n))
    else:  # constant hazard ratio 2
        t = rng.exponential(1 / np.where(x == 1, 2.0, 1.0))
    c = rng.uniform(0, 3, n)
    return pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "x": x})


def test_proportional_hazards_check_separates_ph_from_crossing_hazards() -> None:
    ph_p = [proportional_hazards_test(cox_model(_two_arms(s, False), "t", "e", ["x"]))["p"][0]
            for s in range(20)]
    crossing_p = [proportional_hazards_test(cox_model(_two_arms(s, True), "t", "e", ["x"]))["p"][0]
                  for s in range(5)]
    assert sum(p < 0.05 for p in ph_p) <= 4  # about 1 in 20 expected under PH
    assert max(crossing_p) < 1e-3
    rank = proportional_hazards_test(cox_model(_two_arms(0, True), "t", "e", ["x"]), transform="rank")
    assert rank["p"][0] < 1e-3 and rank["df"][0] == 1


def test_comparison_carries_ph_check(freireich: pd.DataFrame) -> None:
    comp = compare_groups(freireich, "weeks", "relapse", "arm")
    assert comp.proportional_hazards is not None
    assert comp.proportional_hazards["term"].tolist() == ["arm = placebo"]
    assert 0 < comp.proportional_hazards["p"][0] <= 1


def test_aml_maintenance_trial_matches_r() -> None:
    """Miller (1981) AML maintenance data, as shipped with R's survival package (``aml``).

    R: survdiff chi-square 3.4 (p 0.07), observed/expected 7/10.69 and 11/7.31; coxph (Efron)
    coef 0.9155, HR 2.498, se 0.5119, z 1.788, p 0.0737; survfit medians 31 (18–NA) and
    23 (8–NA).
    """
    maintained, not_maintained = "9 13 13+ 18 23 28+ 31 34 45+ 48 161+", "5 5 8 8 12 16+ 23 27 30 33 43 45"
    rows = [(arm, float(x.rstrip("+")), 0 if x.endswith("+") else 1)
            for arm, text in (("Maintained", maintained), ("Nonmaintained", not_maintained))
            for x in text.split()]
    comp = compare_groups(pd.DataFrame(rows, columns=["x", "time", "status"]), "time", "status", "x")
    assert comp.logrank.chi2 == pytest.approx(3.396, abs=1e-3)
    assert comp.logrank.p == pytest.approx(0.0653, abs=1e-4)
    assert comp.logrank.table["expected"].tolist() == pytest.approx([10.69, 7.31], abs=0.005)
    cox = comp.cox.table.iloc[0]
    assert (cox["log_hr"], cox["hr"], cox["se"]) == pytest.approx((0.9155, 2.498, 0.5119), abs=1e-3)
    assert (cox["z"], cox["p"]) == pytest.approx((1.788, 0.0737), abs=1e-3)
    assert (comp.curves["Maintained"].median, comp.curves["Maintained"].median_ci) == (31, (18, np.inf))
    assert (comp.curves["Nonmaintained"].median, comp.curves["Nonmaintained"].median_ci) == (23, (8, np.inf))
