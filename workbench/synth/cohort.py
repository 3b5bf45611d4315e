"""``generate_cohort``: the pseudonymous cohort as an iterator of chunks of whole participants.

Randomness is drawn per fixed *block* of participants from ``SeedSequence(seed, (block, stream))``,
never per chunk, so the data depend only on (seed, spec) and participant number: any chunk size
gives the same rows, and the first N participants of a bigger cohort equal a cohort of N.
Chunks are cut out of blocks (the last block generated is kept for the next chunk), so memory
stays at one chunk plus one block whatever the cohort size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import cast

import numpy as np
import pandas as pd

from workbench.errors import ValidationError
from workbench.synth.followup import STATUSES, FollowUp, follow_up
from workbench.synth.instruments import (
    INSTRUMENTS,
    SCALE_ORDER,
    Calibration,
    calibrate,
    true_scores,
)
from workbench.synth.people import People, draw_people
from workbench.synth.reference import STAGES, TREATMENTS
from workbench.synth.spec import CohortSpec

__all__ = [
    "BLOCK_SIZE",
    "CohortChunk",
    "generate_cohort",
    "participant_block",
    "participant_keys",
    "rng_for",
]

BLOCK_SIZE = 2048
STREAM_PEOPLE, STREAM_FOLLOW_UP, STREAM_IDENTITY = 0, 1, 2
MAX_PARTICIPANTS = 10**9
_TP_FACTOR = 100  # assessment_id = participant_id * 100 + time point index


@dataclass(frozen=True)
class CohortChunk:
    """Pseudonymous frames for a run of consecutive participants; join on ``participant_id``.

    ``answers`` is long: one row per answered item of a completed form (an unanswered item has
    no row). ``truth`` (only with ``CohortSpec(include_truth=True)``) holds the latent 0–100
    scale scores behind every scheduled assessment, observed or not, for checking methods.
    """

    participants: pd.DataFrame
    treatments: pd.DataFrame
    assessments: pd.DataFrame
    answers: pd.DataFrame
    truth: pd.DataFrame | None = None

    def frames(self) -> dict[str, pd.DataFrame]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: frame for name, frame in out.items() if frame is not None}


def rng_for(seed: int, block: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block, stream)))


def participant_keys(ids: np.ndarray) -> list[str]:
    """The synthetic key of each participant (what a study would hold instead of a name)."""
    return [f"SYN{i:09d}" for i in ids.tolist()]


def participant_block(spec: CohortSpec, seed: int, block: int) -> People:
    ids = np.arange(block * BLOCK_SIZE + 1, (block + 1) * BLOCK_SIZE + 1, dtype=np.int64)
    return draw_people(spec, ids, rng_for(seed, block, STREAM_PEOPLE))


def generate_cohort(n: int, *, seed: int = 0, spec: CohortSpec | None = None,
                    chunk_size: int = 10_000) -> Iterator[CohortChunk]:
    """Yield the cohort of participants 1..n in chunks of ``chunk_size`` participants."""
    spec = spec or CohortSpec()
    if not isinstance(n, int) or not 0 < n <= MAX_PARTICIPANTS:
        raise ValidationError(f"must be an integer in 1..{MAX_PARTICIPANTS}, got {n!r}", where="n")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValidationError(f"must be a positive integer, got {chunk_size!r}",
                              where="chunk_size")
    if not isinstance(seed, int) or seed < 0:
        raise ValidationError(f"must be a non-negative integer, got {seed!r}", where="seed")
    if len(spec.schedule) >= _TP_FACTOR:
        raise ValidationError(f"at most {_TP_FACTOR - 1} time points", where="CohortSpec.schedule")
    return _chunks(n, seed, spec, chunk_size)


def _chunks(n: int, seed: int, spec: CohortSpec, chunk_size: int) -> Iterator[CohortChunk]:
    cal = calibrate(spec.qlq_c30_reference, spec.phq9_reference, spec.gad7_reference)
    cached: tuple[int, dict[str, Columns]] | None = None
    for lo in range(1, n + 1, chunk_size):
        hi = min(lo + chunk_size - 1, n)
        parts: dict[str, list[Columns]] = {}
        for block in range((lo - 1) // BLOCK_SIZE, (hi - 1) // BLOCK_SIZE + 1):
            if cached is None or cached[0] != block:
                cached = (block, _block_tables(spec, cal, seed, block))
            for name, table in cached[1].items():
                parts.setdefault(name, []).append(_rows_between(table, lo, hi))
        yield CohortChunk(**{name: _frame(pieces) for name, pieces in parts.items()})


@dataclass(frozen=True)
class _Coded:
    """A categorical column kept as integer codes until the chunk's frame is built."""

    codes: np.ndarray
    categories: tuple[str, ...]


# Blocks are kept as plain arrays: slicing and concatenating them is far cheaper than pandas.
Columns = dict[str, "np.ndarray | _Coded"]


def _rows_between(table: Columns, lo: int, hi: int) -> Columns:
    ids = cast(np.ndarray, table["participant_id"])
    a, b = np.searchsorted(ids, lo, "left"), np.searchsorted(ids, hi, "right")
    if a == 0 and b == len(ids):
        return table
    return {name: _Coded(col.codes[a:b], col.categories) if isinstance(col, _Coded) else col[a:b]
            for name, col in table.items()}


def _frame(pieces: list[Columns]) -> pd.DataFrame:
    """One frame from block slices. Columns are fresh copies (never views of a cached block, so
    a caller editing a chunk cannot alter the next one) and are not consolidated by pandas."""
    data: dict[str, object] = {}
    for name, first in pieces[0].items():
        if isinstance(first, _Coded):
            codes = np.concatenate([p[name].codes for p in pieces])  # type: ignore[union-attr]
            data[name] = pd.Categorical.from_codes(codes, categories=first.categories)
        else:
            data[name] = np.concatenate([p[name] for p in pieces])
    return pd.DataFrame(data, copy=False)


def _cat(codes: np.ndarray, categories: tuple[str, ...]) -> _Coded:
    return _Coded(np.asarray(codes, dtype=np.int8 if len(categories) < 127 else np.int16),
                  categories)


def _dates(base: np.ndarray, days: np.ndarray) -> np.ndarray:
    """``base`` + ``days`` as datetime64[D], NaT where ``days`` is NaN."""
    days = np.asarray(days, dtype=float)
    out = base + np.nan_to_num(days, nan=0.0).astype(np.int64).astype("timedelta64[D]")
    return np.where(np.isnan(days), np.datetime64("NaT", "D"), out)


def _block_tables(spec: CohortSpec, cal: Calibration, seed: int,
                  block: int) -> dict[str, Columns]:
    people = participant_block(spec, seed, block)
    follow = follow_up(spec, cal, people, rng_for(seed, block, STREAM_FOLLOW_UP))
    tables = {
        "participants": _participants(spec, people, follow),
        "treatments": _treatments(people, follow),
        "assessments": _assessments(spec, people, follow),
        "answers": _answers(spec, people, follow),
    }
    if spec.include_truth:
        tables["truth"] = _truth(spec, cal, people, follow)
    return tables


def _participants(spec: CohortSpec, people: People, follow: FollowUp) -> Columns:
    ids = people.ids
    return {
        "participant_id": ids,
        "participant_key": np.array(participant_keys(ids), dtype=object),
        "centre": _cat(people.centre, spec.centre_codes),
        "arm": _cat(people.arm, spec.arm_names),
        "respondent_type": _cat(people.carer.astype(np.int8), ("patient", "carer")),
        "proxy_completion": people.proxy,
        "sex": _cat(np.where(people.female, 0, 1), ("F", "M")),
        "birth_year": people.birth_year.astype(np.int16),
        "age_at_inclusion": people.age,
        "cancer_site": _cat(people.site, spec.site_names),
        "icd10": _cat(people.icd10, spec.icd10_codes),
        "stage": _cat(people.stage, STAGES),
        "diagnosis_date": people.diagnosis,
        "inclusion_date": people.inclusion,
        "dropout_date": _dates(people.inclusion, follow.dropout_day),
        "death_date": _dates(people.inclusion, follow.death_day),
    }


def _treatments(people: People, follow: FollowUp) -> Columns:
    start, end = people.treatment_start, people.treatment_end
    death = follow.death_day[:, None]
    with np.errstate(invalid="ignore"):
        keep = ~np.isnan(start) & ~(start >= death)  # nothing starts after death
        end = np.where(end > death, death, end)
    rows, cols = np.nonzero(keep)
    base = people.inclusion[rows]
    return {
        "participant_id": people.ids[rows],
        "treatment": _cat(cols, TREATMENTS),
        "start_date": _dates(base, start[rows, cols]),
        "end_date": _dates(base, end[rows, cols]),
    }


def _assessments(spec: CohortSpec, people: People, follow: FollowUp) -> Columns:
    n, k = follow.status.shape
    sched = np.array([tp.day for tp in spec.schedule], dtype=np.int64)
    before = np.array([tp.window_before for tp in spec.schedule], dtype=np.int64)
    after = np.array([tp.window_after for tp in spec.schedule], dtype=np.int64)
    base = np.repeat(people.inclusion, k)
    status = follow.status.ravel()
    visit = np.where(status == 0, follow.visit_day.ravel(), np.nan)
    ids = np.repeat(people.ids, k)
    tp = np.tile(np.arange(k), n)
    return {
        "assessment_id": ids * _TP_FACTOR + tp,
        "participant_id": ids,
        "timepoint": _cat(tp, tuple(t.code for t in spec.schedule)),
        "day": np.tile(sched, n).astype(np.int16),
        "scheduled_date": base + np.tile(sched, n).astype("timedelta64[D]"),
        "window_start": base + np.tile(sched - before, n).astype("timedelta64[D]"),
        "window_end": base + np.tile(sched + after, n).astype("timedelta64[D]"),
        "visit_date": _dates(base, visit),
        "status": _cat(status, STATUSES),
    }


def _answers(spec: CohortSpec, people: People, follow: FollowUp) -> Columns:
    done_rows, done_tp = np.nonzero(follow.status == 0)
    assessment = people.ids[done_rows] * _TP_FACTOR + done_tp
    values = np.concatenate([follow.qlq, follow.phq9, follow.gad7], axis=1)
    answered = np.concatenate(
        [follow.qlq_answered, follow.phq9_answered, follow.gad7_answered], axis=1)
    width = values.shape[1]
    instrument = np.repeat(np.arange(len(INSTRUMENTS), dtype=np.int16),
                           list(INSTRUMENTS.values()))
    item = np.concatenate([np.arange(1, m + 1) for m in INSTRUMENTS.values()]).astype(np.int8)
    mask = answered.ravel()
    return {
        "assessment_id": np.repeat(assessment, width)[mask],
        "participant_id": np.repeat(people.ids[done_rows], width)[mask],
        "timepoint": _cat(np.repeat(done_tp, width)[mask],
                          tuple(t.code for t in spec.schedule)),
        "instrument": _cat(np.tile(instrument, done_rows.size)[mask], tuple(INSTRUMENTS)),
        "item": np.tile(item, done_rows.size)[mask],
        "value": values.ravel()[mask],
    }


def _truth(spec: CohortSpec, cal: Calibration, people: People, follow: FollowUp) -> Columns:
    n, k = follow.status.shape
    scores = np.clip(true_scores(follow.true_y.reshape(n * k, -1), cal), 0, 100)
    scores[follow.status.ravel() == 3] = np.nan  # the dead have no quality of life to measure
    scores[np.repeat(people.carer, k)] = np.nan  # carers do not answer the QLQ-C30
    tp = np.tile(np.arange(k), n)
    ids = np.repeat(people.ids, k)
    table: Columns = {
        "assessment_id": ids * _TP_FACTOR + tp,
        "participant_id": ids,
        "timepoint": _cat(tp, tuple(t.code for t in spec.schedule)),
    }
    for index, scale in enumerate(SCALE_ORDER):
        table[scale] = scores[:, index].astype(np.float32)
    return table

