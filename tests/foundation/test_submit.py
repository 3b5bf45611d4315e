"""Submits are idempotent: retries and concurrent duplicates store exactly one response."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from workbench.consent import withdraw
from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.participants.submit import submit_response
from workbench.storage.engine import session_scope
from workbench.studies import service as studies


@pytest.fixture
def participant(engine: Engine) -> int:
    with session_scope(engine) as s:
        st = studies.create_study(s, "SUB", "Submit study", actor="sm")
        studies.add_event(s, st, "BL", "Baseline", 0, actor="sm", instruments=["phq-9", "gad-7"])
        p = Participant(study_id=st.id, pseudonym="P-SUBMIT01", inclusion_date=date.today())
        s.add(p)
        s.flush()
        return p.id


PHQ = {f"q{i}": 1 for i in range(1, 10)}
GAD = {f"q{i}": 0 for i in range(1, 8)}


def _count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count(Response.id))).scalar_one()


def test_retry_with_same_key_is_a_no_op(engine: Engine, participant: int) -> None:
    key = uuid.uuid4().hex
    first = submit_response(engine, participant, "BL", "phq-9", PHQ, key)
    again = submit_response(engine, participant, "BL", "phq-9", PHQ, key)
    assert (again.response_id, again.duplicate, first.duplicate) == (first.response_id, True, False)
    with pytest.raises(ConflictError, match="already submitted"):
        submit_response(engine, participant, "BL", "phq-9", {**PHQ, "q1": 2}, uuid.uuid4().hex)
    assert _count(engine) == 1


def test_concurrent_duplicates_store_exactly_one(engine: Engine, participant: int) -> None:
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=8) as pool:
        receipts = list(pool.map(
            lambda _: submit_response(engine, participant, "BL", "gad-7", GAD, key), range(16)))
    assert len({r.response_id for r in receipts}) == 1
    assert sum(not r.duplicate for r in receipts) == 1
    assert _count(engine) == 1


def test_unscheduled_invalid_and_withdrawn_are_refused(engine: Engine, participant: int) -> None:
    with pytest.raises(ValidationError, match="not scheduled"):
        submit_response(engine, participant, "BL", "who-5", {}, uuid.uuid4().hex)

    def bad(_instrument: str, _answers: dict[str, object]) -> None:
        raise ValidationError("must be between 0 and 3", where="q1")

    with pytest.raises(ValidationError, match="q1"):
        submit_response(engine, participant, "BL", "phq-9", {"q1": 9}, uuid.uuid4().hex, validate=bad)
    with session_scope(engine) as s:
        withdraw(s, s.get(Participant, participant), "total", reason="moved away", actor="sm")
    with pytest.raises(ConflictError, match="withdrawn"):
        submit_response(engine, participant, "BL", "phq-9", PHQ, uuid.uuid4().hex)
    assert _count(engine) == 0
