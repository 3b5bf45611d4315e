"""Same seed and spec → same data, whatever the chunk size; chunks hold whole participants."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import ValidationError
from workbench.synth import BLOCK_SIZE, CohortChunk, CohortSpec, TimePoint, generate_cohort

N = BLOCK_SIZE + 452  # crosses a block boundary


def _frames(n: int, chunk_size: int, seed: int = 5,
            spec: CohortSpec | None = None) -> dict[str, pd.DataFrame]:
    chunks = list(generate_cohort(n, seed=seed, spec=spec, chunk_size=chunk_size))
    names = chunks[0].frames()
    return {k: pd.concat([c.frames()[k] for c in chunks], ignore_index=True) for k in names}


def assert_same(left: pd.DataFrame, right: pd.DataFrame, name: str) -> None:
    """Column-wise exact equality (dtypes included); far quicker than assert_frame_equal."""
    assert list(left.columns) == list(right.columns), name
    assert left.index.equals(right.index), name
    for column in left.columns:
        assert left[column].dtype == right[column].dtype, (name, column)
        assert left[column].equals(right[column]), (name, column)


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return _frames(N, N, spec=CohortSpec(include_truth=True))


@pytest.mark.parametrize("chunk_size", [313, 999, BLOCK_SIZE, 10_000])
def test_identical_output_regardless_of_chunk_size(
        reference: dict[str, pd.DataFrame], chunk_size: int) -> None:
    other = _frames(N, chunk_size, spec=CohortSpec(include_truth=True))
    assert other.keys() == reference.keys()
    for name, frame in reference.items():
        assert_same(other[name], frame, name)


def test_a_smaller_cohort_is_a_prefix_of_a_bigger_one(reference: dict[str, pd.DataFrame]) -> None:
    small = _frames(300, 128, spec=CohortSpec(include_truth=True))
    for name, frame in small.items():
        prefix = reference[name][reference[name]["participant_id"] <= 300].reset_index(drop=True)
        assert_same(frame, prefix, name)


def test_another_seed_or_spec_gives_other_data(reference: dict[str, pd.DataFrame]) -> None:
    other = _frames(N, N, seed=6)
    assert not other["participants"]["cancer_site"].equals(reference["participants"]["cancer_site"])
    stronger = _frames(N, N, spec=CohortSpec(arm_effect=0.8))
    may_change = ["dropout_date", "death_date"]  # drop-out follows QoL, which the arm moves
    assert_same(stronger["participants"].drop(columns=may_change),
                reference["participants"].drop(columns=may_change), "participants")
    assert not stronger["answers"].equals(reference["answers"])


def test_chunks_hold_whole_consecutive_participants(
        concat: Callable[[list[CohortChunk]], CohortChunk]) -> None:
    chunks = list(generate_cohort(1000, seed=1, chunk_size=300))
    assert [len(c.participants) for c in chunks] == [300, 300, 300, 100]
    expected_first = 1
    for chunk in chunks:
        ids = chunk.participants["participant_id"].to_numpy()
        assert ids[0] == expected_first and np.all(np.diff(ids) == 1)
        expected_first = ids[-1] + 1
        for name, frame in chunk.frames().items():
            assert frame["participant_id"].between(ids[0], ids[-1]).all(), name
            assert frame.index.equals(pd.RangeIndex(len(frame))), name
        per_person = chunk.assessments.groupby("participant_id").size()
        assert (per_person == 8).all() and len(per_person) == len(ids)
    whole = concat(chunks)
    assert whole.participants["participant_key"].is_unique
    assert whole.assessments["assessment_id"].is_unique


@pytest.mark.parametrize(("kwargs", "where"), [
    ({"n": 0}, "n"),
    ({"n": 10, "chunk_size": 0}, "chunk_size"),
    ({"n": 10, "seed": -1}, "seed"),
])
def test_bad_arguments_name_the_argument(kwargs: dict[str, int], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        generate_cohort(**kwargs)
    assert info.value.where == where


@pytest.mark.parametrize(("change", "where"), [
    ({"arms": (("a", 1), ("a", 2))}, "CohortSpec.arms"),
    ({"effect_arm": "placebo"}, "CohortSpec.effect_arm"),
    ({"schedule": (TimePoint("W1", "w", 7),)}, "CohortSpec.schedule"),
    ({"schedule": (TimePoint("BL", "b", 0), TimePoint("W2", "w", 14, 20, 0))},
     "CohortSpec.schedule"),
    ({"item_nonresponse": 1.5}, "CohortSpec.item_nonresponse"),
    ({"qlq_c30_reference": (("QL2", 61.3, 24.2),)}, "CohortSpec.qlq_c30_reference"),
])
def test_invalid_spec_is_a_validation_error(change: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        CohortSpec(**change)  # type: ignore[arg-type]
    assert info.value.where == where


def test_custom_schedule_is_followed() -> None:
    schedule = (TimePoint("BL", "Baseline", 0), TimePoint("M3", "Month 3", 91, 10, 10),
                TimePoint("M6", "Month 6", 182, 14, 14))
    chunk = next(generate_cohort(50, seed=2, spec=CohortSpec(schedule=schedule)))
    assert list(chunk.assessments["timepoint"].cat.categories) == ["BL", "M3", "M6"]
    assert set(chunk.assessments["day"]) == {0, 91, 182}


def test_editing_a_chunk_does_not_leak_into_the_next() -> None:
    untouched = [c.answers.copy() for c in generate_cohort(900, seed=8, chunk_size=300)]
    for index, chunk in enumerate(generate_cohort(900, seed=8, chunk_size=300)):
        assert chunk.answers.equals(untouched[index])
        chunk.answers["value"] = 0  # a caller scribbling on its chunk
        chunk.participants.loc[:, "birth_year"] = 1900


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 2 * BLOCK_SIZE + 10), chunk_size=st.integers(60, 3 * BLOCK_SIZE))
def test_chunking_never_changes_the_data(n: int, chunk_size: int) -> None:
    whole = _frames(n, n, seed=21)
    chunked = _frames(n, chunk_size, seed=21)
    assert len(whole["participants"]) == n
    for name, frame in whole.items():
        assert_same(chunked[name], frame, name)
