"""The vectorised simulator matches exact results and the live engine; the benchmark smoke-runs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from workbench.randomisation import Arm, Design, Factor, Randomiser, commit
from workbench.randomisation.simulation import (
    Scenario,
    imbalance_summary,
    simple_reference,
    simulate,
)

ROOT = Path(__file__).resolve().parents[2]
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("ratios", [(1, 1), (1, 2)])
def test_simple_matches_the_exact_binomial(ratios) -> None:
    sc = Scenario("t", ratios, 60, (2, 2))
    counts = simulate(sc, "simple", 6000, np.random.default_rng(11))
    overall = imbalance_summary(sc, counts)["overall"]
    exact_mean, exact_p95 = simple_reference(60, ratios)
    assert abs(overall.mean() / exact_mean - 1) < 0.05
    assert np.percentile(overall, 95, method="inverted_cdf") == exact_p95


def test_exact_reference_by_hand() -> None:
    # n = 2, 1:1: |nA − nB| is 2 with probability 1/2 and 0 otherwise.
    assert simple_reference(2, (1, 1)) == (1.0, 2.0)


def test_blocks_never_exceed_half_the_largest_block_within_a_stratum() -> None:
    sc = Scenario("t", (1, 1), 100, (2, 2, 2), block_multiples=(1, 2))
    counts = simulate(sc, "blocks", 3000, np.random.default_rng(5))
    assert (counts.sum(axis=(1, 2)) == 100).all()
    summary = imbalance_summary(sc, counts)
    assert summary["stratum"].max() == 2  # reached, never exceeded
    assert summary["overall"].max() <= 2 * sc.n_strata


def _engine_overall(method: str, trials: int) -> np.ndarray:
    rng = np.random.default_rng(99)
    out = []
    for t in range(trials):
        d = Design(study="SIM", method=method, arms=(Arm("A"), Arm("B")), seed=f"{t:064x}",
                   factors=(Factor("f0", ("0", "1")), Factor("f1", ("0", "1"))), list_length=40)
        r = Randomiser(d, commit(d, at=_T0))
        for i, lv in enumerate(rng.integers(0, 2, size=(30, 2))):
            r.allocate(f"P{i}", {"f0": str(lv[0]), "f1": str(lv[1])}, eligible=True, actor="s",
                       at=_T0 + timedelta(seconds=i))
        a = sum(rec.arm == "A" for rec in r.log)
        out.append(abs(2 * a - 30))
    return np.asarray(out)


@pytest.mark.parametrize("method", ["blocks", "minimisation"])
def test_simulator_agrees_with_the_live_engine_in_distribution(method) -> None:
    sc = Scenario("t", (1, 1), 30, (2, 2), block_multiples=(1, 2))
    sim = imbalance_summary(sc, simulate(sc, method, 8000, np.random.default_rng(3)))["overall"]
    live = _engine_overall(method, 250)
    # Means of roughly 1.5–2.5 with sd ≈ 1.3: 250 live trials give a standard error near 0.08.
    assert abs(live.mean() - sim.mean()) < 0.3, (live.mean(), sim.mean())


def test_benchmark_quick_run_prints_ratios() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_randomisation.py"), "--quick"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("randomisation ")]
    assert len(lines) >= 30 and all("| ratio" in ln for ln in lines)
    assert any("exact binomial" in ln for ln in lines) and "trials/s" in done.stdout
