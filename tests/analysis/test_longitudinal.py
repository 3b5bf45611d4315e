"""Mixed models against published lme4 sleepstudy output (research file §8.5), GEE, adjusted
means, and the convergence fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.analysis.conftest import synthetic_trial
from workbench.analysis import adjusted_means, fit_gee, fit_mixed_model, growth_formula
from workbench.errors import ValidationError


def _fixed(fit) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return fit.fixed.set_index("term")


def _variance(fit) -> pd.Series:  # type: ignore[no-untyped-def]
    return fit.variance.set_index("component")["variance"]


def test_random_slope_reml_matches_lme4(sleepstudy: pd.DataFrame) -> None:
    fit = fit_mixed_model(sleepstudy, "Reaction ~ Days", subject="Subject", slope="Days")
    fixed, var = _fixed(fit), _variance(fit)
    assert fixed.loc["Intercept", "estimate"] == pytest.approx(251.405, abs=1e-3)
    assert fixed.loc["Intercept", "se"] == pytest.approx(6.825, abs=1e-3)
    assert fixed.loc["Days", "estimate"] == pytest.approx(10.467, abs=1e-3)
    assert fixed.loc["Days", "se"] == pytest.approx(1.546, abs=1e-3)
    assert var["subject: intercept"] == pytest.approx(612.10, abs=0.05)
    assert var["subject: Days"] == pytest.approx(35.07, abs=0.01)
    assert var["subject: correlation"] == pytest.approx(0.066, abs=1e-3)
    assert var["residual"] == pytest.approx(654.94, abs=0.01)
    assert -2 * fit.log_likelihood == pytest.approx(1743.6, abs=0.05)  # REML criterion
    assert (fit.method, fit.random, fit.converged) == ("REML", "random intercept and slope on Days", True)
    assert (fit.n_obs, fit.n_subjects) == (180, 18)
    assert any("z-based" in n for n in fit.notes)
    assert not any("FALLBACK" in n for n in fit.notes)


def test_ml_and_random_intercept(sleepstudy: pd.DataFrame) -> None:
    ml = fit_mixed_model(sleepstudy, "Reaction ~ Days", subject="Subject", slope="Days", reml=False)
    assert _fixed(ml).loc["Intercept", "se"] == pytest.approx(6.632, abs=1e-3)
    assert _fixed(ml).loc["Days", "se"] == pytest.approx(1.502, abs=1e-3)
    assert ml.log_likelihood == pytest.approx(-875.97, abs=0.01)
    assert np.sqrt(_variance(ml)["subject: Days"]) == pytest.approx(5.717, abs=1e-3)
    ri = fit_mixed_model(sleepstudy, "Reaction ~ Days", subject="Subject")
    assert _fixed(ri).loc["Intercept", "se"] == pytest.approx(9.747, abs=1e-3)
    assert _fixed(ri).loc["Days", "se"] == pytest.approx(0.804, abs=1e-3)
    assert _variance(ri)["subject: intercept"] == pytest.approx(1378.18, abs=0.1)
    assert _variance(ri)["residual"] == pytest.approx(960.46, abs=0.01)


def test_gee_exchangeable(sleepstudy: pd.DataFrame) -> None:
    gee = fit_gee(sleepstudy, "Reaction ~ Days", subject="Subject")
    fixed = gee.fixed.set_index("term")
    assert fixed.loc["Intercept", "robust_se"] == pytest.approx(6.632, abs=1e-3)
    assert fixed.loc["Days", "estimate"] == pytest.approx(10.467, abs=1e-3)
    assert fixed.loc["Days", "robust_se"] == pytest.approx(1.502, abs=1e-3)
    assert "0.571" in gee.working_correlation
    assert any("MCAR" in n for n in gee.notes)
    ar1 = fit_gee(sleepstudy, "Reaction ~ Days", subject="Subject", correlation="ar1", visit="Days")
    assert ar1.correlation == "ar1" and np.isfinite(ar1.fixed["estimate"]).all()
    with pytest.raises(ValidationError, match="needs the visit column"):
        fit_gee(sleepstudy, "Reaction ~ Days", subject="Subject", correlation="unstructured")


def test_adjusted_means_are_linear_combinations(sleepstudy: pd.DataFrame) -> None:
    fit = fit_mixed_model(sleepstudy, "Reaction ~ Days", subject="Subject", slope="Days")
    means = adjusted_means(fit, sleepstudy, time="Days", times=[0, 9]).set_index("time")
    assert means.loc[0, "mean"] == pytest.approx(251.405, abs=1e-3)
    assert means.loc[0, "se"] == pytest.approx(6.825, abs=1e-3)
    assert means.loc[9, "mean"] == pytest.approx(251.405 + 9 * 10.467, abs=0.01)
    assert means.loc[9, "ci_low"] == pytest.approx(means.loc[9, "mean"] - 1.959964 * means.loc[9, "se"])


def test_synthetic_trial_recovers_truth_with_dropout() -> None:
    data = synthetic_trial(n=400, seed=11)
    assert data["score"].isna().sum() > 0  # dropout present
    formula = growth_formula("score", "month", arm="arm")
    fit = fit_mixed_model(data, formula, subject="subject", slope="month")
    fixed = _fixed(fit)
    slope_b = "month:C(arm)[T.B]"
    assert fixed.loc["month", "estimate"] == pytest.approx(-0.8, abs=0.15)
    assert fixed.loc[slope_b, "ci_low"] < 0.4 < fixed.loc[slope_b, "ci_high"]
    assert fixed.loc[slope_b, "p"] < 0.05
    assert any("left out" in n for n in fit.notes)
    means = adjusted_means(fit, data, time="month", arm="arm", times=[0, 24])
    assert means.shape == (4, 6)
    change = means.pivot(index="arm", columns="time", values="mean")
    assert (change[24] - change[0]).loc["B"] - (change[24] - change[0]).loc["A"] == pytest.approx(
        24 * fixed.loc[slope_b, "estimate"])
    gee = fit_gee(data, formula, subject="subject")
    assert gee.fixed.set_index("term").loc["month", "estimate"] == pytest.approx(-0.8, abs=0.2)


def test_failed_fits_fall_back_and_say_so() -> None:
    # Pure noise in 10 subjects: the random slope cannot be estimated; statsmodels warns.
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"y": rng.normal(size=40), "t": np.tile(np.arange(4.0), 10),
                         "g": np.repeat(np.arange(10), 4)})
    fit = fit_mixed_model(data, "y ~ t", subject="g", slope="t")
    assert fit.random == "random intercept only"
    text = " ".join(fit.notes)
    assert "FALLBACK: the random slope was dropped" in text
    assert "random intercept and slope on t with lbfgs" in text
    assert "did not converge" in text or "not positive definite" in text
    assert np.isfinite(fit.fixed[["estimate", "se"]].to_numpy()).all()
    with pytest.raises(ValidationError, match=r"could not be fitted.*Simplify it"):
        fit_mixed_model(data, "y ~ t", subject="g", slope="t", fallback=False)


def test_models_that_cannot_be_fitted(sleepstudy: pd.DataFrame) -> None:
    dup = sleepstudy.assign(Hours=sleepstudy["Days"] * 24)
    with pytest.raises(ValidationError, match="term Hours never varies or is a combination"):
        fit_mixed_model(dup, "Reaction ~ Days + Hours", subject="Subject")
    flat = sleepstudy.assign(Days=0)
    with pytest.raises(ValidationError, match="no subject has scores at two different times"):
        fit_mixed_model(flat, "Reaction ~ 1", subject="Subject", slope="Days")
    one = sleepstudy[sleepstudy.Subject == 308]
    with pytest.raises(ValidationError, match="at least 2 groups"):
        fit_mixed_model(one, "Reaction ~ Days", subject="Subject")
    with pytest.raises(ValidationError, match="formula problem"):
        fit_mixed_model(sleepstudy, "Reaction ~ Dayz", subject="Subject")
    single_arm = sleepstudy.assign(arm="A")
    with pytest.raises(ValidationError, match=r"C\(arm\) has a single level \(A\)"):
        fit_mixed_model(single_arm, growth_formula("Reaction", "Days", arm="arm"), subject="Subject")
    with pytest.raises(ValidationError, match="plain names"):
        growth_formula("QL2 score", "Days")


@pytest.mark.parametrize(("reml", "se_days", "loglik"), [(True, 1.546, -871.814), (False, 1.502, -875.970)])
def test_fast_engine_matches_lme4(sleepstudy: pd.DataFrame, reml: bool, se_days: float,
                                  loglik: float) -> None:
    fit = fit_mixed_model(sleepstudy, "Reaction ~ Days", subject="Subject", slope="Days",
                          reml=reml, engine="fast")
    assert _fixed(fit).loc["Days", "estimate"] == pytest.approx(10.467, abs=1e-3)
    assert _fixed(fit).loc["Days", "se"] == pytest.approx(se_days, abs=1e-3)
    assert fit.log_likelihood == pytest.approx(loglik, abs=1e-3)
    if reml:
        assert _variance(fit)["subject: intercept"] == pytest.approx(612.09, abs=0.05)
        assert _variance(fit)["subject: Days"] == pytest.approx(35.07, abs=0.01)
        assert _variance(fit)["residual"] == pytest.approx(654.94, abs=0.01)
    assert any("engine: vectorised" in n for n in fit.notes)


def test_fast_engine_agrees_with_statsmodels_on_unbalanced_data() -> None:
    data = synthetic_trial(n=300, seed=4)
    data.index = np.repeat(np.arange(300), 6)  # duplicated index labels must not matter
    formula = growth_formula("score", "month", arm="arm")
    slow = fit_mixed_model(data, formula, subject="subject", slope="month")
    fast = fit_mixed_model(data, formula, subject="subject", slope="month", engine="fast")
    assert fast.log_likelihood == pytest.approx(slow.log_likelihood, abs=1e-4)
    np.testing.assert_allclose(fast.fixed["estimate"], slow.fixed["estimate"], rtol=1e-5)
    # statsmodels inverts the full observed Hessian; the fast engine uses σ²(X'V⁻¹X)⁻¹ (lme4).
    np.testing.assert_allclose(fast.fixed["se"], slow.fixed["se"], rtol=5e-3)
    np.testing.assert_allclose(_variance(fast), _variance(slow), rtol=1e-3, atol=1e-3)
    means_fast = adjusted_means(fast, data, time="month", arm="arm", times=[0, 24])
    means_slow = adjusted_means(slow, data, time="month", arm="arm", times=[0, 24])
    np.testing.assert_allclose(means_fast["mean"], means_slow["mean"], rtol=1e-6)
    with pytest.raises(ValidationError, match="engine must be"):
        fit_mixed_model(data, formula, subject="subject", engine="R")  # type: ignore[arg-type]


def test_adjusted_means_and_gee_bad_input(sleepstudy: pd.DataFrame) -> None:
    data = sleepstudy.assign(visit=sleepstudy["Days"].astype(str))
    fit = fit_mixed_model(data, "Reaction ~ C(visit)", subject="Subject")
    means = adjusted_means(fit, data, time="visit", times=["0", "9"])
    assert means["mean"].tolist() == pytest.approx(
        data.groupby("visit")["Reaction"].mean().loc[["0", "9"]].tolist(), abs=1e-6)  # balanced
    with pytest.raises(ValidationError, match="cannot build predictions at visit=10"):
        adjusted_means(fit, data, time="visit", times=["10"])
    with pytest.raises(ValidationError, match="must be one of"):
        fit_gee(data, "Reaction ~ Days", subject="Subject", correlation="toeplitz")  # type: ignore[arg-type]
