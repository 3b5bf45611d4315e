"""Reference data sets for the analysis tests and a small seeded longitudinal trial generator.

- Freireich et al. 1963 (Blood 21:699–716): remission times, 6-MP vs placebo (published data).
- Belenky et al. 2003 sleep deprivation study, as shipped with lme4 (``data/sleepstudy.csv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parent / "data"

SIX_MP = "6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+"
PLACEBO = "1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23"


@pytest.fixture
def freireich() -> pd.DataFrame:
    rows = [
        (arm, float(x.rstrip("+")), 0 if x.endswith("+") else 1)
        for arm, text in (("6-MP", SIX_MP), ("placebo", PLACEBO))
        for x in text.split()
    ]
    return pd.DataFrame(rows, columns=["arm", "weeks", "relapse"])


@pytest.fixture
def sleepstudy() -> pd.DataFrame:
    return pd.read_csv(DATA / "sleepstudy.csv")


def synthetic_trial(
    n: int = 200, *, visits: tuple[float, ...] = (0, 3, 6, 12, 18, 24), seed: int = 1,
    slope_effect: float = 0.4, dropout: float = 0.05,
) -> pd.DataFrame:
    """Two-arm trial of a 0–100 functional score: random intercept and slope, monotone dropout.

    Truth: mean 70 at baseline, −0.8 points/month in arm A, −0.8 + ``slope_effect`` in arm B;
    subject SD 12 (intercept) and 0.5 (slope), residual SD 8.
    """
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    b0 = rng.normal(0, 12, n)
    b1 = rng.normal(0, 0.5, n)
    t = np.asarray(visits, float)
    score = (70 + b0[:, None] + (-0.8 + slope_effect * arm + b1)[:, None] * t[None, :]
             + rng.normal(0, 8, (n, t.size)))
    # Monotone dropout after baseline: once gone, every later score is missing (MAR-free MCAR).
    gone = np.cumsum(rng.random((n, t.size)) < dropout, axis=1) > 0
    gone[:, 0] = False
    score = np.where(gone, np.nan, np.clip(score, 0, 100))
    return pd.DataFrame({
        "subject": np.repeat([f"S{i:05d}" for i in range(n)], t.size),
        "arm": np.repeat(np.where(arm == 1, "B", "A"), t.size),
        "month": np.tile(t, n),
        "score": score.ravel(),
    })


@pytest.fixture
def trial() -> pd.DataFrame:
    return synthetic_trial()


DEMO_PERSONS = 120


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a small demo warehouse (``weshare warehouse sample``'s cohort: two arms, five waves)."""
    from workbench.warehouse import connect, create_schema, load_mini_vocabulary, load_tables
    from workbench.warehouse.sample import sample_cohort

    url = f"duckdb:///{tmp_path_factory.mktemp('demo-warehouse') / 'warehouse.duckdb'}"
    engine = connect(url)
    create_schema(engine)
    load_mini_vocabulary(engine)
    for i, batch in enumerate(sample_cohort(DEMO_PERSONS, seed=7)):
        load_tables(engine, f"sample:{i}", batch, source="sample cohort", loaded_by="test")
    engine.dispose()
    return url


def gateway_extract(persons: int = DEMO_PERSONS, seed: int = 7) -> pd.DataFrame:
    """The demo cohort's QLQ-C30 item answers in the gateway's extract shape (participant, study,
    event, date, variable, value), as ``secure_bubble.client.Warehouse.extract`` returns them."""
    from workbench.warehouse.sample import QLQ_ITEMS, sample_cohort

    frames = []
    for batch in sample_cohort(persons, seed=seed):
        obs = batch["observation"].to_pandas()
        survey = batch["survey_conduct"].to_pandas().set_index("survey_conduct_id")
        obs = obs[obs["observation_concept_id"].isin(QLQ_ITEMS)]
        frames.append(pd.DataFrame({
            "participant": "PX" + obs["person_id"].astype(str).str.zfill(5),
            "study": "DEMO-QOL",
            "event": obs["observation_event_id"].map(survey["timing_source_value"]).to_numpy(),
            "date": pd.to_datetime(obs["observation_date"]),
            "variable": "qlq-c30.q" + (obs["observation_concept_id"] - QLQ_ITEMS[0] + 1).astype(str),
            "value": obs["value_as_number"].astype(float),
        }))
    return pd.concat(frames, ignore_index=True)


def gateway_person_rows(persons: int = DEMO_PERSONS, seed: int = 7) -> pd.DataFrame:
    """The same cohort's ``demographics`` and ``arm`` rows as the gateway serves them (sex and arm
    as text, birth year as a value), for a project approved for both."""
    from workbench.warehouse.sample import ARM_CONCEPT, sample_cohort

    frames = []
    for batch in sample_cohort(persons, seed=seed):
        person = batch["person"].to_pandas()
        obs = batch["observation"].to_pandas()
        arm = obs[obs["observation_concept_id"] == ARM_CONCEPT]
        code = "PX" + person["person_id"].astype(str).str.zfill(5)
        common = {"participant": code, "study": "DEMO-QOL", "event": "", "date": pd.NaT}
        frames += [
            pd.DataFrame({**common, "variable": "sex", "value": np.nan,
                          "text": person["gender_concept_id"].map({8532: "female", 8507: "male"})}),
            pd.DataFrame({**common, "variable": "birth_year", "value": person["year_of_birth"].astype(float),
                          "text": None}),
            pd.DataFrame({"participant": "PX" + arm["person_id"].astype(str).str.zfill(5), "study": "DEMO-QOL",
                          "event": "", "date": pd.to_datetime(arm["observation_date"]), "variable": "arm",
                          "value": np.nan, "text": arm["value_as_string"]}),
        ]
    return pd.concat(frames, ignore_index=True)
