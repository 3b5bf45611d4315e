"""Analysis toolkit at scale: mixed model on 100,000 participants × 8 visits, and KM + log-rank +
Cox on 1,000,000 rows. Scaling figures are ratios against the same work on a 10× smaller sample
run in the same process (≈ 10 means linear); the fast LMM engine is compared with statsmodels
MixedLM on the same data.

`--quick` runs small sizes in seconds (used by the test suite as a smoke run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report, timed

from workbench.analysis import compare_groups, fit_mixed_model, growth_formula
from workbench.analysis.kaplan_meier import km_arrays

VISITS = (0.0, 1.0, 2.0, 3.0, 6.0, 9.0, 12.0, 18.0)  # months: 8 time points


def longitudinal(n: int, seed: int) -> pd.DataFrame:
    """Two-arm trial, random intercept (SD 12) and slope (SD 0.5/month), residual SD 8."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    t = np.asarray(VISITS)
    b0, b1 = rng.normal(0, 12, n), rng.normal(0, 0.5, n)
    y = 70 + b0[:, None] + (-0.8 + 0.3 * arm + b1)[:, None] * t + rng.normal(0, 8, (n, t.size))
    return pd.DataFrame({"subject": np.repeat(np.arange(n), t.size),
                         "arm": np.repeat(np.where(arm == 1, "B", "A"), t.size),
                         "month": np.tile(t, n), "score": y.ravel()})


def survival(n: int, seed: int) -> pd.DataFrame:
    """Exponential times in whole days (many ties), HR 0.75, uniform administrative censoring."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    event_day = np.ceil(rng.exponential(365 / np.where(arm == 1, 0.75, 1.0)))
    censor_day = np.ceil(rng.uniform(30, 1000, n))
    return pd.DataFrame({"days": np.minimum(event_day, censor_day),
                         "event": (event_day <= censor_day).astype(int),
                         "arm": np.where(arm == 1, "B", "A")})


def run_mixed(n: int, engine: str = "statsmodels") -> float:
    data = longitudinal(n, seed=n)
    formula = growth_formula("score", "month", arm="arm")
    seconds, fit = timed(lambda: fit_mixed_model(data, formula, subject="subject", slope="month",
                                                 engine=engine))  # type: ignore[arg-type]
    fixed = fit.fixed.set_index("term")
    print(f"  {engine} n={n:,}: {fit.random}, optimiser {fit.optimiser}, converged {fit.converged},"
          f" slope difference {fixed.loc['month:C(arm)[T.B]', 'estimate']:.3f} (truth 0.300)",
          flush=True)
    return seconds


def run_survival(n: int) -> float:
    data = survival(n, seed=n)
    seconds, comp = timed(lambda: compare_groups(data, "days", "event", "arm"))
    hr = comp.cox.table.iloc[0]
    print(f"  n={n:,}: log-rank chi2 {comp.logrank.chi2:.1f}, HR {hr['hr']:.3f} (truth 0.750)",
          flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    args = parser.parse_args()
    big_mixed, big_surv = (300, 20_000) if args.quick else (100_000, 1_000_000)
    tag = " (quick)" if args.quick else ""

    small = run_mixed(big_mixed // 10)
    big = run_mixed(big_mixed)
    report(f"MixedLM random intercept + slope, {big_mixed:,} participants x 8 visits{tag}", big, "s",
           baseline=small, baseline_name=f"same fit on {big_mixed // 10:,} participants",
           target="ratio about 10 (linear in participants)")
    fast = run_mixed(big_mixed, engine="fast")
    report(f"Fast LMM engine, {big_mixed:,} participants x 8 visits{tag}", fast, "s",
           baseline=big, baseline_name="statsmodels MixedLM on the same data",
           target="ratio < 0.1")

    small = run_survival(big_surv // 10)
    big = run_survival(big_surv)
    report(f"KM + log-rank + Cox (Efron), {big_surv:,} rows{tag}", big, "s", baseline=small,
           baseline_name=f"same on {big_surv // 10:,} rows", target="ratio about 10 (n log n)")

    data = survival(big_surv, seed=1)
    t, e = data["days"].to_numpy(float), data["event"].to_numpy()
    ours, _ = timed(lambda: km_arrays(t, e), repeat=3)
    from statsmodels.duration.survfunc import SurvfuncRight

    theirs, _ = timed(lambda: SurvfuncRight(t, e), repeat=3)
    report(f"Kaplan–Meier with CIs, {big_surv:,} rows{tag}", ours, "s", baseline=theirs,
           baseline_name="statsmodels SurvfuncRight (no pointwise CI, no median CI)",
           target="ratio ≤ 2")


if __name__ == "__main__":
    main()
