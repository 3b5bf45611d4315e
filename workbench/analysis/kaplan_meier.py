"""Kaplan–Meier estimates with pointwise confidence intervals and median survival.

Written with numpy rather than statsmodels' ``SurvfuncRight`` because we need R-compatible
pointwise intervals (statsmodels has none), the Brookmeyer–Crowley median interval that R prints,
and it must stay fast on a million rows. The transform of every interval is stated in the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from workbench.analysis._checks import check_binary, check_columns, check_non_negative
from workbench.errors import ValidationError

__all__ = ["KaplanMeier", "kaplan_meier", "number_at_risk"]

Transform = Literal["log", "log-log", "plain"]
_TIE = 1e-12


@dataclass(frozen=True)
class KaplanMeier:
    """One survival curve. ``table`` has one row per distinct time (events or censorings).

    ``se`` is Greenwood's standard error of S(t). Where S(t) reaches 0 the standard error and
    the log-based interval are undefined; they are NaN there, as R prints NA.
    """

    table: pd.DataFrame
    n: int
    events: int
    median: float
    median_ci: tuple[float, float]
    conf: float
    transform: str

    def at(self, times: np.ndarray | list[float]) -> np.ndarray:
        """S(t) at arbitrary times (right-continuous step function; 1 before the first time)."""
        idx = np.searchsorted(self.table["time"].to_numpy(), np.asarray(times, float), "right")
        surv = np.concatenate([[1.0], self.table["survival"].to_numpy()])
        return surv[idx]

    def event_rows(self) -> pd.DataFrame:
        """Only the times with at least one event, as R's ``summary(survfit)`` prints them."""
        return self.table[self.table["events"] > 0].reset_index(drop=True)


def kaplan_meier(
    data: pd.DataFrame, time: str, event: str, *, conf: float = 0.95, transform: Transform = "log"
) -> KaplanMeier:
    """Kaplan–Meier curve of ``time`` (≥ 0) with ``event`` 1 = event, 0 = censored.

    ``transform`` is the scale of the pointwise interval: "log" (R's default), "log-log" (SAS's
    default) or "plain". The median's interval uses the same bands (Brookmeyer–Crowley).
    """
    check_columns(data, [time, event])
    t = check_non_negative(data, time)
    e = check_binary(data, event)
    return km_arrays(t, e, conf=conf, transform=transform)


def km_arrays(
    t: np.ndarray, e: np.ndarray, *, conf: float = 0.95, transform: Transform = "log"
) -> KaplanMeier:
    """Kaplan–Meier on already validated arrays (used by the group comparisons)."""
    if not 0.5 < conf < 1:
        raise ValidationError("confidence level must be between 0.5 and 1, e.g. 0.95", where="conf")
    if transform not in ("log", "log-log", "plain"):
        raise ValidationError("transform must be log, log-log or plain", where="transform")
    if t.size == 0:
        raise ValidationError("no rows to estimate a survival curve from")
    times, inverse = np.unique(t, return_inverse=True)  # one sort; counts by bincount
    counts = np.bincount(inverse, minlength=times.size)
    deaths = np.bincount(inverse, weights=e, minlength=times.size).astype(np.int64)
    at_risk = t.size - np.cumsum(counts) + counts
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - deaths / at_risk)
        green = np.cumsum(np.where(deaths > 0, deaths / (at_risk * (at_risk - deaths)), 0.0))
        se = surv * np.sqrt(green)
    dead = surv <= 0
    se[dead] = np.nan
    z = stats.norm.ppf(0.5 + conf / 2)
    lo, hi = _bands(surv, green, z, transform)
    table = pd.DataFrame({
        "time": times, "n_at_risk": at_risk, "events": deaths, "censored": counts - deaths,
        "survival": surv, "se": se, "ci_low": lo, "ci_high": hi,
    })
    median = _quantile(times, surv, 0.5)
    # Where S(t) is 0 the bands are undefined (NaN) and never count as crossing 0.5, as in R.
    median_ci = (_quantile(times, lo, 0.5), _quantile(times, hi, 0.5))
    return KaplanMeier(table, int(t.size), int(deaths.sum()), median, median_ci, conf, transform)


def _bands(
    surv: np.ndarray, green: np.ndarray, z: float, transform: str
) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(green)
        if transform == "log":
            lo, hi = surv * np.exp(-z * sd), surv * np.exp(z * sd)
        elif transform == "log-log":
            # SE of log(-log S) is sd/|log S|; S**exp(±a) keeps the band inside (0, 1), and a
            # larger exponent gives the lower limit since S < 1.
            a = z * sd / np.abs(np.log(surv))
            lo, hi = surv ** np.exp(a), surv ** np.exp(-a)
            at_one = surv >= 1.0
            lo[at_one], hi[at_one] = 1.0, 1.0
        else:
            lo, hi = surv - z * surv * sd, surv + z * surv * sd
    lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
    dead = surv <= 0
    lo[dead], hi[dead] = np.nan, np.nan
    return lo, hi


def _quantile(times: np.ndarray, curve: np.ndarray, p: float) -> float:
    """First time the step curve falls to ≤ 1 − ``p`` (to ≤ 0.5 for the median).

    As in R, when the curve sits exactly on 0.5 the median is the midpoint between that time and
    the next time the curve drops. ``inf`` means "not reached" (the curve never gets there).
    """
    target = 1.0 - p
    below = np.flatnonzero(curve <= target + _TIE)
    if below.size == 0:
        return float("inf")
    i = int(below[0])
    if abs(curve[i] - target) <= _TIE:
        later = np.flatnonzero(curve[i + 1:] < curve[i] - _TIE)
        if later.size:
            return float((times[i] + times[i + 1 + later[0]]) / 2)
    return float(times[i])


def number_at_risk(data_times: np.ndarray, at: np.ndarray | list[float]) -> np.ndarray:
    """How many subjects are still at risk (time ≥ t) at each of the times ``at``."""
    ts = np.sort(np.asarray(data_times, float))
    return ts.size - np.searchsorted(ts, np.asarray(at, float), side="left")
