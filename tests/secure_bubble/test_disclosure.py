"""Disclosure rules at their boundaries, on a dataset whose unsafe cells are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from secure_bubble.disclosure import (
    DisclosureRules,
    check_file,
    check_model,
    safe_table,
    secondary_suppression,
)
from workbench.errors import ValidationError


def _known_unsafe(small: int = 5) -> pd.DataFrame:
    """3 × 3 categories, 20 people per combination except one combination with ``small``."""
    rows = []
    for a in ("a1", "a2", "a3"):
        for b in ("b1", "b2", "b3"):
            n = small if (a, b) == ("a2", "b3") else 20
            rows += [{"arm": a, "site": b, "score": 50.0 + i} for i in range(n)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("n", "status"), [(10, "review"), (11, "pass"), (12, "pass")])
def test_threshold_boundaries(n: int, status: str) -> None:
    checked = safe_table(_known_unsafe(small=n), "arm", "site")
    assert checked.status == status


def test_one_small_cell_costs_exactly_four_cells() -> None:
    checked = safe_table(_known_unsafe(), "arm", "site")
    assert checked.reasons[("a2", "b3")] == ["threshold: 5 < 11 people"]
    assert checked.suppressed == 4  # the small cell + one in its row + one in its column + the corner
    hidden = checked.table.isna().to_numpy()
    assert (hidden.sum(axis=0) != 1).all() and (hidden.sum(axis=1) != 1).all()


def test_hidden_cells_cannot_be_recomputed_from_margins() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        counts = pd.DataFrame(rng.integers(0, 30, size=(4, 5)))
        primary = (counts > 0) & (counts < 11)
        hidden = secondary_suppression(counts, primary).to_numpy()
        assert ((hidden.sum(axis=1) == 0) | (hidden.sum(axis=1) >= 2)).all()
        assert ((hidden.sum(axis=0) == 0) | (hidden.sum(axis=0) >= 2)).all()
        assert not (primary.to_numpy() & ~hidden).any()


def test_zero_cells_and_rounding() -> None:
    data = _known_unsafe(small=0)
    data = data[~((data.arm == "a2") & (data.site == "b3"))]
    assert "zero" in safe_table(data, "arm", "site").reasons[("a2", "b3")][0]
    lenient = DisclosureRules(zeros_are_disclosive=False, round_base=5)
    checked = safe_table(data, "arm", "site", rules=lenient)
    assert checked.status == "review" and set(np.unique(checked.table.to_numpy())) <= {0.0, 20.0}


def test_dominance_rules_on_sums() -> None:
    data = _known_unsafe(small=20)
    data.loc[(data.arm == "a1") & (data.site == "b1"), "score"] = 1.0
    data.loc[data.index[0], "score"] = 10_000.0
    checked = safe_table(data, "arm", "site", values="score", aggfunc="sum")
    assert checked.reasons[("a1", "b1")][0].startswith("dominance")


def test_threshold_can_rise_but_never_below_ten() -> None:
    with pytest.raises(ValidationError, match="below 10"):
        DisclosureRules(min_cell=3)
    assert safe_table(_known_unsafe(small=15), "arm", "site",
                      rules=DisclosureRules(min_cell=16)).status == "review"


def test_identifiers_and_extremes_are_refused() -> None:
    data = _known_unsafe().assign(pseudonym="P-X")
    with pytest.raises(ValidationError, match="identifier"):
        safe_table(data, "pseudonym", "site")
    with pytest.raises(ValidationError, match="not allowed"):
        safe_table(data, "arm", "site", values="score", aggfunc="max")


def test_model_degrees_of_freedom() -> None:
    rng = np.random.default_rng(1)
    small = pd.DataFrame({"x": rng.normal(size=12), "y": rng.normal(size=12)})
    assert check_model(smf.ols("y ~ x", small).fit())[0] == "pass"      # 10 residual dof
    assert check_model(smf.ols("y ~ x", small.head(11)).fit())[0] == "fail"


def test_file_checks() -> None:
    ok = check_file("table.csv", b"arm,n\na,20\nb,30\n")
    assert ok.status == "pass"
    leak = check_file("rows.csv", b"pseudonym,score\nP-1,3\n")
    assert leak.status == "fail" and "pseudonym" in leak.problems[0]
    assert check_file("model.pkl", b"x").status == "fail"
    big = check_file("big.csv", b"a\n" + b"1\n" * 5001)
    assert "row limit" in big.problems[0]
