"""From the task's raw messages to a stored response: parse, score, check, submit.

The browser sends what happened (each answer with its time, or the words typed); the kernel
never trusts a score computed in the browser. ``submit_task`` scores the raw material here and
stores scores and raw material through the questionnaires' own idempotent submit path, so
schedules, compliance, alerts, exports and deposit see a task like any questionnaire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from workbench.errors import ValidationError
from workbench.instruments.answers import check_answers
from workbench.instruments.cognitive import (
    PSYCHOMETRIC_IDS,
    SYMBOL_DIGIT,
    VERBAL_FLUENCY,
    symbol_digit_instrument,
    verbal_fluency_instrument,
)
from workbench.participants.models import Response
from workbench.participants.service import due_items, participant_by_token
from workbench.participants.submit import Receipt, submit_response
from workbench.psychometrics import fluency, symbol_digit
from workbench.storage.engine import session_scope

__all__ = ["DueTask", "due_task", "score_task", "submit_task", "task_result"]


@dataclass(frozen=True)
class DueTask:
    participant_id: int
    event_code: str
    instrument_id: str


def _symbol_digit(payload: dict[str, Any]) -> dict[str, Any]:
    seed = payload.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError("the form's seed is missing", where="symbol-digit seed")
    limit = payload.get("limit_ms", symbol_digit.LIMIT_MS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 10_000 <= limit <= 600_000:
        raise ValidationError("the time limit must be 10 to 600 seconds", where="symbol-digit limit_ms")
    form = symbol_digit.make_form(seed)
    raw = payload.get("trials")
    if not isinstance(raw, list):
        raise ValidationError("the list of answers is missing", where="symbol-digit trials")
    trials = symbol_digit.parse_trials(form, raw)
    score = symbol_digit.score_trials(form, trials, limit)
    answers = {"sd_seed": seed, **score.as_answers()}
    cleaned = check_answers(symbol_digit_instrument(), answers)
    return {**cleaned, "_trials": [[t.position, t.answer, t.at_ms] for t in trials]}


def _verbal_fluency(payload: dict[str, Any]) -> dict[str, Any]:
    mode, cue = payload.get("mode"), str(payload.get("cue") or "").strip()
    if payload.get("words") is not None:
        words = fluency.parse_words(payload["words"])
        marks = payload.get("intrusions") or []
        if not isinstance(marks, list):
            raise ValidationError("intrusion marks must be a list of word numbers", where="fluency intrusions")
        score = fluency.score_words(words, mode=str(mode), cue=cue, intrusions=marks,
                                    limit_ms=int(payload.get("limit_ms", fluency.LIMIT_MS)))
        raw: dict[str, Any] = {"_words": [[w.text, w.at_ms] for w in words], "_intrusions": sorted(set(marks))}
        entry = "words"
    else:
        if mode not in fluency.MODES:
            raise ValidationError(f"mode must be one of {', '.join(fluency.MODES)}", where="fluency mode")
        score = fluency.score_counts(payload.get("total"), payload.get("repetitions"), payload.get("intrusions"))
        raw, entry = {}, "counts"
    answers = {"vf_mode": mode, "vf_cue": cue, "vf_entry": entry, **score.as_answers()}
    return {**check_answers(verbal_fluency_instrument(), answers), **raw}


_SCORERS = {SYMBOL_DIGIT: _symbol_digit, VERBAL_FLUENCY: _verbal_fluency}


def score_task(instrument_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The answers to store for a task's raw ``payload`` (scores + raw material), or a ValidationError."""
    if instrument_id not in _SCORERS:
        raise ValidationError(f"{instrument_id!r} is not a psychometric task", where="instrument")
    if not isinstance(payload, dict):
        raise ValidationError("expected the task's record as an object", where=instrument_id)
    return _SCORERS[instrument_id](payload)


def submit_task(engine: Engine, participant_id: int, event_code: str, instrument_id: str,
                payload: dict[str, Any], submission_key: str) -> Receipt:
    """Score ``payload`` and store it as the participant's response (idempotent by ``submission_key``)."""
    return submit_response(engine, participant_id, event_code, instrument_id, payload, submission_key,
                           validate=score_task)


def due_task(session: Session, token: str, wanted: str = "") -> tuple[DueTask | None, str]:
    """The participant's oldest due task (``wanted`` names one) and their language; bad links refused."""
    participant = participant_by_token(session, token, source="forms")
    for item in due_items(session, participant):
        if item.instrument_id in PSYCHOMETRIC_IDS and wanted in ("", item.instrument_id):
            return DueTask(participant.id, item.event_code, item.instrument_id), participant.language
    return None, participant.language


def task_result(engine: Engine, response_id: int) -> dict[str, Any]:
    """The stored scores of a task response (the raw record left out)."""
    with session_scope(engine) as session:
        stored = session.get(Response, response_id)
        return {k: v for k, v in (stored.answers if stored else {}).items() if not k.startswith("_")}
