"""`weshare survival IN.csv --time COL --event COL --group COL`: KM table, log-rank test, Cox HR.

A quick, reproducible check of a time-to-event comparison from a CSV export (for example the
output of a time-to-deterioration derivation), printing what a statistical report needs.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from workbench.analysis import compare_groups
from workbench.cli._common import add_command
from workbench.errors import NotFoundError, ValidationError


def _fmt(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    if math.isinf(value):
        return "NR"
    return f"{value:.{digits}g}" if abs(value) >= 1e4 else f"{value:.{digits}f}"


def _fmt_t(value: float) -> str:
    return "NR" if math.isinf(value) else f"{value:.6g}"


def _read(path: str) -> pd.DataFrame:
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{path}: no such file")
    try:
        return pd.read_csv(file, sep=None, engine="python")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"cannot read as CSV ({exc})", where=path) from None


def _run(args: argparse.Namespace) -> int:
    data = _read(args.csv)
    result = compare_groups(data, args.time, args.event, args.group, strata=args.strata,
                            conf=args.conf, transform=args.transform, reference=args.reference)
    pct = f"{100 * args.conf:g}%"
    print(f"Kaplan–Meier estimates ({pct} pointwise CI, {args.transform} transform);"
          f" time = {args.time}, event = {args.event}")
    header = f"{'time':>10} {'at risk':>8} {'events':>7} {'censored':>9} {'survival':>9}"
    header += f" {'std.err':>8} {'lower':>7} {'upper':>7}"
    for label, km in result.curves.items():
        lo, hi = km.median_ci
        print(f"\n{args.group} = {label}: n = {km.n}, events = {km.events}, median = {_fmt_t(km.median)}"
              f" ({pct} CI {_fmt_t(lo)} to {_fmt_t(hi)}; NR = not reached)")
        print(header)
        for row in km.event_rows().itertuples(index=False):
            print(f"{row.time:>10.6g} {row.n_at_risk:>8d} {row.events:>7d} {row.censored:>9d}"
                  f" {_fmt(row.survival):>9} {_fmt(row.se):>8} {_fmt(row.ci_low):>7} {_fmt(row.ci_high):>7}")
    lr = result.logrank
    strat = f", stratified by {lr.stratified_by}" if lr.stratified_by else ""
    print(f"\nLog-rank test{strat}: chi-square = {lr.chi2:.4f} on {lr.df} df, p = {lr.p:.4g}")
    for row in lr.table.itertuples(index=False):
        print(f"  {row.group}: n = {row.n}, observed = {row.observed:g}, expected = {row.expected:.2f}")
    print(f"\nCox proportional hazards (Efron ties{strat}), reference {args.group} = {result.reference}")
    for row in result.cox.table.itertuples(index=False):
        print(f"  {row.term}: HR = {row.hr:.4f} (95% CI {row.ci_low:.4f} to {row.ci_high:.4f}),"
              f" log HR = {row.log_hr:.4f} (SE {row.se:.4f}), z = {row.z:.3f}, p = {row.p:.4g}")
    if result.proportional_hazards is not None:
        print("\nProportional hazards check (Grambsch–Therneau, scaled Schoenfeld residuals vs 1 − KM):")
        for row in result.proportional_hazards.itertuples(index=False):
            print(f"  {row.term}: chi-square = {row.chi2:.4f} on 1 df, p = {row.p:.4g}")
    for note in (*result.notes, *result.cox.notes):
        print(f"note: {note}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(commands, "survival", _run,
                         "Kaplan–Meier table, log-rank test and Cox hazard ratio from a CSV file")
    parser.add_argument("csv", help="CSV file, one row per subject")
    parser.add_argument("--time", required=True, help="column with the time (≥ 0)")
    parser.add_argument("--event", required=True, help="column with 1 = event, 0 = censored")
    parser.add_argument("--group", required=True, help="column with the group (arm)")
    parser.add_argument("--strata", help="optional stratification column (log-rank and Cox)")
    parser.add_argument("--reference", help="reference group for the hazard ratio (default: first)")
    parser.add_argument("--conf", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--transform", choices=("log", "log-log", "plain"), default="log",
                        help="scale of the pointwise KM interval (default log, as R)")
