"""Time to deterioration (TTD) and time until definitive deterioration (TUDD) of a PRO score.

Every choice that changes the endpoint is an explicit field of ``DeteriorationRule`` and is
echoed in the result, because published TTD endpoints are rarely comparable when definitions
stay implicit (Cocks et al. 2024). Defaults follow QoLR, the reference implementation: baseline
reference, inclusive 10-point threshold, censoring at the last assessment, day 0 without a
baseline, day 1 without follow-up, months = days / 30.4375.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

from workbench.analysis._checks import check_columns, check_finite, row_label
from workbench.errors import ValidationError

__all__ = ["DAYS_PER_MONTH", "QLQ_C30_WORSE", "DeteriorationRule", "time_to_deterioration"]

DAYS_PER_MONTH = 30.4375
_EPS = 1e-6  # scores like 58.333 − 75 must compare as −16.667, not miss by rounding

# Which way is worse for each QLQ-C30 scale: functional scales and QL2 fall, symptoms rise.
QLQ_C30_WORSE: dict[str, Literal["decrease", "increase"]] = {
    **{s: "decrease" for s in ("QL2", "PF2", "RF2", "EF", "CF", "SF")},
    **{s: "increase" for s in ("FA", "NV", "PA", "DY", "SL", "AP", "CO", "DI", "FI")},
}


@dataclass(frozen=True)
class DeteriorationRule:
    """The full definition of the endpoint; store it in the analysis plan.

    - ``worse``: "decrease" (functional scales, global QoL) or "increase" (symptom scales).
    - ``threshold``: minimal important difference in points; a change of exactly the threshold
      counts (inclusive).
    - ``reference``: "baseline", "best" (best earlier score) or "previous" (score just before).
    - ``definitive``: None for first deterioration (TTD); "def2" = the deterioration persists at
      every later assessment; "def1" = no later score improves by more than the threshold over
      the reference (QoLR's default); "def3" = no later score improves by more than the threshold
      over the deteriorated score itself.
    - ``death_is_event``: death counts as an event (composite "deterioration-free survival"),
      optionally only within ``death_window_days`` of the last assessment.
    - ``no_baseline``: "censored" (at day 0), "event" (at day 0) or "excluded".
    - ``no_follow_up``: "censored" (at day 1) or "event" (at day 1).
    - ``baseline_window_days``: assessments from −window to 0 may serve as baseline (the latest).
    """

    worse: Literal["decrease", "increase"]
    threshold: float = 10.0
    reference: Literal["baseline", "best", "previous"] = "baseline"
    definitive: Literal["def1", "def2", "def3"] | None = None
    death_is_event: bool = False
    death_window_days: float | None = None
    no_baseline: Literal["censored", "event", "excluded"] = "censored"
    no_follow_up: Literal["censored", "event"] = "censored"
    baseline_window_days: float = 0.0

    def __post_init__(self) -> None:
        choices = {
            "worse": ("decrease", "increase"), "reference": ("baseline", "best", "previous"),
            "definitive": (None, "def1", "def2", "def3"),
            "no_baseline": ("censored", "event", "excluded"), "no_follow_up": ("censored", "event"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValidationError(
                    f"must be one of {', '.join(map(str, allowed))}", where=f"rule field {name}"
                )
        if not np.isfinite(self.threshold) or self.threshold <= 0:
            raise ValidationError("threshold must be a positive number of points", where="threshold")
        if self.baseline_window_days < 0:
            raise ValidationError("must be ≥ 0 days", where="baseline_window_days")
        if self.death_window_days is not None and self.death_window_days < 0:
            raise ValidationError("must be ≥ 0 days", where="death_window_days")

    @property
    def label(self) -> str:
        kind = "time until definitive deterioration" if self.definitive else "time to deterioration"
        if self.definitive:
            kind += f" ({self.definitive})"
        if self.death_is_event:
            kind = f"{kind} or death (deterioration-free survival)"
        return kind

    @classmethod
    def for_scale(cls, scale: str, **options: object) -> DeteriorationRule:
        """The rule for a QLQ-C30 scale code (QL2, PF2, ..., FI) with its direction filled in."""
        if scale not in QLQ_C30_WORSE:
            raise ValidationError(
                f"unknown QLQ-C30 scale {scale!r}; give worse='decrease' or 'increase' instead",
                where="scale",
            )
        return cls(worse=QLQ_C30_WORSE[scale], **options)  # type: ignore[arg-type]


def time_to_deterioration(
    scores: pd.DataFrame,
    rule: DeteriorationRule,
    *,
    subject: str = "subject",
    day: str = "day",
    score: str = "score",
    deaths: pd.DataFrame | None = None,
    death_day: str = "death_day",
    keep: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One row per subject: ``days``, ``months``, ``event`` (1/0) and ``reason`` in words.

    ``scores``: long format, one row per assessment, ``day`` counted from the time origin.
    Missing scores (blank) are dropped: a deterioration can only be seen at an observed
    assessment. ``deaths``: one row per subject who died, with ``death_day``. ``keep`` lists
    per-subject columns (e.g. arm, strata) copied to the result.
    """
    check_columns(scores, [subject, day, score, *keep], what="score table")
    days = check_finite(scores, day)
    early = days < -rule.baseline_window_days
    window = f"day −{rule.baseline_window_days:g} to 0" if rule.baseline_window_days else "day 0"
    if early.any():
        raise ValidationError(
            f"assessment before the baseline window ({window});"
            " fix the date or widen baseline_window_days",
            where=row_label(scores, early, day),
        )
    values = pd.to_numeric(scores[score], errors="coerce")
    text = values.isna() & scores[score].notna()
    if text.any():
        raise ValidationError("score must be a number or blank", where=row_label(scores, text, score))
    frame = pd.DataFrame({"s": scores[subject].to_numpy(), "d": days, "y": values.to_numpy()})
    if frame["s"].isna().any():
        raise ValidationError("subject is blank", where=row_label(scores, frame["s"].isna(), subject))
    dup = frame.duplicated(["s", "d"]).to_numpy()
    if dup.any():
        raise ValidationError(
            "two assessments of the same subject on the same day; keep one",
            where=row_label(scores, dup, day),
        )
    died = _death_days(deaths, subject, death_day)
    if not ((frame["d"] <= 0) & frame["y"].notna()).any():
        raise ValidationError(
            f"no subject has a baseline score (a score at {window});"
            " check that days are counted from the time origin, or widen baseline_window_days",
            where=f"column {day}",
        )
    frame = frame.sort_values(["s", "d"], kind="stable")
    rows = []
    for sid, sub in frame.groupby("s", sort=True):
        observed = sub.dropna(subset=["y"])
        death = died.get(sid)
        if death is not None and (observed["d"] > death).any():
            raise ValidationError(
                f"an assessment is dated after death (day {death:g}); check the dates",
                where=f"subject {sid}",
            )
        outcome = _one_subject(observed["d"].to_numpy(), observed["y"].to_numpy(), death, rule)
        if outcome is not None:
            rows.append((sid, *outcome))
    extra_ids = set(died) - set(frame["s"])
    if extra_ids:
        raise ValidationError(
            f"{len(extra_ids)} subject(s) in the death table have no assessments row;"
            " add them to the score table (with blank scores) or drop them",
            where="deaths",
        )
    result = pd.DataFrame(rows, columns=[subject, "days", "event", "reason"])
    result["months"] = result["days"] / DAYS_PER_MONTH
    result = result[[subject, "days", "months", "event", "reason"]]
    if keep:
        first = scores.drop_duplicates(subject).set_index(subject)[list(keep)]
        result = result.join(first, on=subject)
    result.attrs["rule"] = asdict(rule)
    result.attrs["endpoint"] = rule.label
    return result


def _death_days(deaths: pd.DataFrame | None, subject: str, column: str) -> dict[object, float]:
    if deaths is None:
        return {}
    check_columns(deaths, [subject, column], what="death table")
    days = check_finite(deaths, column)
    if (days < 0).any():
        raise ValidationError("death dated before the time origin (negative day); check the dates",
                              where=row_label(deaths, days < 0, column))
    if deaths[subject].duplicated().any():
        raise ValidationError("a subject appears twice in the death table", where="deaths")
    return dict(zip(deaths[subject].to_numpy(), days, strict=True))


def _one_subject(
    d: np.ndarray, y: np.ndarray, death: float | None, rule: DeteriorationRule
) -> tuple[float, int, str] | None:
    base = np.flatnonzero(d <= 0)
    if base.size == 0:
        if rule.no_baseline == "excluded":
            return None
        if rule.no_baseline == "event":
            return 0.0, 1, "no baseline score (counted as event)"
        return 0.0, 0, "no baseline score (censored at day 0)"
    b = int(base[-1])
    follow_d = d[b + 1:]
    death_counts = (
        death is not None and rule.death_is_event
        and (rule.death_window_days is None or death - d[-1] <= rule.death_window_days)
    )
    if follow_d.size == 0:
        if death_counts:
            return float(death), 1, "death without follow-up score"  # type: ignore[arg-type]
        if rule.no_follow_up == "event":
            return 1.0, 1, "no follow-up score (counted as event at day 1)"
        return 1.0, 0, "no follow-up score (censored at day 1)"
    sign = 1.0 if rule.worse == "decrease" else -1.0
    gain = sign * y[b:]  # higher is better on this transformed scale
    for j in range(1, gain.size):
        if rule.reference == "baseline":
            ref = gain[0]
        elif rule.reference == "best":
            ref = gain[:j].max()
        else:
            ref = gain[j - 1]
        if gain[j] - ref > -rule.threshold + _EPS:
            continue
        later = gain[j + 1:]
        if rule.definitive == "def2" and np.any(later - ref > -rule.threshold + _EPS):
            continue
        if rule.definitive == "def1" and np.any(later - ref > rule.threshold + _EPS):
            continue
        if rule.definitive == "def3" and np.any(later - gain[j] > rule.threshold + _EPS):
            continue
        return float(d[b + j]), 1, "deterioration"
    if death_counts:
        return float(death), 1, "death"  # type: ignore[arg-type]
    return float(d[-1]), 0, "censored at last assessment"
