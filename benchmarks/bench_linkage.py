"""Indirect linkage of 1,000,000 study records with 1,000,000 SNDS-shaped records.

Synthetic data with a known truth (90 % of the study cohort is in the extract; 5 % of each
recorded attribute disagrees: moved département, stay recorded 1–2 days off, birth month
missing). The workbench path trains a Splink model (DuckDB) and links one to one at 14 bits of
evidence; the baseline is the deterministic join on every variable that a team without a
probabilistic tool would run, in the same process. Target: precision and recall ≥ 0.99.

    .venv/bin/python benchmarks/bench_linkage.py [--records N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report

from workbench.linkage.model import evaluate, link_cohort, snds_features
from workbench.linkage.snds import synthetic_pair


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.records
    study, extract, truth = synthetic_pair(n, n, seed=2026)
    snds = snds_features(extract)

    start = time.perf_counter()
    con = duckdb.connect()
    con.register("s", study.assign(stay_date=study["stay_date"].dt.strftime("%Y-%m-%d")))
    con.register("b", snds)
    exact = con.execute("SELECT s.study_id, b.snds_id FROM s JOIN b USING (sex, birth_year, birth_month, dpt, "
                        "stay_date)").df()
    exact = exact.drop_duplicates("study_id", keep=False).drop_duplicates("snds_id", keep=False)
    exact_s = time.perf_counter() - start
    exact_scores = evaluate(exact, truth)

    start = time.perf_counter()
    result = link_cohort(study, snds)
    linked_s = time.perf_counter() - start
    scores = evaluate(result.links, truth)
    report(f"linkage {n:,} × {n:,} (Splink, DuckDB)", linked_s, "s", baseline=exact_s,
           baseline_name="deterministic join on all variables", target="precision and recall ≥ 0.99",
           precision=round(scores["precision"], 4), recall=round(scores["recall"], 4),
           baseline_precision=round(exact_scores["precision"], 4), baseline_recall=round(exact_scores["recall"], 4),
           review_pairs=len(result.review), pairs_scored=result.pairs_scored)


if __name__ == "__main__":
    main()
