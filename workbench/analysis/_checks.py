"""Input checks shared by the analysis functions.

Every check raises a ``ValidationError`` that names the column and the first offending row, so a
researcher can fix the data instead of getting a NaN result or a traceback from deep in scipy.
Row numbers are 1-based data rows (as a spreadsheet shows them, minus the header line).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from workbench.errors import ValidationError

__all__ = [
    "check_binary",
    "check_columns",
    "check_finite",
    "check_groups",
    "check_non_negative",
    "row_label",
]


def row_label(frame: pd.DataFrame, mask: np.ndarray | pd.Series, column: str) -> str:
    """'row 12 column q3' for the first row where ``mask`` is true (positions, not index labels)."""
    positions = np.flatnonzero(np.asarray(mask))
    first = int(positions[0]) + 1 if positions.size else 0
    extra = f" (and {positions.size - 1} more)" if positions.size > 1 else ""
    return f"row {first} column {column}{extra}"


def check_columns(frame: pd.DataFrame, columns: Iterable[str | None], *, what: str = "data") -> None:
    """Each named column exists; an empty table is refused too."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"expected a table (pandas DataFrame), got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns[:12]))
        raise ValidationError(
            f"column(s) {', '.join(missing)} not found; the {what} has: {have}"
        )
    if frame.empty:
        raise ValidationError(f"the {what} has no rows")


def check_finite(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The column as float64, refusing text, blanks and infinities with the first bad row."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValidationError(
            "must be a number (blank, text or infinite values found); remove or fill these rows",
            where=row_label(frame, bad, column),
        )
    return values


def check_non_negative(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Times measured from the origin: finite and ≥ 0."""
    values = check_finite(frame, column)
    negative = values < 0
    if negative.any():
        raise ValidationError(
            "times must be zero or positive (measured from the time origin, e.g. randomisation);"
            " check the date arithmetic for these rows",
            where=row_label(frame, negative, column),
        )
    return values


def check_binary(frame: pd.DataFrame, column: str) -> np.ndarray:
    """An event indicator coded 1 = event, 0 = censored (True/False accepted)."""
    raw = frame[column]
    if raw.dtype == bool:
        return raw.to_numpy(dtype=np.int8)
    values = check_finite(frame, column)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise ValidationError(
            "event indicator must be 1 (event) or 0 (censored)", where=row_label(frame, bad, column)
        )
    return values.astype(np.int8)


def check_groups(frame: pd.DataFrame, column: str, *, minimum: int = 2) -> pd.Series:
    """A grouping column with no blanks and at least ``minimum`` distinct levels."""
    values = frame[column]
    blank = values.isna().to_numpy()
    if blank.any():
        raise ValidationError(
            "group is blank; give every row a group or drop these rows",
            where=row_label(frame, blank, column),
        )
    levels = pd.unique(values)
    if len(levels) < minimum:
        only = ", ".join(map(str, levels))
        raise ValidationError(
            f"needs at least {minimum} groups to compare but has {len(levels)} ({only});"
            " choose another column or compare against a different population",
            where=f"column {column}",
        )
    return values
