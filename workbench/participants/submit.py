"""Submitting a questionnaire: idempotent, acknowledged only once committed.

The client makes one ``submission_key`` per form filling and sends it with every retry. A retry, a
double click or a concurrent duplicate finds the stored response instead of making a second one:
the unique constraints decide, not a read-then-write race.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.instruments.answers import check_answers
from workbench.instruments.scoring import score_response
from workbench.instruments.store import get_instrument
from workbench.participants.drafts import clear_draft
from workbench.participants.models import Participant, Response
from workbench.participants.service import ensure_can_collect
from workbench.storage.engine import session_scope
from workbench.studies import alerts
from workbench.studies.models import ScheduleEvent

__all__ = ["Receipt", "submit_response"]

# Returns the cleaned answers to store, or None to store them as sent.
Validator = Callable[[str, dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Receipt:
    response_id: int
    duplicate: bool  # True when this call found an earlier identical submission


def _existing(engine: Engine, participant_id: int, event_code: str, instrument_id: str,
              key: str) -> Receipt | None:
    with session_scope(engine) as s:
        row = s.execute(
            select(Response).where(
                Response.participant_id == participant_id, Response.event_code == event_code,
                Response.instrument_id == instrument_id,
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        if row.submission_key != key:
            raise ConflictError("this questionnaire was already submitted for this time point")
        return Receipt(row.id, duplicate=True)


def submit_response(
    engine: Engine, participant_id: int, event_code: str, instrument_id: str,
    answers: dict[str, Any], submission_key: str, *, validate: Validator | None = None,
) -> Receipt:
    """Store one response in its own transaction and return only after the commit.

    Answers are checked against the instrument (server-side, whatever the client did), scored,
    and the study's alert rules run on the scores, all in the same transaction: an acknowledged
    response always has its scores and its alerts.
    """
    if not 16 <= len(submission_key) <= 64:
        raise ValidationError("submission key must be 16–64 characters", where="submission_key")
    found = _existing(engine, participant_id, event_code, instrument_id, submission_key)
    if found is not None:
        return found
    try:
        with session_scope(engine) as s:
            participant = s.get(Participant, participant_id)
            if participant is None:
                raise NotFoundError("unknown participant")
            ensure_can_collect(participant)
            event = s.execute(select(ScheduleEvent).where(
                ScheduleEvent.study_id == participant.study_id, ScheduleEvent.code == event_code
            )).scalar_one_or_none()
            if event is None or instrument_id not in event.instruments:
                raise ValidationError(f"{instrument_id} is not scheduled at {event_code}", where="event")
            if event.respondent_type != participant.respondent_type:
                raise ValidationError("this questionnaire is for another respondent type", where="event")
            if validate is not None:
                cleaned = validate(instrument_id, answers) or answers
            else:
                cleaned = check_answers(get_instrument(s, instrument_id), answers, participant.language)
            scores = score_response(instrument_id, cleaned)
            response = Response(participant_id=participant_id, event_code=event_code,
                                instrument_id=instrument_id, submission_key=submission_key,
                                answers={**cleaned, "_scores": scores} if scores else cleaned)
            s.add(response)
            s.flush()
            numbers = {k: float(v) for k, v in {**cleaned, **scores}.items()
                       if isinstance(v, int | float) and not isinstance(v, bool)}
            alerts.evaluate(s, response, numbers)
            clear_draft(s, participant_id, event_code, instrument_id)
            audit.record(s, actor=participant.pseudonym, action="response.submit",
                         object_type="response", object_id=response.id,
                         after={"event": event_code, "instrument": instrument_id,
                                "items": len(answers)})
            return Receipt(response.id, duplicate=False)
    except IntegrityError:
        # A concurrent submit won the race: report what it stored.
        found = _existing(engine, participant_id, event_code, instrument_id, submission_key)
        if found is None:
            raise
        return found
