"""Statistical disclosure control for outputs leaving the bubble (ACRO / OpenSAFELY style rules).

Pure functions over pandas objects with named thresholds. Researchers' raw data never leaves: the
checks see it inside the bubble and return the table that may be released, with the reasons for
every suppressed cell. Status follows ACRO: ``pass`` (safe as is), ``review`` (made safe by
suppression or rounding: a checker must look), ``fail`` (disclosive and not mitigated).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import ValidationError

__all__ = [
    "ABSOLUTE_MIN_CELL",
    "CheckedTable",
    "DisclosureRules",
    "FileCheck",
    "check_file",
    "check_model",
    "safe_table",
    "secondary_suppression",
]

ABSOLUTE_MIN_CELL = 10  # a project may raise the threshold, never lower it below this
Status = Literal["pass", "review", "fail"]
AGGREGATES = {"count", "sum", "mean", "median", "std"}  # no min/max: they are single people's values
IDENTIFIER_COLUMNS = frozenset({
    "person_id", "patient_id", "participant_id", "pseudonym", "person_source_value", "name",
    "first_name", "last_name", "birth_date", "date_of_birth", "email", "phone", "address", "nir",
    "ben_nir_psa", "postcode", "zip",
})
RELEASABLE_SUFFIXES = frozenset({".csv", ".html", ".json", ".md", ".txt", ".png", ".jpg", ".jpeg", ".pdf"})


@dataclass(frozen=True)
class DisclosureRules:
    min_cell: int = 11
    min_dof: int = 10
    nk_n: int = 2
    nk_k: float = 0.90
    p_ratio: float = 0.10
    zeros_are_disclosive: bool = True
    round_base: int = 0  # 0 = no rounding; 5 for repeated releases
    max_rows: int = 5000
    max_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.min_cell < ABSOLUTE_MIN_CELL:
            raise ValidationError(f"cannot be below {ABSOLUTE_MIN_CELL}", where="minimum cell count")
        if not 0 < self.nk_k <= 1 or self.nk_n < 1 or not 0 <= self.p_ratio < 1:
            raise ValidationError("dominance parameters out of range", where="disclosure rules")


@dataclass
class CheckedTable:
    status: Status
    table: pd.DataFrame  # releasable values, suppressed cells as NaN
    reasons: dict[tuple[Any, Any], list[str]] = field(default_factory=dict)

    @property
    def suppressed(self) -> int:
        return len(self.reasons)

    def summary(self) -> str:
        if self.status == "pass":
            return "pass: no disclosive cell"
        kinds: dict[str, int] = {}
        for why in self.reasons.values():
            for w in why:
                key = w.split(":")[0]
                kinds[key] = kinds.get(key, 0) + 1
        return f"{self.status}: {self.suppressed} cell(s) suppressed (" + ", ".join(
            f"{k} {n}" for k, n in sorted(kinds.items())) + ")"


def _dominance(values: pd.Series, rules: DisclosureRules) -> str | None:
    """nk rule: the n largest contributors hold more than k of the total; p% rule likewise."""
    v = np.sort(np.abs(values.dropna().to_numpy(dtype=float)))[::-1]
    total = v.sum()
    if total <= 0 or v.size == 0:
        return None
    if v[: rules.nk_n].sum() > rules.nk_k * total:
        return f"dominance: top {rules.nk_n} contributors hold > {rules.nk_k:.0%} of the cell"
    if v.size >= 2 and (total - v[0] - v[1]) < rules.p_ratio * v[0]:
        return f"p% rule: others sum to less than {rules.p_ratio:.0%} of the largest contributor"
    return None


def secondary_suppression(counts: pd.DataFrame, primary: pd.DataFrame) -> pd.DataFrame:
    """Suppress more cells until no row or column holds exactly one hidden cell.

    With margins published, a lone hidden cell equals its row (or column) total minus the others:
    hiding the smallest other non-zero cell in that line closes the gap. Repeats until stable.
    """
    hidden = primary.copy()
    values = counts.to_numpy(dtype=float)
    for _ in range(values.size):
        changed = False
        for axis in (1, 0):
            mask = hidden.to_numpy()
            lines = mask.sum(axis=axis)
            for line in np.flatnonzero(lines == 1):
                line_mask = mask[line, :] if axis == 1 else mask[:, line]
                line_vals = values[line, :] if axis == 1 else values[:, line]
                candidates = np.where(~line_mask & (line_vals > 0), line_vals, np.inf)
                if not np.isfinite(candidates).any():
                    candidates = np.where(~line_mask, line_vals, np.inf)
                if not np.isfinite(candidates).any():
                    continue
                j = int(np.argmin(candidates))
                if axis == 1:
                    hidden.iat[line, j] = True
                else:
                    hidden.iat[j, line] = True
                changed = True
                mask = hidden.to_numpy()
        if not changed:
            break
    return hidden


def safe_table(
    data: pd.DataFrame, index: str, columns: str, *, values: str | None = None,
    aggfunc: str = "count", rules: DisclosureRules | None = None,
) -> CheckedTable:
    """A cross-table computed from row-level data, with primary and secondary suppression."""
    rules = rules or DisclosureRules()
    if aggfunc not in AGGREGATES:
        raise ValidationError(f"{aggfunc!r} is not allowed (use one of: {', '.join(sorted(AGGREGATES))})",
                              where="aggregation")
    for col in (index, columns, values):
        if col is not None and col not in data.columns:
            raise ValidationError(f"no column {col!r} in the data", where="table")
        if col is not None and col.lower() in IDENTIFIER_COLUMNS:
            raise ValidationError(f"{col!r} is an identifier and cannot be tabulated", where="table")
    if aggfunc != "count" and values is None:
        raise ValidationError(f"{aggfunc} needs a values column", where="table")
    counts = pd.crosstab(data[index], data[columns])
    if aggfunc == "count":
        table = counts.astype(float)
    else:
        table = data.pivot_table(index=index, columns=columns, values=values, aggfunc=aggfunc,
                                 observed=False).reindex_like(counts).astype(float)
    reasons: dict[tuple[Any, Any], list[str]] = {}
    primary = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    groups = data.groupby([index, columns], observed=True)[values] if values else None
    for r in counts.index:
        for c in counts.columns:
            n = int(counts.at[r, c])
            why = []
            if n == 0 and rules.zeros_are_disclosive:
                why.append("zero: an empty cell reveals that nobody has this combination")
            elif 0 < n < rules.min_cell:
                why.append(f"threshold: {n} < {rules.min_cell} people")
            if groups is not None and aggfunc in {"sum", "mean"} and n > 0:
                dom = _dominance(groups.get_group((r, c)), rules)
                if dom:
                    why.append(dom)
            if why:
                primary.at[r, c] = True
                reasons[(r, c)] = why
    hidden = secondary_suppression(counts, primary)
    for r, c in zip(*np.nonzero(hidden.to_numpy() & ~primary.to_numpy()), strict=True):
        reasons[(counts.index[r], counts.columns[c])] = [
            "secondary: hidden so a suppressed cell cannot be recomputed from the totals"]
    released = table.mask(hidden)
    if rules.round_base and aggfunc == "count":
        released = (released / rules.round_base).round() * rules.round_base
    status: Status = "review" if (reasons or rules.round_base) else "pass"
    return CheckedTable(status, released, reasons)


def check_model(result: Any, rules: DisclosureRules | None = None) -> tuple[Status, str]:
    """A regression may leave only with enough residual degrees of freedom."""
    rules = rules or DisclosureRules()
    dof = getattr(result, "df_resid", None)
    if dof is None:
        return "review", "no residual degrees of freedom reported: a checker must look"
    if float(dof) < rules.min_dof:
        return "fail", f"residual degrees of freedom {float(dof):g} < {rules.min_dof}"
    return "pass", f"residual degrees of freedom {float(dof):g} ≥ {rules.min_dof}"


@dataclass(frozen=True)
class FileCheck:
    status: Status
    problems: list[str]


def check_file(name: str, content: bytes, rules: DisclosureRules | None = None) -> FileCheck:
    """Type, size, row count and identifier columns of a file asked to leave the bubble."""
    rules = rules or DisclosureRules()
    problems: list[str] = []
    suffix = PurePath(name).suffix.lower()
    if suffix not in RELEASABLE_SUFFIXES:
        problems.append(f"file type {suffix or '(none)'} cannot leave the bubble")
    if len(content) > rules.max_bytes:
        problems.append(f"{len(content)} bytes is over the {rules.max_bytes} byte limit")
    if suffix == ".csv":
        try:
            reader = csv.reader(io.StringIO(content.decode("utf-8")))
            header = next(reader, [])
            rows = sum(1 for _ in reader)
        except (UnicodeDecodeError, csv.Error) as exc:
            problems.append(f"unreadable CSV: {exc}")
        else:
            bad = sorted({h.strip().lower() for h in header} & IDENTIFIER_COLUMNS)
            if bad:
                problems.append(f"identifier column(s) {', '.join(bad)} cannot leave the bubble")
            if rows > rules.max_rows:
                problems.append(f"{rows} rows is over the {rules.max_rows} row limit")
    return FileCheck("fail" if problems else "pass", problems)
