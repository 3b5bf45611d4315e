"""Cohort queries: the SQL path (DuckDB and PostgreSQL) against a plain pandas reference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.errors import NotFoundError, ValidationError
from workbench.warehouse import (
    Cohort,
    CohortQuery,
    Demographics,
    HasCondition,
    HasTreatment,
    ScoreAt,
)

BREAST, DUCT, TAMOXIFEN, SURGERY = 2000200002, 2000200003, 2000300001, 2000300005
QL, PHQ9 = 2000000201, 2000100011


def _query(engine: sa.Engine, log: list | None = None) -> CohortQuery:
    return CohortQuery(engine, audit=(log if log is not None else []).append, actor="alice",
                       purpose="tests")


def _arms(frames: dict[str, pd.DataFrame]) -> pd.Series:
    obs = frames["observation"]
    return obs[obs.observation_concept_id == 2000000402].set_index("person_id").value_as_string


def _expected_members(frames: dict[str, pd.DataFrame], *, descendants: bool = True) -> set[int]:
    person, cond = frames["person"], frames["condition_occurrence"]
    sites = {BREAST, DUCT} if descendants else {BREAST}
    women = set(person[(person.gender_concept_id == 8532) & person.year_of_birth.between(1945, 1975)]
                .person_id)
    breast = set(cond[cond.condition_concept_id.isin(sites)].person_id)
    drug, proc = frames["drug_exposure"], frames["procedure_occurrence"]
    treated = set(drug[drug.drug_concept_id == TAMOXIFEN].person_id) | set(
        proc[proc.procedure_concept_id == SURGERY].person_id)
    return women & breast & treated


def _cohort(descendants: bool = True) -> Cohort:
    return Cohort("breast", (Demographics(sex="female", birth_year_min=1945, birth_year_max=1975),
                             HasCondition(("SNOMED:254837009",), include_descendants=descendants),
                             HasTreatment(("RxNorm:10324", SURGERY))))


def test_participants_match_pandas(loaded: sa.Engine, sample_frames: dict) -> None:
    log: list = []
    found = _query(loaded, log).participants(_cohort())
    expected = _expected_members(sample_frames)
    assert len(expected) > 20
    assert set(found.person_id) == expected
    assert list(found.columns) == ["person_id", "gender", "year_of_birth", "arm"]
    assert (found.gender == "female").all()
    arms = _arms(sample_frames)
    assert (found.set_index("person_id").arm == arms.loc[found.person_id]).all()
    narrow = _query(loaded).participants(_cohort(descendants=False))
    assert set(narrow.person_id) == _expected_members(sample_frames, descendants=False)
    assert len(narrow) < len(found)
    record = log[-1]
    assert record["query"] == "participants" and record["rows"] == len(found)
    assert record["actor"] == "alice" and record["purpose"] == "tests"
    assert not any(str(pid) in str(record["cohort"]) for pid in list(expected)[:5])


def test_score_at_time_point(loaded: sa.Engine, sample_frames: dict) -> None:
    meas, survey = sample_frames["measurement"], sample_frames["survey_conduct"]
    joined = meas.merge(survey, left_on="measurement_event_id", right_on="survey_conduct_id",
                        suffixes=("", "_s"))
    hit = joined[(joined.measurement_concept_id == PHQ9) & (joined.timing_source_value == "M3")
                 & joined.value_as_number.between(10, 27)]
    found = _query(loaded).participants(Cohort("dep", (ScoreAt("LOINC:44261-6", "M3", 10, 27),)))
    assert set(found.person_id) == set(hit.person_id) and len(found) > 10


def test_longitudinal_scores_and_means(loaded: sa.Engine, sample_frames: dict) -> None:
    meas, survey = sample_frames["measurement"], sample_frames["survey_conduct"]
    ref = meas[meas.measurement_concept_id == QL].merge(
        survey, left_on="measurement_event_id", right_on="survey_conduct_id", suffixes=("", "_s"))
    ref = ref.assign(arm=_arms(sample_frames).loc[ref.person_id].to_numpy())
    query = _query(loaded)
    everyone = Cohort("all")
    long = query.scores(everyone, ["EORTC-QLQ-C30:QL"])
    assert len(long) == len(ref)
    assert set(long.timepoint) == {"baseline", "M3", "M6", "M12", "M24"}
    assert np.isclose(long.value.sum(), ref.value_as_number.sum())
    only = query.scores(everyone, [QL], timepoints=["baseline"])
    assert set(only.timepoint) == {"baseline"}
    means = query.mean_score_by_arm(everyone, "EORTC-QLQ-C30:QL")
    expected = (ref.groupby(["arm", "timing_source_value"]).value_as_number
                .agg(ref_n="count", ref_mean="mean", ref_sd="std").reset_index())
    merged = means.merge(expected, left_on=["arm", "timepoint"],
                         right_on=["arm", "timing_source_value"])
    assert len(merged) == len(means) == 10
    assert (merged.n == merged.ref_n).all()
    assert np.allclose(merged["mean"].astype(float), merged.ref_mean)
    assert np.allclose(merged.sd.astype(float), merged.ref_sd)
    assert list(means[means.arm == "control"].timepoint) == ["baseline", "M3", "M6", "M12", "M24"]


@pytest.mark.parametrize("bad", [
    lambda: Cohort("x", ("person_id = 1 OR 1=1",)),
    lambda: Cohort("x", (sa.text("1=1"),)),
    lambda: HasCondition(("SNOMED:1; DROP TABLE person",)),
    lambda: ScoreAt("LOINC:44261-6", "baseline' OR '1'='1"),
    lambda: Demographics(sex="female' --"),
    lambda: HasCondition(("254837009",)),
    lambda: ScoreAt(PHQ9, "M3", low=20, high=10),
    lambda: Cohort("bad name; --"),
])
def test_raw_sql_and_malformed_criteria_are_refused(bad) -> None:
    with pytest.raises(ValidationError):
        bad()


def test_unknown_concepts_columns_and_domains_are_named(loaded: sa.Engine) -> None:
    log: list = []
    query = _query(loaded, log)
    with pytest.raises(NotFoundError, match="123456"):
        query.participants(Cohort("x", (HasCondition((123456,)),)))
    with pytest.raises(NotFoundError, match="SNOMED:999"):
        query.participants(Cohort("x", (HasCondition(("SNOMED:999",)),)))
    with pytest.raises(ValidationError, match="nir"):
        query.participants(Cohort("x"), columns=["person_id", "nir"])
    with pytest.raises(ValidationError, match="domain Drug"):
        query.participants(Cohort("x", (HasCondition((TAMOXIFEN,)),)))
    with pytest.raises(ValidationError, match="domain Observation"):
        query.mean_score_by_arm(Cohort("x"), 2000000101)
    assert log == []  # refused before any query ran


def test_no_results_without_an_audit_record(loaded: sa.Engine) -> None:
    def failing(record: dict) -> None:
        raise RuntimeError("audit store down")

    query = CohortQuery(loaded, audit=failing, actor="alice", purpose="tests")
    with pytest.raises(RuntimeError, match="audit store down"):
        query.participants(Cohort("all"))
    with pytest.raises(ValidationError):
        CohortQuery(loaded, audit=None, actor="a", purpose="p")  # type: ignore[arg-type]


def test_a_cohort_comes_back_from_its_description() -> None:
    cohort = Cohort("mixed", (Demographics(sex="female", birth_year_max=1970), HasCondition(("SNOMED:254837009",)),
                              HasTreatment((TAMOXIFEN,)), ScoreAt("LOINC:44261-6", "BL", low=10, high=20)))
    assert Cohort.from_description(cohort.describe()) == cohort
    assert Cohort.from_description(json.loads(json.dumps(cohort.describe()))) == cohort  # as a notebook parameter


@pytest.mark.parametrize(("body", "where", "says"), [
    (["not", "an", "object"], "cohort", "send"),
    ({"name": "x", "criteria": [{"type": "Demographics"}], "sql": "1"}, "cohort", "send"),
    ({"name": "x"}, "cohort.criteria", "at least one criterion"),
    ({"name": "x", "criteria": [{"type": "Age", "low": 50}]}, "cohort.criteria[0]", "type is one of"),
    ({"name": "x", "criteria": ["Demographics"]}, "cohort.criteria[0]", "type is one of"),
    ({"name": "x", "criteria": [{"type": "HasCondition", "concepts": [1]}, {"type": "ScoreAt", "concept": 1}]},
     "cohort.criteria[1]", "ScoreAt takes"),
    ({"name": "x", "criteria": [{"type": "ScoreAt", "concept": 1, "timepoint": "BL'; --"}]},
     "cohort.criteria[0].timepoint", "raw SQL fragment"),
    ({"name": "x; DROP TABLE person", "criteria": [{"type": "HasCondition", "concepts": [1]}]},
     "Cohort.name", "raw SQL fragment"),
])
def test_a_bad_description_says_where(body: object, where: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as error:
        Cohort.from_description(body)
    assert error.value.where == where
