"""Adjusted means per arm and time point from a fitted model, and GEE as a sensitivity analysis.

Adjusted means average the model's prediction over the observed subjects' covariates (one row per
subject), with arm and time set to each cell: the "counterfactual" mean that a reader expects in
a figure of scores over time. Standard errors come from the fixed-effect covariance (L β, L V L').
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from workbench.analysis._checks import check_columns, check_groups
from workbench.analysis.longitudinal import MixedModelFit, _check_fixed_design, tidy_name
from workbench.errors import ValidationError

__all__ = ["GeeFit", "adjusted_means", "fit_gee"]

Correlation = Literal["exchangeable", "independence", "ar1", "unstructured"]


def _design(result: Any, frame: pd.DataFrame) -> np.ndarray:
    spec = result.model.data.model_spec
    if hasattr(spec, "get_model_matrix"):  # formulaic
        return np.asarray(spec.get_model_matrix(frame), dtype=float)
    import patsy  # statsmodels' default formula engine

    return np.asarray(patsy.dmatrix(spec, frame, return_type="matrix"), dtype=float)


def adjusted_means(
    fit: MixedModelFit | GeeFit,
    data: pd.DataFrame,
    *,
    time: str,
    arm: str | None = None,
    times: Sequence[Any] | None = None,
    conf: float = 0.95,
) -> pd.DataFrame:
    """Model-based mean score with a ``conf`` CI for each arm × time point.

    ``times`` defaults to the distinct observed values of ``time``. Other covariates keep each
    subject's own values (first row per subject) and predictions are averaged.
    """
    subject = fit.subject
    check_columns(data, [time, arm, subject])
    result = fit.result
    k = len(result.model.exog_names) if isinstance(fit, GeeFit) else len(result.fe_params)
    beta = np.asarray(result.params)[:k]
    cov = np.asarray(result.cov_params())[:k, :k]
    base = data.drop_duplicates(subject)
    grid_times = sorted(pd.unique(data[time].dropna())) if times is None else list(times)
    arms = sorted(pd.unique(data[arm].dropna())) if arm else [None]
    z = stats.norm.ppf(0.5 + conf / 2)
    rows = []
    for a in arms:
        for t in grid_times:
            cell = base.copy()
            cell[time] = t
            if arm:
                cell[arm] = a
            try:
                design = _design(result, cell)
            except Exception as exc:
                raise ValidationError(
                    f"cannot build predictions at {time}={t}: {exc}", where="adjusted means"
                ) from None
            weights = design.mean(axis=0)
            mean = float(weights @ beta)
            se = float(np.sqrt(weights @ cov @ weights))
            rows.append((a, t, mean, se, mean - z * se, mean + z * se))
    out = pd.DataFrame(rows, columns=["arm", "time", "mean", "se", "ci_low", "ci_high"])
    if not np.isfinite(out[["mean", "se"]].to_numpy()).all():
        raise ValidationError("some adjusted means are not estimable; simplify the model")
    return out if arm else out.drop(columns="arm")


@dataclass(frozen=True)
class GeeFit:
    """GEE with robust (sandwich) standard errors; valid only if data are missing completely at
    random, hence a sensitivity analysis next to the likelihood-based mixed model."""

    formula: str
    subject: str
    correlation: str
    fixed: pd.DataFrame
    working_correlation: str
    n_obs: int
    n_subjects: int
    notes: tuple[str, ...]
    result: Any = field(repr=False, compare=False)


def fit_gee(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    correlation: Correlation = "exchangeable",
    visit: str | None = None,
) -> GeeFit:
    """Gaussian GEE of ``formula``; "ar1" and "unstructured" need the ``visit`` column (ordered)."""
    check_columns(data, [subject, visit])
    check_groups(data, subject)
    structures = {
        "exchangeable": sm.cov_struct.Exchangeable, "independence": sm.cov_struct.Independence,
        "ar1": sm.cov_struct.Autoregressive, "unstructured": sm.cov_struct.Unstructured,
    }
    if correlation not in structures:
        raise ValidationError(f"must be one of {', '.join(structures)}", where="correlation")
    kwargs: dict[str, Any] = {}
    frame = data
    if correlation in ("ar1", "unstructured"):
        if visit is None:
            raise ValidationError(f"{correlation} correlation needs the visit column", where="visit")
        codes, _ = pd.factorize(data[visit], sort=True)
        frame = data.assign(_visit=codes)
        kwargs["time"] = frame["_visit"].to_numpy()
    _check_fixed_design(frame, formula)  # a one-level factor or a duplicated term, in plain words
    cov_struct = (sm.cov_struct.Autoregressive(grid=True) if correlation == "ar1"
                  else structures[correlation]())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = smf.gee(formula, groups=frame[subject], data=frame, cov_struct=cov_struct,
                            missing="drop", **kwargs)
            result = model.fit()
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise ValidationError(f"the GEE could not be fitted: {exc}", where="formula") from None
    params, bse = np.asarray(result.params), np.asarray(result.bse)
    if not (np.isfinite(params).all() and np.isfinite(bse).all()):
        raise ValidationError("the GEE gave non-finite estimates; simplify the model", where="formula")
    z = params / bse
    q = stats.norm.ppf(0.975)
    fixed = pd.DataFrame({
        "term": [tidy_name(n) for n in model.exog_names], "estimate": params, "robust_se": bse,
        "z": z, "p": 2 * stats.norm.sf(np.abs(z)), "ci_low": params - q * bse,
        "ci_high": params + q * bse,
    })
    notes = sorted({str(w.message) for w in caught})
    notes.append("GEE is valid only if data are missing completely at random (MCAR);"
                 " use it as a sensitivity analysis next to the mixed model")
    return GeeFit(
        formula=tidy_name(formula), subject=subject, correlation=correlation, fixed=fixed,
        working_correlation=str(cov_struct.summary()), n_obs=int(result.nobs),
        n_subjects=int(model.num_group), notes=tuple(notes), result=result,
    )
