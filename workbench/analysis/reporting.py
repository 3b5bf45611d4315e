"""SISAQOL compliance rates, CONSORT-PRO participant-flow numbers and responder analyses.

Both SISAQOL rates are always reported together with their absolute n/N: the completion rate
(forms received ÷ patients still expected: alive, on study) and the available data rate (forms
received ÷ patients randomised). Deaths and protocol-planned stops are not missing data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis._checks import check_columns, check_finite, row_label
from workbench.errors import ValidationError

__all__ = ["STATUSES", "assessment_status", "compliance_table", "consort_pro_flow", "responders"]

STATUSES = ("received", "missing", "died", "off_study")


def assessment_status(
    schedule: pd.DataFrame,
    received: pd.DataFrame,
    *,
    subject: str = "subject",
    timepoint: str = "timepoint",
    due_day: str = "due_day",
    death_day: pd.Series | None = None,
    off_study_day: pd.Series | None = None,
) -> pd.DataFrame:
    """Status of every scheduled assessment: received, missing, died (before it was due) or
    off_study (stopped per protocol before it was due). ``death_day`` / ``off_study_day`` are
    Series indexed by subject. A received form always counts as received."""
    check_columns(schedule, [subject, timepoint, due_day], what="schedule")
    check_columns(received, [subject, timepoint], what="received forms")
    due = check_finite(schedule, due_day)
    keys = set(zip(received[subject], received[timepoint], strict=True))
    out = schedule[[subject, timepoint]].copy()
    out["status"] = "missing"
    died = schedule[subject].map(death_day).to_numpy(dtype=float) if death_day is not None else None
    off = schedule[subject].map(off_study_day).to_numpy(dtype=float) if off_study_day is not None else None
    if off is not None:
        out.loc[off <= due, "status"] = "off_study"
    if died is not None:
        out.loc[died <= due, "status"] = "died"
    got = np.array([k in keys for k in zip(schedule[subject], schedule[timepoint], strict=True)])
    out.loc[got, "status"] = "received"
    unknown = keys - set(zip(schedule[subject], schedule[timepoint], strict=True))
    if unknown:
        example = sorted(map(str, unknown))[0]
        raise ValidationError(
            f"{len(unknown)} received form(s) are not in the schedule, e.g. {example}",
            where="received forms",
        )
    return out


def _validated_status(
    status: pd.DataFrame, subject: str, timepoint: str, column: str, arm: str | None
) -> pd.DataFrame:
    check_columns(status, [subject, timepoint, column, arm], what="status table")
    bad = ~status[column].isin(STATUSES).to_numpy()
    if bad.any():
        raise ValidationError(
            f"status must be one of {', '.join(STATUSES)}", where=row_label(status, bad, column)
        )
    dup = status.duplicated([subject, timepoint]).to_numpy()
    if dup.any():
        raise ValidationError("subject listed twice for one time point",
                              where=row_label(status, dup, timepoint))
    counts = status.groupby(timepoint, sort=False)[subject].nunique()
    n = status[subject].nunique()
    short = counts[counts < n]
    if len(short):
        raise ValidationError(
            f"every randomised subject needs a row at every time point; time point {short.index[0]}"
            f" has {short.iloc[0]} of {n}", where="status table",
        )
    return status


def compliance_table(
    status: pd.DataFrame,
    *,
    subject: str = "subject",
    timepoint: str = "timepoint",
    column: str = "status",
    arm: str | None = None,
    order: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """One row per (arm,) time point: randomised, expected, received, completion and available
    data rates with their n/N, and counts of missing, died and off-study. With ``arm`` an "All"
    block is added. Time points keep ``order`` (default: first appearance)."""
    _validated_status(status, subject, timepoint, column, arm)
    order = list(order) if order is not None else list(pd.unique(status[timepoint]))
    blocks = []
    groups = [("All", status)]
    if arm:
        groups = [(str(a), part) for a, part in status.groupby(arm, sort=True)] + groups
    for label, part in groups:
        n = part[subject].nunique()
        counts = pd.crosstab(part[timepoint], part[column]).reindex(
            index=order, columns=list(STATUSES), fill_value=0)
        block = pd.DataFrame({"arm": label, "timepoint": order, "randomised": n})
        for s in STATUSES:
            block[s] = counts[s].to_numpy()
        block["expected"] = block["received"] + block["missing"]
        with np.errstate(divide="ignore", invalid="ignore"):
            block["completion_rate"] = np.where(
                block["expected"] > 0, block["received"] / block["expected"], np.nan)
        block["available_rate"] = block["received"] / n
        block["completion"] = [f"{r}/{e}" for r, e in zip(block["received"], block["expected"], strict=True)]
        block["available"] = [f"{r}/{n}" for r in block["received"]]
        blocks.append(block)
    table = pd.concat(blocks, ignore_index=True)
    return table if arm else table.drop(columns="arm")


def consort_pro_flow(
    status: pd.DataFrame,
    *,
    baseline: Any,
    subject: str = "subject",
    timepoint: str = "timepoint",
    column: str = "status",
    arm: str | None = None,
) -> pd.DataFrame:
    """CONSORT-PRO participant-flow counts (item C13a), one column per arm plus "All"."""
    _validated_status(status, subject, timepoint, column, arm)
    if baseline not in set(status[timepoint]):
        raise ValidationError(f"baseline time point {baseline!r} is not in the table", where=timepoint)
    got = status[column] == "received"
    at_base = got & (status[timepoint] == baseline)
    later = got & (status[timepoint] != baseline)
    per_subject = pd.DataFrame({
        "base": at_base.groupby(status[subject]).any(),
        "follow": later.groupby(status[subject]).any(),
        "died": (status[column] == "died").groupby(status[subject]).any(),
        "off": (status[column] == "off_study").groupby(status[subject]).any(),
    })
    arms = status.drop_duplicates(subject).set_index(subject)[arm] if arm else None
    columns = {}
    parts = [(str(a), per_subject[arms.loc[per_subject.index] == a]) for a in sorted(arms.unique())] if arm else []
    for label, part in [*parts, ("All", per_subject)]:
        columns[label] = {
            "randomised": len(part),
            "PRO at baseline": int(part["base"].sum()),
            "no PRO at baseline": int((~part["base"]).sum()),
            "at least one follow-up PRO": int(part["follow"].sum()),
            "baseline and at least one follow-up PRO": int((part["base"] & part["follow"]).sum()),
            "died during PRO follow-up": int(part["died"].sum()),
            "stopped PRO follow-up per protocol": int(part["off"].sum()),
        }
    return pd.DataFrame(columns)


def responders(
    data: pd.DataFrame,
    *,
    worse: Literal["decrease", "increase"],
    threshold: float,
    improvement_threshold: float | None = None,
    subject: str = "subject",
    time: str = "time",
    score: str = "score",
    arm: str | None = None,
    baseline: Any = 0,
    conf: float = 0.95,
) -> pd.DataFrame:
    """Improved / stable / deteriorated counts against the baseline score, per (arm,) follow-up.

    Change must reach the threshold (inclusive) in the clinically worse or better direction;
    ``improvement_threshold`` may differ (Cocks 2012). Percentages use subjects with both a
    baseline and that follow-up score; Wilson CIs are given for each category.
    """
    if worse not in ("decrease", "increase"):
        raise ValidationError("worse must be 'decrease' or 'increase'", where="worse")
    up = threshold if improvement_threshold is None else improvement_threshold
    if not (threshold > 0 and up > 0):
        raise ValidationError("thresholds must be positive numbers of points", where="threshold")
    check_columns(data, [subject, time, score, arm])
    values = pd.to_numeric(data[score], errors="coerce")
    frame = data.assign(_y=values).dropna(subset=["_y"])
    base = frame[frame[time] == baseline].drop_duplicates(subject).set_index(subject)["_y"]
    if base.empty:
        raise ValidationError(
            f"no baseline scores (time {baseline!r}); set ``baseline`` to the baseline time point",
            where=f"column {time}",
        )
    times = pd.to_numeric(data[time], errors="coerce")
    if isinstance(baseline, int | float) and times.notna().all() and (times < baseline).any():
        raise ValidationError(
            f"assessment before the baseline time point ({baseline!r}); count time from baseline,"
            " drop pre-baseline (screening) rows, or set ``baseline`` to the first time point",
            where=row_label(data, (times < baseline).to_numpy(), time),
        )
    follow = frame[frame[time] != baseline].copy()
    follow["_change"] = (follow["_y"] - follow[subject].map(base)) * (1 if worse == "decrease" else -1)
    follow = follow.dropna(subset=["_change"])
    if follow.empty:
        raise ValidationError("no subject has both a baseline and a follow-up score", where=score)
    eps = 1e-9
    follow["_class"] = np.select(
        [follow["_change"] <= -threshold + eps, follow["_change"] >= up - eps],
        ["deteriorated", "improved"], "stable")
    keys = [arm, time] if arm else [time]
    rows = []
    for key, part in follow.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        n = len(part)
        row = dict(zip(keys, key, strict=True), n=n)
        for c in ("improved", "stable", "deteriorated"):
            k = int((part["_class"] == c).sum())
            lo, hi = proportion_confint(k, n, alpha=1 - conf, method="wilson")
            row.update({c: k, f"{c}_pct": 100 * k / n, f"{c}_ci_low": 100 * lo, f"{c}_ci_high": 100 * hi})
        rows.append(row)
    return pd.DataFrame(rows)
