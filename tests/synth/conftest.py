"""One mid-sized cohort shared by the distribution tests, and an independent QLQ-C30 scorer.

The scorer is written here from the scoring manual's rules (qol-science.md §1), not imported
from the generator, so a mistake in the generator's item structure cannot hide itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from workbench.synth import CohortChunk, CohortSpec, generate_cohort

# scale → (kind, items); typed again on purpose (see module docstring).
SCALES: dict[str, tuple[str, list[int]]] = {
    "QL2": ("global", [29, 30]), "PF2": ("functional", [1, 2, 3, 4, 5]),
    "RF2": ("functional", [6, 7]), "EF": ("functional", [21, 22, 23, 24]),
    "CF": ("functional", [20, 25]), "SF": ("functional", [26, 27]),
    "FA": ("symptom", [10, 12, 18]), "NV": ("symptom", [14, 15]), "PA": ("symptom", [9, 19]),
    "DY": ("symptom", [8]), "SL": ("symptom", [11]), "AP": ("symptom", [13]),
    "CO": ("symptom", [16]), "DI": ("symptom", [17]), "FI": ("symptom", [28]),
}
COHORT_N = 6000
COHORT_SEED = 11


def score_qlq_c30(answers: pd.DataFrame) -> pd.DataFrame:
    """Scale scores per assessment_id from long answers, with the half rule."""
    qlq = answers[answers["instrument"] == "QLQ-C30"]
    wide = qlq.pivot(index="assessment_id", columns="item", values="value").astype(float)
    wide = wide.reindex(columns=range(1, 31))
    out = {}
    for scale, (kind, items) in SCALES.items():
        sub = wide[items]
        raw = sub.mean(axis=1)
        width = 6 if kind == "global" else 3
        score = (1 - (raw - 1) / width) * 100 if kind == "functional" else (raw - 1) / width * 100
        score[sub.notna().sum(axis=1) < len(items) / 2] = np.nan
        out[scale] = score
    return pd.DataFrame(out)


def _pro_totals(answers: pd.DataFrame, instrument: str, n_items: int) -> pd.Series:
    sub = answers[answers["instrument"] == instrument]
    wide = sub.pivot(index="assessment_id", columns="item", values="value")
    complete = wide.notna().sum(axis=1) == n_items
    return wide[complete].sum(axis=1)


def _concat(chunks: list[CohortChunk]) -> CohortChunk:
    names = chunks[0].frames().keys()
    return CohortChunk(**{
        name: pd.concat([c.frames()[name] for c in chunks], ignore_index=True) for name in names
    })


@pytest.fixture(scope="session")
def cohort() -> CohortChunk:
    spec = CohortSpec(include_truth=True)
    return _concat(list(generate_cohort(COHORT_N, seed=COHORT_SEED, spec=spec, chunk_size=4000)))


@pytest.fixture(scope="session")
def scored(cohort: CohortChunk) -> pd.DataFrame:
    """Observed scale scores joined to assessment and participant attributes."""
    scores = score_qlq_c30(cohort.answers)
    frame = cohort.assessments.set_index("assessment_id").join(scores, how="inner")
    return frame.reset_index().merge(cohort.participants, on="participant_id")


@pytest.fixture(scope="session")
def pro_totals() -> Callable[[pd.DataFrame, str, int], pd.Series]:
    """Totals of complete PHQ-9 / GAD-7 forms per assessment_id."""
    return _pro_totals


@pytest.fixture(scope="session")
def concat() -> Callable[[list[CohortChunk]], CohortChunk]:
    return _concat
