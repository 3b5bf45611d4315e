"""Group comparisons of time-to-event data: log-rank test and Cox model (Efron ties).

The log-rank test is computed here (vectorised, k groups, optional strata) so it also returns
observed and expected counts, which statsmodels' ``survdiff`` does not. The Cox model is
statsmodels' ``PHReg`` with ``ties="efron"`` — its default is Breslow, which does not match R or
SAS, so the ties method is always explicit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from workbench.analysis._checks import (
    check_binary,
    check_columns,
    check_groups,
    check_non_negative,
)
from workbench.analysis.kaplan_meier import KaplanMeier, km_arrays
from workbench.errors import ValidationError

__all__ = [
    "CoxModel", "LogRank", "SurvivalComparison", "compare_groups", "cox_model", "logrank_test",
    "proportional_hazards_test",
]


@dataclass(frozen=True)
class LogRank:
    """Log-rank chi-square on ``df`` degrees of freedom; ``table``: n, observed, expected per group."""

    chi2: float
    df: int
    p: float
    table: pd.DataFrame
    stratified_by: str | None = None


@dataclass(frozen=True)
class CoxModel:
    """Hazard ratios with Wald 95% CIs; ``table`` has one row per model term."""

    table: pd.DataFrame
    ties: str
    n: int
    events: int
    log_likelihood: float
    notes: tuple[str, ...] = ()
    result: Any = field(default=None, repr=False, compare=False)
    times: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class SurvivalComparison:
    curves: dict[str, KaplanMeier]
    logrank: LogRank
    cox: CoxModel
    reference: str
    notes: tuple[str, ...] = field(default=())
    proportional_hazards: pd.DataFrame | None = field(default=None, repr=False)


def _survival_columns(
    data: pd.DataFrame, time: str, event: str, group: str | None
) -> tuple[np.ndarray, np.ndarray]:
    check_columns(data, [time, event, group])
    t = check_non_negative(data, time)
    e = check_binary(data, event)
    if group is not None:
        check_groups(data, group)
    return t, e


def logrank_test(
    data: pd.DataFrame, time: str, event: str, group: str, *, strata: str | None = None
) -> LogRank:
    """k-sample log-rank test (Mantel–Haenszel weights), stratified if ``strata`` is given."""
    t, e = _survival_columns(data, time, event, group)
    codes, levels = pd.factorize(data[group], sort=True)
    k = len(levels)
    if strata is not None:
        check_columns(data, [strata])
        strata_codes, _ = pd.factorize(data[strata])
        if (strata_codes < 0).any():
            raise ValidationError("stratum is blank", where=f"column {strata}")
    else:
        strata_codes = np.zeros(t.size, dtype=np.int64)
    observed, expected = np.zeros(k), np.zeros(k)
    variance = np.zeros((k, k))
    for s in np.unique(strata_codes):
        sel = strata_codes == s
        o, ex, v = _logrank_stratum(t[sel], e[sel], codes[sel], k)
        observed += o
        expected += ex
        variance += v
    if observed.sum() == 0:
        raise ValidationError(
            "no events at all, so the groups cannot be compared; check the event column coding",
            where=f"column {event}",
        )
    diff = (observed - expected)[:-1]
    v = variance[:-1, :-1]
    try:
        chi2 = float(diff @ np.linalg.solve(v, diff))
    except np.linalg.LinAlgError:
        chi2 = float(diff @ np.linalg.pinv(v) @ diff)
    table = pd.DataFrame({
        "group": [str(x) for x in levels],
        "n": np.bincount(codes, minlength=k),
        "observed": observed, "expected": expected,
    })
    return LogRank(chi2, k - 1, float(stats.chi2.sf(chi2, k - 1)), table, strata)


def _logrank_stratum(
    t: np.ndarray, e: np.ndarray, codes: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    event_times = np.unique(t[e == 1])
    if event_times.size == 0:
        return np.zeros(k), np.zeros(k), np.zeros((k, k))
    n_g = np.empty((k, event_times.size))
    d_g = np.empty((k, event_times.size))
    for g in range(k):
        tg = np.sort(t[codes == g])
        n_g[g] = tg.size - np.searchsorted(tg, event_times, side="left")
        te = t[(codes == g) & (e == 1)]
        d_g[g] = np.bincount(np.searchsorted(event_times, te), minlength=event_times.size)
    n, d = n_g.sum(axis=0), d_g.sum(axis=0)
    share = n_g / n
    expected = (d * share).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    variance = np.einsum("j,gj->g", w, share)[:, None] * np.eye(k) - np.einsum(
        "j,gj,hj->gh", w, share, share
    )
    return d_g.sum(axis=1), expected, variance


def cox_model(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: Sequence[str],
    *,
    strata: str | None = None,
    categorical: Sequence[str] = (),
) -> CoxModel:
    """Cox proportional-hazards model with Efron ties; ``categorical`` columns get dummy terms.

    Reference levels are the first in sorted order. Raises a ``ValidationError`` when the model
    cannot be estimated (no events, a covariate that never varies, separation).
    """
    if not covariates:
        raise ValidationError("give at least one covariate for the Cox model", where="covariates")
    t, e = _survival_columns(data, time, event, None)
    check_columns(data, [*covariates, strata])
    if e.sum() == 0:
        raise ValidationError("no events: a hazard ratio cannot be estimated", where=f"column {event}")
    frame = pd.DataFrame({"_time": t, "_event": e})
    terms = []
    for i, col in enumerate(covariates):
        name = f"x{i}"
        if col in categorical or not pd.api.types.is_numeric_dtype(data[col]):
            check_groups(data, col)
            frame[name] = _as_categories(data[col])
            terms.append(f"C({name})")
        else:
            frame[name] = data[col].to_numpy(dtype=float)
            if np.nanstd(frame[name]) == 0:
                raise ValidationError("covariate never varies; drop it", where=f"column {col}")
            terms.append(name)
    if frame.isna().any().any():
        raise ValidationError("covariates have blanks; fill or drop those rows first")
    kwargs = {}
    if strata is not None:
        kwargs["strata"] = data[strata].astype(str).to_numpy()
    model = smf.phreg("_time ~ " + " + ".join(terms), frame, status=frame["_event"].to_numpy(),
                      ties="efron", **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit()
    notes = tuple(sorted({str(w.message) for w in caught}))
    params, bse = np.asarray(result.params), np.asarray(result.bse)
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse))) or np.any(np.abs(params) > 20):
        raise ValidationError(
            "the Cox model could not be estimated (a group with no events, or a covariate that"
            " predicts the outcome perfectly); merge sparse groups or drop the covariate"
        )
    z = params / bse
    names = [_pretty(n, covariates) for n in model.exog_names]
    q = stats.norm.ppf(0.975)
    table = pd.DataFrame({
        "term": names, "log_hr": params, "se": bse, "hr": np.exp(params),
        "ci_low": np.exp(params - q * bse), "ci_high": np.exp(params + q * bse),
        "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
    })
    return CoxModel(table, "efron", int(t.size), int(e.sum()), float(result.llf), notes, result, t)


def proportional_hazards_test(cox: CoxModel, *, transform: str = "km") -> pd.DataFrame:
    """Grambsch–Therneau check of proportional hazards, one row per term.

    Scaled Schoenfeld residuals r* = β̂ + d·V·r are tested for a trend against g(t) — 1 − KM(t)
    ("km") or the rank of event times ("rank") — with T = (Σ(g−ḡ)r*)² / (d·V_jj·Σ(g−ḡ)²) on
    1 df (the individual tests of the original paper, as in R's cox.zph before survival 3.0).
    A small p-value means the hazard ratio changes over time: report it, do not ignore it.
    """
    if cox.result is None or cox.times is None:
        raise ValidationError("this Cox result carries no residuals; refit it with cox_model")
    if transform not in ("km", "rank"):
        raise ValidationError("transform must be 'km' or 'rank'", where="transform")
    resid = np.asarray(cox.result.schoenfeld_residuals, dtype=float)
    rows = ~np.isnan(resid).any(axis=1)
    resid, times = resid[rows], cox.times[rows]
    d = resid.shape[0]
    if d < 3:
        raise ValidationError("fewer than 3 events: proportional hazards cannot be checked")
    cov = np.asarray(cox.result.cov_params())
    scaled = np.asarray(cox.result.params) + d * resid @ cov
    if transform == "rank":
        g = stats.rankdata(times)
    else:
        status = np.zeros(cox.times.size)
        status[rows] = 1
        curve = km_arrays(cox.times, status.astype(np.int8))
        g = 1 - curve.at(times)
    g = g - g.mean()
    if not np.any(g):
        raise ValidationError("all events happen at the same time: nothing to test")
    stat = (g @ scaled) ** 2 / (d * np.diag(cov) * (g @ g))
    return pd.DataFrame({"term": cox.table["term"], "chi2": stat, "df": 1,
                         "p": stats.chi2.sf(stat, 1)})


def _as_categories(values: pd.Series) -> pd.Categorical:
    """Text categories; an explicit categorical order (first = reference) is kept."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Categorical(values.astype(str), categories=[str(c) for c in values.cat.categories])
    return pd.Categorical(values.astype(str), categories=sorted(pd.unique(values.astype(str))))


def _pretty(name: str, covariates: Sequence[str]) -> str:
    """'C(x0)[T.B]' → 'arm = B'; 'x1' → 'age'."""
    for i, col in enumerate(covariates):
        if name == f"x{i}":
            return col
        prefix = f"C(x{i})[T."
        if name.startswith(prefix):
            return f"{col} = {name[len(prefix):-1]}"
    return name


def compare_groups(
    data: pd.DataFrame,
    time: str,
    event: str,
    group: str,
    *,
    strata: str | None = None,
    conf: float = 0.95,
    transform: str = "log",
    reference: str | None = None,
) -> SurvivalComparison:
    """KM curve per group, log-rank test and Cox hazard ratios against ``reference``.

    The reference group defaults to the first level in sorted order.
    """
    t, e = _survival_columns(data, time, event, group)
    labels = data[group].astype(str).to_numpy()
    levels = sorted(pd.unique(labels))
    if reference is not None:
        if reference not in levels:
            raise ValidationError(
                f"reference group {reference!r} not found; groups are {', '.join(levels)}",
                where=f"column {group}",
            )
        levels.remove(reference)
        levels.insert(0, reference)
    curves = {
        level: km_arrays(t[labels == level], e[labels == level], conf=conf, transform=transform)  # type: ignore[arg-type]
        for level in levels
    }
    notes = []
    for level, curve in curves.items():
        if curve.events == 0:
            notes.append(f"group {level} has no events")
    lr = logrank_test(data, time, event, group, strata=strata)
    relabelled = data.assign(**{group: pd.Categorical(labels, categories=levels)})
    cox = cox_model(relabelled, time, event, [group], strata=strata, categorical=[group])
    try:
        ph = proportional_hazards_test(cox)
    except ValidationError as exc:
        ph = None
        notes.append(f"proportional hazards not checked: {exc}")
    return SurvivalComparison(curves, lr, cox, levels[0], tuple(notes), ph)
