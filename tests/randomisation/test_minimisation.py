"""Pocock–Simon minimisation: worked examples by hand, ratios, ties, and agreement with the simulator."""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from workbench.randomisation import Arm, Factor
from workbench.randomisation.methods import (
    Tally,
    choose_minimisation,
    minimisation_probabilities,
    minimisation_uniform,
)
from workbench.randomisation.simulation import Scenario, simulate_factors, simulate_minimisation


def _tally(n_arms: int, rows: dict[tuple[str, str], list[int]]) -> Tally:
    t = Tally(n_arms)
    t.by_level.update({k: list(v) for k, v in rows.items()})
    return t


def test_worked_example_range(kit) -> None:
    """Site IGR so far A=3, B=1; stage II so far A=2, B=2 (weight 2).
    Joining A: |4−1|·1 + |3−2|·2 = 5; joining B: |3−2|·1 + |2−3|·2 = 3 → B preferred at p = 0.8."""
    d = kit.design("minimisation")
    t = _tally(2, {("site", "IGR"): [3, 1], ("stage", "II"): [2, 2]})
    scores, probs = minimisation_probabilities(d, t, {"site": "IGR", "stage": "II"})
    assert scores == [5, 3]
    assert probs == [Fraction(1, 5), Fraction(4, 5)]
    assert choose_minimisation(probs, Fraction(19, 100)) == 0
    assert choose_minimisation(probs, Fraction(1, 5)) == 1


def test_worked_example_variance_three_arms(kit) -> None:
    """Counts at the participant's site (only factor, weight 1): A=2, B=0, C=1.
    K·Σa² − (Σa)² for joining A: 3·(9+0+1) − 16 = 14; B: 3·(4+1+1) − 16 = 2; C: 3·(4+0+4) − 16 = 8."""
    d = kit.design("minimisation", ratios=(1, 1, 1), imbalance="variance",
                   factors=(Factor("site", kit.SITES),))
    t = _tally(3, {("site", "CLB"): [2, 0, 1]})
    scores, probs = minimisation_probabilities(d, t, {"site": "CLB"})
    assert scores == [14, 2, 8]
    assert probs == [Fraction(1, 10), Fraction(8, 10), Fraction(1, 10)]


def test_unequal_ratio_counts_a_two_to_one_split_as_balanced(kit) -> None:
    """1:2 with A=1, B=2 at the level is balanced; joining B (2·1 vs 3) beats A (2·2 vs 2)."""
    d = kit.design("minimisation", ratios=(1, 2), factors=(Factor("site", kit.SITES),), p_preferred=0.9)
    t = _tally(2, {("site", "IGR"): [1, 2]})
    scores, probs = minimisation_probabilities(d, t, {"site": "IGR"})
    assert scores == [2, 1]
    assert probs == [Fraction(1, 10), Fraction(9, 10)]


def test_full_tie_follows_the_allocation_ratio(kit) -> None:
    d = kit.design("minimisation", ratios=(1, 1, 1))
    _, probs = minimisation_probabilities(d, Tally(3), {"site": "IGR", "stage": "I"})
    assert probs == [Fraction(1, 3)] * 3
    # With unequal ratios an empty tally is not a tie (joining B moves the adjusted counts less),
    # so a full tie only arises when nothing is weighted: then the draw follows the ratio.
    d = kit.design("minimisation", ratios=(1, 3))
    scores, probs = minimisation_probabilities(d, Tally(2), {"site": "IGR", "stage": "I"})
    assert scores == [9, 3] and probs == [Fraction(1, 5), Fraction(4, 5)]
    d = kit.design("minimisation", ratios=(1, 3), factors=(Factor("site", kit.SITES, 0.0),))
    _, probs = minimisation_probabilities(d, Tally(2), {"site": "IGR"})
    assert probs == [Fraction(1, 4), Fraction(3, 4)]


def test_partial_tie_shares_p_among_preferred_arms(kit) -> None:
    d = kit.design("minimisation", ratios=(1, 1, 2), factors=(Factor("site", kit.SITES),),
                   p_preferred=0.75)
    t = _tally(3, {("site", "IPC"): [2, 2, 2]})  # adjusted 4, 4, 2: joining C best
    _, probs = minimisation_probabilities(d, t, {"site": "IPC"})
    assert probs == [Fraction(1, 8), Fraction(1, 8), Fraction(3, 4)]
    t = _tally(3, {("site", "IPC"): [1, 1, 4]})  # adjusted 2, 2, 4: A and B tie as best
    _, probs = minimisation_probabilities(d, t, {"site": "IPC"})
    assert probs == [Fraction(3, 8), Fraction(3, 8), Fraction(1, 4)]


def test_total_weight_balances_overall_counts(kit) -> None:
    d = kit.design("minimisation", factors=(), total_weight=1.0, p_preferred=1.0)
    r = kit.run(d, 41)
    a = sum(rec.arm == "A" for rec in r.log)
    assert a in (20, 21)  # deterministic minimisation on totals alternates


def test_deterministic_minimisation_keeps_each_margin_within_one_step(kit) -> None:
    d = kit.design("minimisation", p_preferred=1.0, factors=(Factor("site", kit.SITES),))
    r = kit.run(d, 90)
    for site in kit.SITES:
        arms = [rec.arm for rec in r.log if rec.levels["site"] == site]
        assert abs(arms.count("A") - arms.count("B")) <= 1


@pytest.mark.parametrize(("ratios", "kind", "weights", "unequal"), [
    ((1, 1), "range", (1.0, 2.0), "adjusted"), ((1, 2), "range", (1.0, 1.0), "adjusted"),
    ((2, 1, 1), "variance", (0.5, 1.0), "adjusted"), ((1, 2), "range", (1.0, 2.0), "expanded"),
    ((3, 1, 2), "variance", (1.0, 1.0), "expanded"),
])
def test_simulator_reproduces_the_live_rule_draw_for_draw(kit, ratios, kind, weights, unequal) -> None:
    d = kit.design("minimisation", ratios=ratios, imbalance=kind, p_preferred=0.7, unequal_ratio=unequal,
                   factors=(Factor("site", kit.SITES, weights[0]), Factor("stage", kit.STAGES, weights[1])))
    r = kit.run(d, 150, rng_seed=3)
    x = np.array([[[kit.SITES.index(rec.levels["site"]), kit.STAGES.index(rec.levels["stage"])]
                   for rec in r.log]])
    u = np.array([[float(minimisation_uniform(d, rec.seq)) for rec in r.log]])
    sc = Scenario("check", ratios, 150, (3, 3), p_preferred=0.7, imbalance=kind, weights=weights,
                  unequal_ratio=unequal)
    sim = simulate_minimisation(sc, x, uniforms=u)[0]
    assert [d.arm_names[i] for i in sim] == [rec.arm for rec in r.log]


def test_random_element_is_exercised(kit) -> None:
    """With p = 0.8 some allocations go against the preferred arm (about 20 % of non-ties)."""
    d = kit.design("minimisation")
    r = kit.run(d, 300)
    against = 0
    tally, decided = Tally(2), 0
    for rec in r.log:
        scores, _ = minimisation_probabilities(d, tally, rec.levels)
        if scores[0] != scores[1]:
            decided += 1
            against += scores[d.arm_names.index(rec.arm)] > min(scores)
        tally.add(rec.levels, d.arm_names.index(rec.arm))
    assert 0.1 < against / decided < 0.3


def test_arm_list_and_factor_names_are_free_text(kit) -> None:
    d = kit.design("minimisation", arms=(Arm("Soins de support", 1), Arm("Contrôle", 1)),
                   factors=(Factor("âge", ("<65", "≥65")),))
    rng = random.Random(1)
    r = kit.run(d, 0)
    rec = r.allocate("P1", {"âge": rng.choice(["<65", "≥65"])}, eligible=True, actor="x", at=kit.T0)
    assert rec.arm in d.arm_names


def test_expanded_minimisation_balances_virtual_arms(kit) -> None:
    """1:2 expanded: columns A, B1, B2 of ratio 1. Site IGR so far A=1, B1=1, B2=0: joining B2
    gives range 0, anything else 1 → B2 preferred at 0.8, A and B1 share 0.2; arm B gets 0.9."""
    d = kit.design("minimisation", ratios=(1, 2), unequal_ratio="expanded",
                   factors=(Factor("site", kit.SITES),))
    assert d.columns == (0, 1, 1)
    t = _tally(3, {("site", "IGR"): [1, 1, 0]})
    scores, probs = minimisation_probabilities(d, t, {"site": "IGR"})
    assert scores == [2, 2, 0]
    assert probs == [Fraction(1, 10), Fraction(1, 10), Fraction(4, 5)]
    _, first = minimisation_probabilities(d, Tally(3), {"site": "IGR"})
    assert first == [Fraction(1, 3)] * 3  # the first participant follows the ratio exactly


def test_expanded_minimisation_keeps_the_allocation_ratio() -> None:
    """By symmetry among virtual arms each step allocates arm 1 with probability exactly 1/3;
    the adjusted variant's known offset shows up in the same simulation."""
    sc = Scenario("t", (1, 2), 60, (2, 2, 2, 2), unequal_ratio="expanded")
    rng = np.random.default_rng(8)
    x = simulate_factors(sc, 6000, rng)
    share = (simulate_minimisation(sc, x, rng) == 0).mean()
    adjusted = (simulate_minimisation(replace(sc, unequal_ratio="adjusted"), x, rng) == 0).mean()
    # 360,000 allocations: the standard error of a share is below 0.001.
    assert abs(share - 1 / 3) < 0.003
    assert adjusted - 1 / 3 > 0.006
