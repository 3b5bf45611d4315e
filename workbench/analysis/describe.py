"""Cohort description: the baseline characteristics table, observed means per time point and the
available-data status a warehouse extract supports.

A warehouse extract holds the questionnaires that were *received*; it does not know who was
still expected (deaths, protocol stops). ``received_status`` therefore marks every other
participant × time point as missing and says so: its completion rate equals the available data
rate, and deaths are only separated when a death day is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench.analysis._checks import check_columns
from workbench.errors import ValidationError

__all__ = ["baseline_table", "observed_means", "received_status"]


def _groups(frame: pd.DataFrame, group: str | None) -> list[tuple[str, pd.DataFrame]]:
    if group is None:
        return [("All", frame)]
    blank = frame[group].isna()
    if blank.any():
        raise ValidationError(f"{int(blank.sum())} participant(s) have no {group}; fill it or drop them",
                              where=f"column {group}")
    return [(str(g), part) for g, part in frame.groupby(group, sort=True)] + [("All", frame)]


def baseline_table(people: pd.DataFrame, *, group: str | None = None, subject: str = "participant",
                   categorical: Sequence[str] = (), continuous: Sequence[str] = ()) -> pd.DataFrame:
    """"Table 1": n (%) per level of each categorical variable, mean (SD) and median [IQR] of each
    continuous one, per group and overall. Blanks are counted as "missing", never dropped silently."""
    check_columns(people, [subject, group, *categorical, *continuous], what="participant table")
    first = people.drop_duplicates(subject)
    if len(first) < len(people):
        raise ValidationError("a participant appears on several rows; pass one row per participant",
                              where=f"column {subject}")
    blocks = _groups(first, group)
    rows: list[dict[str, object]] = [{"variable": "participants", "level": "n",
                                      **{g: str(len(part)) for g, part in blocks}}]
    for column in categorical:
        levels = sorted(first[column].dropna().astype(str).unique())
        has_blank = first[column].isna().any()
        for level in [*levels, *(["missing"] if has_blank else [])]:
            row: dict[str, object] = {"variable": column, "level": level}
            for g, part in blocks:
                values = part[column]
                k = int(values.isna().sum()) if level == "missing" else int((values.astype(str) == level).sum())
                row[g] = f"{k} ({100 * k / len(part):.1f}%)" if len(part) else "0"
            rows.append(row)
    for column in continuous:
        for label in ("mean (SD)", "median [IQR]", "missing"):
            row = {"variable": column, "level": label}
            for g, part in blocks:
                values = pd.to_numeric(part[column], errors="coerce")
                text = part[column].notna() & values.isna()
                if text.any():
                    raise ValidationError(f"{column} must be a number", where=f"column {column}")
                v = values.dropna()
                if label == "missing":
                    row[g] = str(int(values.isna().sum()))
                elif v.empty:
                    row[g] = "no data"
                elif label == "mean (SD)":
                    row[g] = f"{v.mean():.1f} ({v.std(ddof=1):.1f})" if len(v) > 1 else f"{v.mean():.1f}"
                else:
                    q1, q2, q3 = np.percentile(v, [25, 50, 75])
                    row[g] = f"{q2:.1f} [{q1:.1f}–{q3:.1f}]"
            rows.append(row)
    return pd.DataFrame(rows)


def observed_means(data: pd.DataFrame, *, score: str, time: str, group: str | None = None,
                   conf: float = 0.95) -> pd.DataFrame:
    """Observed mean score with a t-based CI per (group,) time point — descriptive only: under
    dropout these means describe the survivors, the mixed model's adjusted means do not."""
    check_columns(data, [score, time, group])
    values = pd.to_numeric(data[score], errors="coerce")
    frame = data.assign(_y=values).dropna(subset=["_y"])
    if frame.empty:
        raise ValidationError(f"no {score} values", where=f"column {score}")
    keys = [group, time] if group else [time]
    rows = []
    for key, part in frame.groupby(keys, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        n, mean = len(part), float(part["_y"].mean())
        half = (float(stats.t.ppf(0.5 + conf / 2, n - 1) * part["_y"].std(ddof=1) / np.sqrt(n))
                if n > 1 else np.nan)
        rows.append({**dict(zip(["arm", "time"] if group else ["time"], key, strict=True)),
                     "n": n, "mean": mean, "sd": float(part["_y"].std(ddof=1)) if n > 1 else np.nan,
                     "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows)


def received_status(data: pd.DataFrame, *, score: str, events: Sequence[str], subject: str = "participant",
                    time: str = "event", group: str | None = None,
                    death_event: pd.Series | None = None) -> pd.DataFrame:
    """Every participant × time point as ``received`` (a ``score`` is present) or ``missing``, the
    input of ``compliance_table``. ``death_event`` (indexed by participant) marks time points from
    the participant's death onwards as ``died``."""
    check_columns(data, [subject, time, score, group])
    unknown = sorted(set(data[time].astype(str)) - set(map(str, events)))
    if unknown:
        raise ValidationError(f"time point(s) {', '.join(unknown)} are not in events", where=f"column {time}")
    people = data.drop_duplicates(subject)[[subject, *([group] if group else [])]]
    grid = people.merge(pd.DataFrame({time: list(events)}), how="cross")
    got = data.loc[pd.to_numeric(data[score], errors="coerce").notna(), [subject, time]].astype(str)
    keys = set(zip(got[subject], got[time], strict=True))
    grid["status"] = ["received" if (str(s), str(t)) in keys else "missing"
                      for s, t in zip(grid[subject], grid[time], strict=True)]
    if death_event is not None:
        order = {str(e): i for i, e in enumerate(events)}
        dead_at = grid[subject].map(death_event).map(lambda e: order.get(str(e), np.inf) if pd.notna(e) else np.inf)
        died = (grid[time].astype(str).map(order) >= dead_at) & (grid["status"] == "missing")
        grid.loc[died, "status"] = "died"
    return grid
