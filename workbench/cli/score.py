"""`weshare score INSTRUMENT IN.csv -o OUT.csv`: score a wide CSV, one column per scale.

Item columns are ``q1``…``qN`` in instrument order (PRO-CTCAE may also use ``ae17_f``-style
names); every other column passes through unchanged. An out-of-range code stops the run with its
row and column, and no output file is written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.cli._common import add_command
from workbench.errors import NotFoundError, ValidationError
from workbench.instruments.scoring import SCORERS, score_frame


def _integers(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Sums and flags print as 12 and 1, not 12.0 and 1.0."""
    for column in columns:
        values = frame[column]
        if values.dtype.kind == "f":
            finite = values.dropna()
            if len(finite) and np.all(finite == np.floor(finite)):
                frame[column] = values.astype("Int64")
    return frame


def _score(args: argparse.Namespace) -> int:
    source, out = Path(args.input), Path(args.output)
    if not source.is_file():
        raise NotFoundError(f"{source}: no such file")
    if out.exists() and not args.force:
        raise ValidationError(f"{out} exists; use --force to replace it", where="--output")
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"cannot read as CSV ({exc})", where=str(source)) from None
    scored = score_frame(args.instrument, frame, where=str(source), first_row=2)
    added = [c for c in scored.columns if c not in frame.columns]
    scored = _integers(scored, added)
    tmp = out.with_name(out.name + ".tmp")
    scored.to_csv(tmp, index=False)
    os.replace(tmp, out)
    print(f"scored {len(scored)} response(s) with {args.instrument}: {', '.join(added)} → {out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(commands, "score", _score, "score questionnaire responses from a wide CSV")
    p.add_argument("instrument", choices=sorted(SCORERS))
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--force", action="store_true")
