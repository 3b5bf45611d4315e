"""Mixed methods: qualitative codes beside QoL scores (a joint display, Creswell & Plano Clark).

The input is a case × code matrix — one row per interviewed participant, one column per code,
counts of coded passages or 0/1 — as ``workbench.qualitative.mixed_methods_table`` or a QDA
package's case export gives it. For each code the participants whose interviews carry it are
compared with those whose interviews do not: this describes how themes and scores go together in
the interviewed sample; it is not a test of a prespecified hypothesis and says nothing causal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench.analysis._checks import check_columns
from workbench.errors import ValidationError

__all__ = ["code_presence", "code_score_table"]


def _case_matrix(cases: pd.DataFrame, codes: Sequence[str], subject: str) -> pd.DataFrame:
    check_columns(cases, [subject, *codes], what="case × code table")
    if not codes:
        raise ValidationError("name at least one code column", where="codes")
    if cases[subject].isna().any() or cases[subject].duplicated().any():
        raise ValidationError("each interviewed participant needs exactly one row", where=f"column {subject}")
    counts = cases[list(codes)].apply(pd.to_numeric, errors="coerce")
    bad = counts.isna() | (counts < 0)
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise ValidationError("code counts must be 0 or more (blank means not coded: write 0)",
                              where=f"row {row + 1} column {codes[col]}")
    return counts.set_index(cases[subject].astype(str).to_numpy())


def code_presence(cases: pd.DataFrame, codes: Sequence[str], *, subject: str = "participant") -> pd.DataFrame:
    """Long table (participant, code) of the codes present in each participant's interviews."""
    counts = _case_matrix(cases, codes, subject)
    present = counts.gt(0).stack()
    out = present[present].reset_index()
    out.columns = [subject, "code", "_present"]
    return out.drop(columns="_present")


def code_score_table(cases: pd.DataFrame, scores: pd.DataFrame, *, codes: Sequence[str], score: str,
                     subject: str = "participant", conf: float = 0.95) -> pd.DataFrame:
    """Per code: n, mean (SD) of ``score`` among participants with and without it, the difference
    with a Welch CI and p-value. ``scores``: one row per participant (e.g. the baseline score or
    the change at a time point). Interviewed participants without a score are counted, not used."""
    counts = _case_matrix(cases, codes, subject)
    check_columns(scores, [subject, score], what="score table")
    if scores[subject].duplicated().any():
        raise ValidationError("one score per participant is expected (pick one time point first)",
                              where=f"column {subject}")
    values = pd.to_numeric(scores[score], errors="coerce")
    by_subject = pd.Series(values.to_numpy(), index=scores[subject].astype(str).to_numpy())
    y = counts.index.to_series().map(by_subject)
    scored = y.notna()
    if not scored.any():
        raise ValidationError(f"no interviewed participant has a {score} score; check that both tables use"
                              " the same pseudonyms", where=f"column {subject}")
    rows = []
    q = 0.5 + conf / 2
    for code in codes:
        has = counts[code].gt(0) & scored
        without = ~counts[code].gt(0) & scored
        a, b = y[has].to_numpy(float), y[without].to_numpy(float)
        row: dict[str, object] = {"code": code, "n_with": len(a), "n_without": len(b),
                                  "mean_with": a.mean() if len(a) else np.nan,
                                  "sd_with": a.std(ddof=1) if len(a) > 1 else np.nan,
                                  "mean_without": b.mean() if len(b) else np.nan,
                                  "sd_without": b.std(ddof=1) if len(b) > 1 else np.nan}
        if len(a) < 2 or len(b) < 2:
            row.update(difference=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan,
                       note=f"not compared: {len(a)} participant(s) with and {len(b)} without the code"
                            " (at least 2 each are needed)")
        else:
            va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
            diff, se = a.mean() - b.mean(), np.sqrt(va + vb)
            if se == 0:
                row.update(difference=diff, ci_low=diff, ci_high=diff, p=np.nan,
                           note="not tested: every score is identical")
            else:
                dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
                t = stats.t.ppf(q, dof)
                row.update(difference=diff, ci_low=diff - t * se, ci_high=diff + t * se,
                           p=float(2 * stats.t.sf(abs(diff / se), dof)), note="")
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["interviewed"] = len(counts)
    out.attrs["without_score"] = int((~scored).sum())
    return out
