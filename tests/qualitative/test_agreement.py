"""Agreement coefficients against published worked examples, plus property checks.

Sources of the vectors: Cohen's κ — Wikipedia "Cohen's kappa" examples; ATLAS.ti manual
"Methods for testing ICA" (10 segments); Fleiss' κ — Wikipedia "Fleiss' kappa" worked example;
Krippendorff's α — Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability" p. 8 and the
Wikipedia "Krippendorff's alpha" computational example.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import ValidationError
from workbench.qualitative.agreement import (
    cohen_kappa,
    cohen_kappa_from_table,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    interpret,
    krippendorff_alpha,
    percent_agreement,
    reliability_matrix,
)

N = np.nan
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
])
WIKIPEDIA_ALPHA = np.array([
    [N, N, N, N, N, 3, 4, 1, 2, 1, 1, 3, 3, N, 3],
    [1, N, 2, 1, 3, 3, 4, 3, N, N, N, N, N, N, N],
    [N, N, 2, 1, 3, 4, 4, N, 2, 1, 1, 3, 3, N, 4],
])
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]
ATLAS_1 = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
ATLAS_2 = [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]


@pytest.mark.parametrize(("table", "expected"), [
    ([[20, 5], [10, 15]], 0.40),
    ([[45, 15], [25, 15]], 0.1304),
    ([[25, 35], [5, 35]], 0.2593),
])
def test_cohen_published_tables(table: list[list[int]], expected: float) -> None:
    assert cohen_kappa_from_table(table) == pytest.approx(expected, abs=5e-5)


def test_cohen_from_ratings_matches_table_and_atlas_example() -> None:
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.40)
    assert cohen_kappa(ATLAS_1, ATLAS_2) == pytest.approx(0.0909, abs=5e-5)
    assert percent_agreement(np.array([ATLAS_1, ATLAS_2], dtype=float)) == pytest.approx(0.60)


def test_cohen_drops_pairs_with_a_missing_rating() -> None:
    assert cohen_kappa([1, 1, 0, None], [1, 1, 0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValidationError):
        cohen_kappa([1, 0], [1])


def test_fleiss_wikipedia_example() -> None:
    assert fleiss_kappa_from_counts(FLEISS_WIKIPEDIA) == pytest.approx(0.20993, abs=5e-6)


def test_fleiss_from_ratings_and_its_errors() -> None:
    ratings = np.array([[1, 2, 3, 1], [1, 2, 3, 2], [1, 2, 1, 1]], dtype=float)
    counts = np.array([[3, 0, 0], [0, 3, 0], [1, 0, 2], [2, 1, 0]])
    assert fleiss_kappa(ratings) == pytest.approx(fleiss_kappa_from_counts(counts))
    with pytest.raises(ValidationError, match="every coder"):
        fleiss_kappa(np.array([[1, N], [1, 2]]))
    with pytest.raises(ValidationError, match="same number"):
        fleiss_kappa_from_counts([[2, 0], [1, 2]])


@pytest.mark.parametrize(("level", "expected"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_krippendorff_2011_example_all_levels(level: str, expected: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(expected, abs=5e-4)


def test_krippendorff_exact_nominal_and_unpairable_unit_is_ignored() -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(0.74342, abs=5e-6)
    # The 2019 edition drops unit 12 (one value only): α must not change.
    assert krippendorff_alpha(KRIPPENDORFF_2011[:, :11]) == pytest.approx(0.74342, abs=5e-6)


def test_krippendorff_wikipedia_example() -> None:
    assert krippendorff_alpha(WIKIPEDIA_ALPHA, "nominal") == pytest.approx(0.691358, abs=1e-6)
    assert krippendorff_alpha(WIKIPEDIA_ALPHA, "interval") == pytest.approx(0.810845, abs=1e-6)


def test_krippendorff_atlas_binary_example() -> None:
    assert krippendorff_alpha(np.array([ATLAS_1, ATLAS_2], dtype=float)) == pytest.approx(
        0.0952, abs=5e-5)


def test_krippendorff_from_long_data_with_text_labels() -> None:
    labels = {1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}
    rows = [{"unit": u, "coder": c, "value": labels[int(v)]}
            for c, row in enumerate(KRIPPENDORFF_2011) for u, v in enumerate(row) if not np.isnan(v)]
    assert krippendorff_alpha(pd.DataFrame(rows)) == pytest.approx(0.74342, abs=5e-6)
    with pytest.raises(ValidationError, match="not a number"):
        krippendorff_alpha(pd.DataFrame(rows), "interval")


def test_reliability_matrix_rejects_double_ratings_and_missing_columns() -> None:
    frame = pd.DataFrame({"unit": [1, 1], "coder": ["A", "A"], "value": [1, 2]})
    with pytest.raises(ValidationError, match="twice"):
        reliability_matrix(frame)
    with pytest.raises(ValidationError, match="missing column"):
        reliability_matrix(frame.drop(columns="value"))
    with pytest.raises(ValidationError, match="unknown level"):
        krippendorff_alpha(frame, "cardinal")


def test_degenerate_cases() -> None:
    assert math.isnan(krippendorff_alpha(np.array([[1.0, N], [N, 2.0]])))  # nothing pairable
    assert krippendorff_alpha(np.array([[1.0, 1.0], [1.0, 1.0]])) == 1.0  # no variation at all
    assert cohen_kappa([1, 1], [1, 1]) == 1.0
    assert "undefined" in interpret(math.nan, "cohen")
    assert interpret(0.85, "krippendorff").startswith("reliable")
    assert interpret(0.7, "krippendorff").startswith("tentative")
    assert "moderate" in interpret(0.5, "cohen")


def _naive_alpha(matrix: np.ndarray) -> float:
    """Textbook nominal α with explicit loops over units and value pairs (the reference)."""
    pairs: dict[tuple[float, float], float] = {}
    for u in range(matrix.shape[1]):
        vals = [v for v in matrix[:, u] if not np.isnan(v)]
        if len(vals) < 2:
            continue
        for i, j in itertools.permutations(range(len(vals)), 2):
            key = (vals[i], vals[j])
            pairs[key] = pairs.get(key, 0.0) + 1.0 / (len(vals) - 1)
    n_c: dict[float, float] = {}
    for (c, _), w in pairs.items():
        n_c[c] = n_c.get(c, 0.0) + w
    n = sum(n_c.values())
    d_o = sum(w for (c, k), w in pairs.items() if c != k)
    d_e = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n - 1)
    return math.nan if d_e == 0 else 1 - d_o / d_e


ratings = st.lists(st.sampled_from([0.0, 1.0, 2.0, np.nan]), min_size=12, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(ratings, min_size=2, max_size=4))
def test_vectorised_alpha_matches_naive_reference(rows: list[list[float]]) -> None:
    matrix = np.array(rows)
    fast, slow = krippendorff_alpha(matrix), _naive_alpha(matrix)
    if math.isnan(slow):
        assert math.isnan(fast) or fast == 1.0
    else:
        assert fast == pytest.approx(slow, abs=1e-9)
    # Coder order never matters.
    assert krippendorff_alpha(matrix[::-1]) == pytest.approx(fast, nan_ok=True)
