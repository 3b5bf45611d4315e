"""`weshare agreement IN.csv --statistic cohen|fleiss|krippendorff [--level …]`.

Long data, one rating per row: columns unit, coder, value (an empty value is a missing rating).
Rows are numbered as in a spreadsheet (header = row 1) in every error message.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.cli._common import add_command
from workbench.errors import ValidationError
from workbench.qualitative.agreement import (
    LEVELS,
    cohen_kappa,
    fleiss_kappa_from_counts,
    interpret,
    krippendorff_alpha_from_matrix,
    reliability_matrix,
)

__all__ = ["read_long_csv", "register", "run"]

COLUMNS = ("unit", "coder", "value")


def read_long_csv(path: Path) -> pd.DataFrame:
    """Read and check the file; the frame's index is the spreadsheet row number."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationError(f"cannot read the file ({exc.strerror})", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text (byte {exc.start})", where=path.name) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise ValidationError("the file is empty", where=path.name)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValidationError(f"missing column(s) {', '.join(missing)}; expected unit, coder, value",
                              where=f"{path.name} row 1")
    pos = {c: header.index(c) for c in COLUMNS}
    records, index = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ValidationError(f"{len(row)} cells where the header has {len(header)}",
                                  where=f"{path.name} row {number}")
        record = {c: row[pos[c]].strip() for c in COLUMNS}
        for column in ("unit", "coder"):
            if not record[column]:
                raise ValidationError("is empty", where=f"{path.name} row {number} column {column}")
        records.append({**record, "value": record["value"] or None})
        index.append(number)
    if not records:
        raise ValidationError("no ratings after the header", where=path.name)
    frame = pd.DataFrame(records, index=pd.Index(index, name="row"))
    dup = frame.duplicated(subset=["unit", "coder"])
    if dup.any():
        number = int(frame.index[np.flatnonzero(dup.to_numpy())[0]])
        raise ValidationError(f"coder {frame.loc[number, 'coder']!r} rated unit "
                              f"{frame.loc[number, 'unit']!r} twice", where=f"{path.name} row {number}")
    return frame


def run(path: Path, statistic: str, level: str = "nominal") -> tuple[float, str]:
    """The coefficient and a one-line summary (n, coders, conventional reading)."""
    frame = read_long_csv(path)
    try:
        matrix, coders, units, _ = reliability_matrix(frame, level=level)
    except ValidationError as exc:
        raise ValidationError(str(exc).split(": ", 1)[-1],
                              where=f"{path.name} {exc.where}") from None
    present = ~np.isnan(matrix)
    if statistic == "cohen":
        if len(coders) != 2:
            raise ValidationError(f"Cohen's kappa needs exactly 2 coders, found {len(coders)}: "
                                  f"{', '.join(map(str, coders))}", where=f"{path.name} column coder")
        if level != "nominal":
            raise ValidationError("Cohen's kappa is nominal; use --statistic krippendorff for "
                                  "other levels", where="--level")
        a = [v if not np.isnan(v) else None for v in matrix[0]]
        b = [v if not np.isnan(v) else None for v in matrix[1]]
        value = cohen_kappa(a, b)
        n = int((present[0] & present[1]).sum())
        detail = f"units rated by both = {n}"
    elif statistic == "fleiss":
        if level != "nominal":
            raise ValidationError("Fleiss' kappa is nominal", where="--level")
        per_unit = present.sum(axis=0)
        if not np.all(per_unit == per_unit[0]):
            bad = int(np.flatnonzero(per_unit != per_unit[0])[0])
            raise ValidationError(
                f"unit {units[bad]!r} has {per_unit[bad]} ratings but unit {units[0]!r} has "
                f"{per_unit[0]}; Fleiss' kappa needs the same number for every unit (use "
                "krippendorff for missing ratings)", where=f"{path.name} column unit")
        values = np.unique(matrix[present])
        counts = np.stack([(matrix == v).sum(axis=0) for v in values], axis=1)
        value = fleiss_kappa_from_counts(counts)
        detail = f"units = {len(units)}, ratings per unit = {int(per_unit[0])}"
    else:
        value = krippendorff_alpha_from_matrix(matrix, level)
        pairable = int(present.sum(axis=0)[present.sum(axis=0) >= 2].sum())
        detail = f"units = {len(units)}, pairable values = {pairable}"
    summary = f"coders = {len(coders)}, {detail}; {interpret(value, statistic)}"
    return value, summary


def _handle(args: argparse.Namespace) -> int:
    value, summary = run(Path(args.csv), args.statistic, args.level)
    label = {"cohen": "cohen_kappa", "fleiss": "fleiss_kappa",
             "krippendorff": f"krippendorff_alpha[{args.level}]"}[args.statistic]
    print(f"{label} = {value:.{args.digits}f}")
    print(summary)
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(commands, "agreement", _handle,
                    "inter-rater agreement from long data (columns unit, coder, value)")
    p.add_argument("csv", metavar="IN.csv")
    p.add_argument("--statistic", choices=["cohen", "fleiss", "krippendorff"], required=True)
    p.add_argument("--level", choices=list(LEVELS), default="nominal",
                   help="measurement level (Krippendorff's alpha only)")
    p.add_argument("--digits", type=int, default=4)
