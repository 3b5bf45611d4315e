"""A task's record goes through the questionnaires' submit path and is stored like a questionnaire;
the task widgets, driven as a browser would (the JS messages simulated), store what they timed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.psychometrics.conftest import World
from widgets.psychometric_task import (
    FluencyTask,
    PsychometricSession,
    SymbolDigitTask,
    TaskStore,
    psychometric_form,
)
from widgets.questionnaire_store import FormTarget
from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Response
from workbench.psychometrics import make_form, submit_task
from workbench.runtime import open_operational
from workbench.storage.engine import session_scope

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "forms" / "psychometric.ipynb"


def _stored(world: World, instrument: str) -> list[Response]:
    engine = open_operational(world.settings)
    try:
        with session_scope(engine) as s:
            rows = s.execute(sa.select(Response).where(Response.participant_id == world.participant_id,
                                                       Response.instrument_id == instrument)).scalars().all()
            s.expunge_all()
            return list(rows)
    finally:
        engine.dispose()


def test_submit_task_stores_scores_and_record_once(world: World) -> None:
    engine = open_operational(world.settings)
    form = make_form(21)
    trials = [{"position": i, "answer": form.digit_of(g), "t": 1200 * (i + 1)} for i, g in enumerate(form.items[:80])]
    try:
        first = submit_task(engine, world.participant_id, "M0", "symbol-digit", {"seed": 21, "trials": trials},
                            "k" * 20)
        again = submit_task(engine, world.participant_id, "M0", "symbol-digit", {"seed": 21, "trials": trials},
                            "k" * 20)
        with pytest.raises(ConflictError):
            submit_task(engine, world.participant_id, "M0", "symbol-digit", {"seed": 21, "trials": trials}, "z" * 20)
        with pytest.raises(ValidationError, match="word as text"):
            submit_task(engine, world.participant_id, "M0", "verbal-fluency",
                        {"mode": "letter", "cue": "P", "words": [{"text": "pomme", "t": 5}, {"text": 3}]}, "v" * 20)
    finally:
        engine.dispose()
    assert again.duplicate and again.response_id == first.response_id
    (row,) = _stored(world, "symbol-digit")
    assert row.answers["sd_correct"] == 75 and row.answers["sd_attempted"] == 75  # the 75th comes at 90.0 s
    assert len(row.answers["_trials"]) == 80
    assert _stored(world, "verbal-fluency") == []  # the refused record wrote nothing


def _run_symbol_digit(session: PsychometricSession, answers: int, gap_ms: int) -> None:
    task = session.task
    assert isinstance(task, SymbolDigitTask)
    glyph_digit = {g: d for d, g in enumerate(task.key, start=1)}
    task.receive(event="start")
    for i in range(answers):
        task.receive(event="answer", position=i, answer=glyph_digit[task.items[i]], t=gap_ms * (i + 1))
    task.receive(event="done", n=answers, t=90_000)


def test_the_symbol_digit_widget_stores_what_the_browser_timed(world: World) -> None:
    store = TaskStore(world.settings)
    try:
        page = PsychometricSession(store, FormTarget(world.participant_id, "M0", "symbol-digit"), seed=8)
        assert page.task.key == list(make_form(8).key) and page.task.limit_ms == 90_000
        _run_symbol_digit(page, answers=50, gap_ms=1500)
    finally:
        store.close()
    assert page.result is not None and page.result["sd_correct"] == 50
    assert "50" in page.status.value and page.save.disabled
    (row,) = _stored(world, "symbol-digit")
    assert row.answers["sd_seed"] == 8 and row.answers["sd_median_ms"] == 1500


def test_a_lost_message_is_never_scored(world: World) -> None:
    store = TaskStore(world.settings)
    try:
        page = PsychometricSession(store, FormTarget(world.participant_id, "M0", "symbol-digit"), seed=8)
        page.task.receive(event="start")
        page.task.receive(event="answer", position=0, answer=1, t=900)
        page.task.receive(event="done", n=2, t=90_000)  # the browser sent two
    finally:
        store.close()
    assert page.result is None and "2 responses sent, 1 received" in page.status.value
    assert _stored(world, "symbol-digit") == []


def test_fluency_words_typed_live_then_intrusions_marked(world: World) -> None:
    store = TaskStore(world.settings)
    try:
        page = PsychometricSession(store, FormTarget(world.participant_id, "M0", "verbal-fluency"), language="en",
                                   mode="category", cue="animals")
        task = page.task
        assert isinstance(task, FluencyTask) and page.save.disabled
        task.receive(event="start")
        for text, t in (("cat", 1000), ("dog", 4000), ("Cats", 9000), ("apple", 20000), ("horse", 40000)):
            task.receive(event="word", text=text, t=t)
        task.receive(event="done", n=5, t=60_000)
        assert len(page.marks) == 5 and not page.save.disabled
        page.marks[3].value = True  # apple is not an animal
        page.save.click()
        page.save.click()  # a second click finds the first response
    finally:
        store.close()
    (row,) = _stored(world, "verbal-fluency")
    assert (row.answers["vf_correct"], row.answers["vf_repetitions"], row.answers["vf_intrusions"]) == (3, 1, 1)
    assert row.answers["vf_q1"] == 2 and row.answers["_intrusions"] == [3]
    assert "Result saved: 3" in page.status.value


def test_fluency_counts_entered_at_the_end(world: World) -> None:
    store = TaskStore(world.settings)
    try:
        page = PsychometricSession(store, FormTarget(world.participant_id, "M0", "verbal-fluency"), mode="letter",
                                   cue="P")
        page.counts["total"].value = 4
        page.counts["repetitions"].value = 3
        page.counts["intrusions"].value = 2
        page.save.click()
        assert "more than the words said" in page.status.value and not page.save.disabled
        page.counts["total"].value = 16
        page.save.click()
    finally:
        store.close()
    (row,) = _stored(world, "verbal-fluency")
    assert row.answers["vf_correct"] == 11 and row.answers["vf_entry"] == "counts"


def test_the_form_page_opens_the_due_task_from_the_link(world: World) -> None:
    page = psychometric_form(world.settings, f"access={world.token}&task=verbal-fluency&mode=letter&cue=R")
    assert isinstance(page, PsychometricSession) and page.payload == {"mode": "letter", "cue": "R",
                                                                      "limit_ms": 60_000}
    page.backend.close()  # type: ignore[attr-defined]
    first = psychometric_form(world.settings, f"access={world.token}")
    assert isinstance(first, PsychometricSession) and first.target.instrument_id == "symbol-digit"
    first.backend.close()  # type: ignore[attr-defined]
    assert "unknown or has expired" in psychometric_form(world.settings, "access=nope").value


def test_the_notebook_is_thin_and_has_no_outputs() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert len(notebook["cells"]) <= 3
    assert all(not c.get("outputs") for c in notebook["cells"])
    assert "psychometric_form" in "".join("".join(c["source"]) for c in notebook["cells"])
