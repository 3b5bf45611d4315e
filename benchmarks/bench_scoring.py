"""Scoring 1,000,000 QLQ-C30 responses, target ≤ 2 s, against a plain per-row Python loop.

The workbench path is ``score_frame`` on a DataFrame of item codes (with its range checks), the
way ``weshare score`` runs it. The baseline applies the same manual rules row by row in pure
Python; it runs on a 20,000-row slice and is scaled to 1,000,000 (a full loop takes minutes and
adds no information), and the slice's scores must equal the vectorised ones.

    .venv/bin/python benchmarks/bench_scoring.py [--rows N]
    .venv/bin/python benchmarks/bench_scoring.py --quick    # 50,000 rows, for tests/instruments/test_bench_scoring.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report, timed

from workbench.instruments.scoring import QLQ_C30_SCALES, SUMMARY_SCALES, score_frame


def responses(rows: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = np.empty((rows, 30))
    codes[:, :28] = rng.integers(1, 5, size=(rows, 28))
    codes[:, 28:] = rng.integers(1, 8, size=(rows, 2))
    codes[rng.random((rows, 30)) < 0.03] = np.nan  # item non-response
    frame = pd.DataFrame(codes, columns=[f"q{i}" for i in range(1, 31)]).astype("Int8")
    frame.insert(0, "response_id", np.arange(rows))
    return frame


def loop_scores(rows: list[list[float | None]]) -> list[dict[str, float | None]]:
    out = []
    for row in rows:
        scores: dict[str, float | None] = {}
        for code, (kind, items) in QLQ_C30_SCALES.items():
            answered = [row[i - 1] for i in items if row[i - 1] is not None]
            if len(answered) * 2 < len(items):
                scores[code] = None
                continue
            raw = sum(answered) / len(answered)
            span = 6.0 if kind == "global" else 3.0
            scores[code] = (1 - (raw - 1) / span) * 100 if kind == "functional" else (raw - 1) / span * 100
        parts = [scores[c] for c in SUMMARY_SCALES]
        scores["SUMMARY"] = None if any(p is None for p in parts) else sum(
            p if QLQ_C30_SCALES[c][0] == "functional" else 100 - p
            for c, p in zip(SUMMARY_SCALES, parts, strict=True)) / 13
        out.append(scores)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 rows (the target is for 1,000,000)")
    args = parser.parse_args()
    if args.quick:
        args.rows = 50_000
    frame = responses(args.rows)
    seconds, scored = timed(lambda: score_frame("qlq-c30", frame), repeat=3)

    sample = min(20_000, args.rows)
    items = frame.iloc[:sample, 1:].astype(object).where(frame.iloc[:sample, 1:].notna(), None)
    plain = items.to_numpy().tolist()
    loop_seconds, expected = timed(lambda: loop_scores(plain))
    for i in range(0, sample, 997):  # the two paths agree
        for code, value in expected[i].items():
            got = scored[code].iloc[i]
            assert (value is None and math.isnan(got)) or abs(got - value) < 1e-9, (i, code)
    loop_full = loop_seconds * args.rows / sample
    report(f"score {args.rows:,} QLQ-C30 responses (16 scales, range checks)", seconds, "s",
           baseline=loop_full, baseline_name=f"per-row Python loop (timed on {sample:,}, scaled)",
           target="≤ 2 s" if args.rows == 1_000_000 else "", rows_per_s=f"{args.rows / seconds:,.0f}")


if __name__ == "__main__":
    main()
