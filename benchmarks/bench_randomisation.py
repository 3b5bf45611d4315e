"""Imbalance of simple, stratified permuted-block and minimisation randomisation, 10,000 trials each.

Settings follow the simulation grid of Sequence balance minimisation (Trials 2017, PMC5415754, cited
in the research file): two- and three-arm trials with 1:2 and 1:2:3 ratios, n = 60 and 120, binary
prognostic factors with equally likely levels (we take 4 of their 0–10), random element 0.8. A 1:1
scenario with the same factors gives the classic |n_A − n_B|. For unequal ratios minimisation runs
both on ratio-adjusted counts and on "expanded" virtual arms (which keeps the ratio exactly). Blocks: sizes 1× and 2× the ratio sum,
stratified by every factor (16 strata). The research file quotes no imbalance figures, so each
figure is printed as a ratio to simple randomisation run in the same process, and simple
randomisation itself is checked against its exact binomial distribution (2 arms).

Imbalance = max_k d_k − min_k d_k with d_k = n_k − n·w_k (|n_A − n_B| for 1:1), at the end of each
trial: overall, in the worst stratum, and in the worst factor margin. Run with ``--quick`` for a
seconds-long smoke run.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import report

from workbench.randomisation import Arm, Design, Factor, Randomiser, commit
from workbench.randomisation.simulation import (
    Scenario,
    imbalance_summary,
    simple_reference,
    simulate,
)

SCENARIOS = [
    Scenario("1:2 n=60", (1, 2), 60, (2, 2, 2, 2)),
    Scenario("1:2:3 n=120", (1, 2, 3), 120, (2, 2, 2, 2)),
    Scenario("1:1 n=120", (1, 1), 120, (2, 2, 2, 2)),
]
METHODS = ("simple", "blocks", "minimisation", "minimisation-expanded")


def _methods(sc: Scenario) -> tuple[str, ...]:
    # With equal ratios the expanded variant is the same algorithm: skip it.
    return METHODS if len(set(sc.ratios)) > 1 else METHODS[:3]


def _simulate(sc: Scenario, method: str, trials: int, rng: np.random.Generator) -> np.ndarray:
    if method == "minimisation-expanded":
        return simulate(replace(sc, unequal_ratio="expanded"), "minimisation", trials, rng)
    return simulate(sc, method, trials, rng)
METRICS = {"overall": "overall", "stratum": "worst stratum", "margin": "worst margin"}


def _chunks(total: int, size: int = 2500) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def run_scenario(sc: Scenario, trials: int, rng: np.random.Generator) -> None:
    print(f"# {sc.name}: {trials} trials, {len(sc.levels)} binary factors, "
          f"p_preferred {sc.p_preferred}, block multiples {sc.block_multiples}", flush=True)
    summaries: dict[str, dict[str, np.ndarray]] = {}
    shares: dict[str, float] = {}
    for method in _methods(sc):
        parts = [imbalance_summary(sc, _simulate(sc, method, chunk, rng))
                 for chunk in _chunks(trials)]
        summaries[method] = {m: np.concatenate([p[m] for p in parts]) for m in METRICS}
        # Share of the first (smallest) arm, to show any drift from the target ratio.
        counts = _simulate(sc, method, min(trials, 2000), rng).sum(axis=(0, 1))
        shares[method] = float(counts[0] / counts.sum())
    for metric, label in METRICS.items():
        base = summaries["simple"][metric]
        for method in _methods(sc):
            values = summaries[method][metric]
            report(f"randomisation {sc.name} {method} {label} imbalance mean", float(values.mean()),
                   "participants", baseline=float(base.mean()), baseline_name="simple randomisation",
                   p95=f"{np.percentile(values, 95, method='inverted_cdf'):.3g}", max=f"{values.max():.3g}")
    target = sc.ratios[0] / sum(sc.ratios)
    for method in _methods(sc):
        report(f"randomisation {sc.name} {method} share of arm 1", shares[method], "fraction",
               baseline=target, baseline_name="target ratio")
    if len(sc.ratios) == 2:
        exact_mean, exact_p95 = simple_reference(sc.n, (sc.ratios[0], sc.ratios[1]))
        sim = summaries["simple"]["overall"]
        report(f"randomisation {sc.name} simple overall imbalance mean (check)", float(sim.mean()),
               "participants", baseline=exact_mean, baseline_name="exact binomial",
               target="ratio within 0.95–1.05", p95=f"{np.percentile(sim, 95, method='inverted_cdf'):.3g} (exact {exact_p95:.3g})")


def _engine_trial(sc: Scenario, rng: np.random.Generator) -> None:
    """One trial through the live Randomiser (exact fractions, HMAC draws, hash chain)."""
    factors = tuple(Factor(f"f{i}", tuple(str(v) for v in range(lv))) for i, lv in enumerate(sc.levels))
    design = Design(study="BENCH", method="minimisation", factors=factors,
                    arms=tuple(Arm(f"arm{i}", r) for i, r in enumerate(sc.ratios)),
                    seed=rng.bytes(32).hex(), p_preferred=sc.p_preferred)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    randomiser = Randomiser(design, commit(design, at=t0))
    levels = rng.integers(0, 2, size=(sc.n, len(sc.levels)))
    for i in range(sc.n):
        randomiser.allocate(f"P{i}", {f"f{j}": str(v) for j, v in enumerate(levels[i])},
                            eligible=True, actor="bench", at=t0 + timedelta(seconds=i))


def run_speed(trials: int, engine_trials: int, rng: np.random.Generator) -> None:
    sc = SCENARIOS[-1]
    start = time.perf_counter()
    for chunk in _chunks(trials):
        simulate(sc, "minimisation", chunk, rng)
    vectorised = trials / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(engine_trials):
        _engine_trial(sc, rng)
    engine = engine_trials / (time.perf_counter() - start)
    report(f"randomisation simulate minimisation {sc.name}", vectorised, "trials/s",
           baseline=engine, baseline_name="live Randomiser one trial at a time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred trials: a smoke run")
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260301)
    args = parser.parse_args(argv)
    trials = 300 if args.quick else args.trials
    rng = np.random.default_rng(args.seed)
    for sc in SCENARIOS:
        run_scenario(sc, trials, rng)
    run_speed(trials, 2 if args.quick else 20, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
