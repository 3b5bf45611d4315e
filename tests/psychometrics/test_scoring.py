"""Scoring of the cognitive tasks from the browser's raw record: pure functions, no store."""

from __future__ import annotations

import pytest

from workbench.errors import ValidationError
from workbench.psychometrics import (
    GLYPHS,
    make_form,
    normalise,
    score_counts,
    score_task,
    score_trials,
    score_words,
)
from workbench.psychometrics.fluency import Word, parse_words
from workbench.psychometrics.symbol_digit import parse_trials


def _answers(form, times, wrong=()):  # type: ignore[no-untyped-def]
    out = []
    for i, t in enumerate(times):
        right = form.digit_of(form.items[i])
        out.append({"position": i, "answer": right % 9 + 1 if i in wrong else right, "t": t})
    return out


def test_a_seed_always_gives_the_same_form_and_a_key_of_all_nine_glyphs() -> None:
    first, again, other = make_form(11), make_form(11), make_form(12)
    assert first == again
    assert first.key != other.key or first.items != other.items
    assert sorted(first.key) == sorted(GLYPHS)
    assert all(a != b for a, b in zip(first.items, first.items[1:], strict=False))  # never twice in a row
    assert [first.digit_of(GLYPHS.index(g)) for g in first.key] == list(range(1, 10))


def test_correct_answers_within_90_seconds_are_the_score() -> None:
    form = make_form(5)
    times = [1000 * (i + 1) for i in range(95)]  # one a second: answers 91–95 come after 90 s
    record = score_trials(form, parse_trials(form, _answers(form, times, wrong={2, 40})))
    assert (record.correct, record.errors, record.attempted) == (88, 2, 90)
    assert record.median_ms == 1000


def test_a_slower_participant_scores_fewer() -> None:
    form = make_form(5)
    quick = score_trials(form, parse_trials(form, _answers(form, [700 * (i + 1) for i in range(120)])))
    slow = score_trials(form, parse_trials(form, _answers(form, [1500 * (i + 1) for i in range(60)])))
    assert quick.correct == 120 and slow.correct == 60 and slow.median_ms == 1500


@pytest.mark.parametrize(("bad", "where", "message"), [
    ({"position": 1, "answer": 3, "t": 10}, "answer 1, position", "out of order"),
    ({"position": 0, "answer": 0, "t": 10}, "answer 1, answer", "digit 1–9"),
    ({"position": 0, "answer": "3", "t": 10}, "answer 1, answer", "whole number"),
    ({"position": 0, "answer": 3, "t": -5}, "answer 1, t", "backwards"),
])
def test_malformed_answers_are_refused_with_their_place(bad: dict, where: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_trials(make_form(1), [bad])
    assert where in caught.value.where


def test_time_that_goes_backwards_is_refused() -> None:
    form = make_form(1)
    record = _answers(form, [500, 900, 800])
    with pytest.raises(ValidationError, match="backwards") as caught:
        parse_trials(form, record)
    assert caught.value.where == "symbol-digit answer 3, t"


def test_the_score_is_computed_from_the_record_not_taken_from_the_browser() -> None:
    form = make_form(3)
    stored = score_task("symbol-digit", {"seed": 3, "trials": _answers(form, [800, 1600, 2400], wrong={1}),
                                         "sd_correct": 999})
    assert stored["sd_correct"] == 2 and stored["sd_errors"] == 1 and stored["sd_limit_s"] == 90
    assert stored["_trials"][1][2] == 1600


def test_normalise_sets_aside_case_accents_and_punctuation() -> None:
    assert normalise("Éléphant") == normalise("elephant") == normalise(" É-lé phant ")
    assert normalise("Chat") != normalise("Chien")


def test_fluency_counts_repetitions_intrusions_and_quarters() -> None:
    words = [Word("chat", 2000), Word("Chien", 9000), Word("chats", 16000), Word("pomme", 20000),
             Word("lion", 31000), Word("Éléphant", 50000), Word("elephant", 55000), Word("tigre", 61000)]
    score = score_words(words, mode="category", cue="animaux", intrusions=[3])
    assert (score.correct, score.repetitions, score.intrusions, score.total) == (4, 2, 1, 7)
    assert score.quarters == (2, 0, 1, 1)  # 0–15 s: chat, chien; 30–45: lion; 45–60: éléphant


def test_letter_fluency_counts_words_with_another_initial_as_intrusions() -> None:
    words = parse_words([{"text": "Pomme", "t": 1}, {"text": "banane", "t": 2}, {"text": "poire", "t": 3}])
    score = score_words(words, mode="letter", cue="p")
    assert (score.correct, score.intrusions) == (2, 1)


def test_examiner_counts_must_add_up() -> None:
    assert score_counts(18, 2, 1).correct == 15
    with pytest.raises(ValidationError, match="more than the words said"):
        score_counts(3, 2, 2)
    with pytest.raises(ValidationError, match="whole number") as caught:
        score_counts(10, -1, 0)
    assert caught.value.where == "fluency repetitions"


def test_fluency_record_becomes_typed_answers_with_the_raw_words() -> None:
    stored = score_task("verbal-fluency", {"mode": "letter", "cue": "P", "words": [
        {"text": "pain", "t": 1200}, {"text": "Pains", "t": 5000}, {"text": "rat", "t": 7000}]})
    assert {k: stored[k] for k in ("vf_correct", "vf_repetitions", "vf_intrusions", "vf_total", "vf_entry")} == {
        "vf_correct": 1, "vf_repetitions": 1, "vf_intrusions": 1, "vf_total": 3, "vf_entry": "words"}
    assert stored["_words"] == [["pain", 1200], ["Pains", 5000], ["rat", 7000]]
    counted = score_task("verbal-fluency", {"mode": "category", "cue": "animaux", "total": 20,
                                            "repetitions": 1, "intrusions": 2})
    assert counted["vf_correct"] == 17 and counted["vf_entry"] == "counts" and "_words" not in counted


def test_an_unknown_task_or_a_record_without_answers_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a psychometric task"):
        score_task("phq-9", {})
    with pytest.raises(ValidationError, match="list of answers"):
        score_task("symbol-digit", {"seed": 1})
    with pytest.raises(ValidationError, match="mode"):
        score_task("verbal-fluency", {"mode": "colours", "cue": "x", "total": 1, "repetitions": 0,
                                      "intrusions": 0})
