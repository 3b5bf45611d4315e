"""Synthetic cohort throughput: vectorised, chunked generator vs a per-participant Python loop.

    .venv/bin/python benchmarks/bench_synth.py            # 100,000 participants
    .venv/bin/python benchmarks/bench_synth.py --full     # and 1,000,000 participants
    .venv/bin/python benchmarks/bench_synth.py --quick    # seconds-long smoke run

The baseline is the obvious way to write the same model: loop over participants, time points
and items with the standard library's ``random``, appending answer rows, then build one frame.
It runs on a small sample in the same process; figures are answer rows per second. Peak memory
is reported to show that chunking keeps it flat as the cohort grows.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report

from workbench.synth import CohortSpec, generate_cohort
from workbench.synth.instruments import (
    GAD7_OFFSETS,
    HEALTH_LOADING,
    PHQ9_OFFSETS,
    QLQ_C30_SCALES,
    SCALE_ORDER,
    calibrate,
)


def naive_cohort(n: int, seed: int, spec: CohortSpec) -> pd.DataFrame:
    """The same model, one participant, time point and item at a time (the baseline)."""
    rnd = random.Random(seed)
    cal = calibrate(spec.qlq_c30_reference, spec.phq9_reference, spec.gad7_reference)
    sites = spec.cancer_sites
    rows: list[tuple[int, int, int, str, int, int]] = []
    for pid in range(1, n + 1):
        site = rnd.choices(range(len(sites)), weights=[s.weight for s in sites])[0]
        stage = rnd.choices(range(4), weights=sites[site].stage_probs)[0]
        arm = rnd.random() < 0.5
        h0 = spec.stage_health_shift[stage] + rnd.gauss(0, 1)
        slope = rnd.gauss(spec.mean_slope_per_year, spec.slope_sd_per_year)
        hazard = -math.log(1 - spec.stage_annual_mortality[stage]) * sites[site].mortality_factor
        death = rnd.expovariate(hazard / 365.25) if hazard > 0 else math.inf
        stable = [rnd.gauss(0, 1) for _ in SCALE_ORDER]
        dropped = False
        for k, tp in enumerate(spec.schedule):
            day = tp.day + rnd.randint(-tp.window_before, tp.window_after)
            h = h0 + slope * day / 365.25 + (spec.arm_effect if arm and day > 0 else 0.0)
            if k and rnd.random() < 1 / (1 + math.exp(-(math.log(spec.dropout_per_visit / (
                    1 - spec.dropout_per_visit)) - math.log(spec.dropout_odds_ratio_per_sd) * h))):
                dropped = True
            if death <= day or dropped or rnd.random() < spec.missed_visit:
                continue
            aid = pid * 100 + k
            for s_index, scale in enumerate(SCALE_ORDER):
                kind, items = QLQ_C30_SCALES[scale]
                load = HEALTH_LOADING[scale]
                y = load * h + math.sqrt(1 - load**2) * (0.77 * stable[s_index]
                                                          + 0.63 * rnd.gauss(0, 1))
                score = cal.qlq_mean[s_index] + cal.qlq_sd[s_index] * (-y if kind == "symptom"
                                                                       else y)
                width = 6 if kind == "global" else 3
                frac = 1 - score / 100 if kind == "functional" else score / 100
                for item in items:
                    code = round(1 + width * frac + rnd.gauss(0, 0.45))
                    if rnd.random() >= spec.item_nonresponse:
                        rows.append((aid, pid, k, "QLQ-C30", item, min(max(code, 1), 1 + width)))
            distress = -0.8 * h + 0.6 * rnd.gauss(0, 1)
            for name, offsets, (mean, sd) in (("PHQ-9", PHQ9_OFFSETS, cal.phq9),
                                              ("GAD-7", GAD7_OFFSETS, cal.gad7)):
                for item, offset in enumerate(offsets, start=1):
                    code = round(mean + sd * distress + offset + rnd.gauss(0, 0.55))
                    if rnd.random() >= spec.item_nonresponse:
                        rows.append((aid, pid, k, name, item, min(max(code, 0), 3)))
    return pd.DataFrame(rows, columns=["assessment_id", "participant_id", "timepoint",
                                       "instrument", "item", "value"])


def vectorised(n: int, seed: int, spec: CohortSpec, chunk_size: int) -> tuple[int, int, float]:
    """Answer rows, all rows, and peak RSS (MB) generating ``n`` participants chunk by chunk."""
    process = psutil.Process()
    answers = total = 0
    peak = process.memory_info().rss
    for chunk in generate_cohort(n, seed=seed, spec=spec, chunk_size=chunk_size):
        answers += len(chunk.answers)
        total += sum(len(frame) for frame in chunk.frames().values())
        peak = max(peak, process.memory_info().rss)
    return answers, total, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    mode.add_argument("--full", action="store_true", help="also 1,000,000 participants")
    args = parser.parse_args()
    spec = CohortSpec()
    naive_n = 200 if args.quick else 2_000
    sizes = [5_000] if args.quick else [100_000] + ([1_000_000] if args.full else [])
    chunk_size = 5_000 if args.quick else 20_000

    def naive_rate() -> float:
        start = time.perf_counter()
        rows = len(naive_cohort(naive_n, 1, spec))
        return rows / (time.perf_counter() - start)

    # The machine is shared: time the loop before and after, keep its best (a fairer baseline).
    baseline = naive_rate()
    results = []
    for n in sizes:
        start = time.perf_counter()
        answers, total, peak_mb = vectorised(n, 1, spec, chunk_size)
        results.append((n, answers, total, peak_mb, time.perf_counter() - start))
    baseline = max(baseline, naive_rate())
    for n, answers, total, peak_mb, seconds in results:
        report(f"synth answer rows/s, {n:,} participants", answers / seconds, "rows/s",
               baseline=baseline, baseline_name=f"per-participant loop ({naive_n:,}, best of 2)",
               target="≥ 20x the loop", answer_rows=answers, all_rows=total,
               seconds=round(seconds, 2), peak_rss_mb=round(peak_mb), chunk_size=chunk_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
