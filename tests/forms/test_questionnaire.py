"""The questionnaire form driven without a browser: answer, Next, Previous, Enter, submit."""

from __future__ import annotations

from datetime import date
from typing import Any

import ipywidgets as w
import pytest
from sqlalchemy import func, select

from widgets.questionnaire import FORM_TEXTS, QuestionnaireForm
from widgets.questionnaire_store import FormStore, FormTarget
from workbench.consent import withdraw
from workbench.participants.drafts import load_draft
from workbench.participants.models import Participant, Response
from workbench.storage.engine import session_scope

from .conftest import World, shown


def _responses(store: FormStore) -> list[Response]:
    with session_scope(store.engine) as s:
        rows = list(s.execute(select(Response)).scalars())
        s.expunge_all()
        return rows


def _answer(form: QuestionnaireForm, value: Any) -> None:
    widget = form.input
    if isinstance(widget, w.VBox):  # checkboxes
        for box in widget.children:
            box.value = box._weshare_code in value
    else:
        assert widget is not None
        widget.value = value


def _fill_phq(form: QuestionnaireForm, codes: list[str]) -> None:
    for code in codes:
        _answer(form, code)
        assert form.next(), shown(form.item_message)


def test_one_question_at_a_time_with_progress_and_inline_errors(store: FormStore, world: World) -> None:
    form = QuestionnaireForm(store, world.target(), language="fr")
    assert "Question 1 / 9" in shown(form.progress)
    assert "Peu d'intérêt" in shown(form.question) and "2 dernières semaines" in shown(form.question)
    assert isinstance(form.input, w.RadioButtons) and form.input.value is None
    assert form.input.options[0][0] == "Jamais"
    assert "Spitzer" in form.attribution.value  # library instrument: attribution line

    form.next_button.click()  # nothing picked: explained inline, in French, and we stay
    assert "Merci de répondre à cette question." in shown(form.item_message)
    assert 'role="alert"' in shown(form.item_message) and "Question 1 / 9" in shown(form.progress)
    form.switch_button.click()
    assert "Little interest" in shown(form.question) and form.next_button.description == "Next"
    form.next_button.click()
    assert "Please answer this question." in shown(form.item_message)

    form.input.value = "0"
    form.enter_key.press(index=1)  # Enter continues, with the choice the page showed ("1")
    # a problem reported: the difficulty question (q10) now counts
    assert "Question 2 / 10" in shown(form.progress) and shown(form.item_message) == ""
    form.previous_button.click()
    assert "Question 1 / 10" in shown(form.progress) and form.input.value == "1"  # kept


def test_skip_logic_is_applied_live(store: FormStore, world: World) -> None:
    form = QuestionnaireForm(store, world.target(), language="en")
    _fill_phq(form, ["0"] * 9)
    assert form.current_item() is None  # q10 hidden: every answer was 0
    assert FORM_TEXTS["en"]["review"] in shown(form.question)
    assert form.submit_button.layout.display == "" and form.next_button.layout.display == "none"
    for _ in range(9):
        form.previous()
    _answer(form, "2")  # one problem: the difficulty question (q10) appears
    form.next()
    assert "Question 2 / 10" in shown(form.progress)


def test_mixed_kinds_validation_and_skip(store: FormStore, world: World) -> None:
    form = QuestionnaireForm(store, world.target("mixed-demo"), language="fr")
    assert "Quelques questions." in shown(form.question) and form.input is None
    form.next()
    assert [o[0] for o in form.input.options] == ["Oui", "Non"]
    _answer(form, "0")
    form.next()
    assert "Heures de sommeil" in shown(form.question)  # q_reason skipped: no pain
    for bad, message in [("douze", "Saisissez un nombre entier."), ("30", "au plus 24")]:
        _answer(form, bad)
        assert not form.next()
        assert message in shown(form.item_message)
    form.switch_language()
    _answer(form, "-1")
    assert not form.next() and "at least 0" in shown(form.item_message)
    _answer(form, "7")
    assert form.next()
    form.next()  # mood is optional
    _answer(form, ["a", "b"])
    form.next()
    _answer(form, date(2026, 1, 5))
    form.next()
    form.input.value = 4  # the slider counts only once moved
    form.next()
    _answer(form, "Rien à signaler")
    form.next()
    assert form.current_item() is None
    assert form.answers == {"q_pain": "0", "q_hours": "7", "q_aids": ["a", "b"], "q_day": "2026-01-05",
                            "q_score": 4, "q_notes": "Rien à signaler"}
    assert form.submit()
    stored = _responses(store)[0].answers
    assert stored["q_hours"] == 7 and stored["q_aids"] == ["a", "b"] and stored["q_score"] == 4


def test_resume_after_rebuilding_the_widget(store: FormStore, world: World) -> None:
    first = QuestionnaireForm(store, world.target(), language="fr")
    _fill_phq(first, ["1", "2", "0"])
    key = first.submission_key
    # The phone's browser is closed: a new page builds a new widget from the store.
    again = QuestionnaireForm(FormStore(world.settings), world.target(), language="fr")
    assert "Question 4 / 10" in shown(again.progress)
    assert again.answers == {"q1": "1", "q2": "2", "q3": "0"} and again.submission_key == key
    assert "Vous reprenez" in shown(again.status)
    again.previous()
    assert again.input.value == "0"


def test_double_submit_and_retry_make_one_response(store: FormStore, world: World) -> None:
    form = QuestionnaireForm(store, world.target(), language="fr")
    _fill_phq(form, ["1"] * 9 + ["0"])
    form.submit_button.click()
    form.submit_button.click()
    assert len(_responses(store)) == 1
    assert FORM_TEXTS["fr"]["thanks"] in shown(form.status) and form.finished

    class LostAcknowledgement:
        """The commit happens but the answer is lost on the way back, once."""

        def __init__(self, inner: FormStore) -> None:
            self.inner, self.calls = inner, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def submit(self, target: FormTarget, answers: dict[str, Any], key: str) -> Any:
            self.calls += 1
            receipt = self.inner.submit(target, answers, key)
            if self.calls == 1:
                raise ConnectionError("connection reset")
            return receipt

    flaky = LostAcknowledgement(store)
    other = QuestionnaireForm(flaky, world.target("mixed-demo"), language="en")
    other.answers = {"q_pain": "1", "q_reason": "knee", "q_hours": "8"}
    other.position = len(other.visible())
    other.render()
    other.submit_button.click()
    assert "unexpected error" in shown(other.status) and "Thank" not in shown(other.status)
    assert not other.submit_button.disabled and not other.finished
    other.submit_button.click()  # the retry sends the same key: found, not stored again
    assert flaky.calls == 2 and "Thank you" in shown(other.status)
    rows = _responses(store)
    assert len(rows) == 2 and sum(r.instrument_id == "mixed-demo" for r in rows) == 1


def test_thank_you_only_after_the_submit_returned(store: FormStore, world: World) -> None:
    seen: list[str] = []

    class Watching:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def submit(self, target: FormTarget, answers: dict[str, Any], key: str) -> Any:
            seen.append(shown(form.status) + form.submit_button.description)
            assert form.submit_button.disabled
            return store.submit(target, answers, key)

    form = QuestionnaireForm(Watching(), world.target(), language="fr")
    _fill_phq(form, ["0"] * 9)
    form.submit()
    assert "Merci" not in seen[0] and "Envoi en cours" in seen[0]
    assert "Merci" in shown(form.status)


def test_submit_after_withdrawal_is_refused_politely(store: FormStore, world: World) -> None:
    form = QuestionnaireForm(store, world.target(), language="fr")
    _fill_phq(form, ["0"] * 9)
    with session_scope(store.engine) as s:
        withdraw(s, s.get(Participant, world.participant_id), "total", reason="not given", actor="sm")
    assert not form.submit()
    assert FORM_TEXTS["fr"]["withdrawn"] in shown(form.status)
    assert FORM_TEXTS["en"]["withdrawn"] in shown(form.status)
    assert "Traceback" not in shown(form.status) and form.finished
    assert _responses(store) == []
    with session_scope(store.engine) as s:  # the draft is left as it was, nothing else written
        assert load_draft(s, world.participant_id, "M0", "phq-9") is not None
        assert s.execute(select(func.count(Response.id))).scalar_one() == 0


def test_licensed_instrument_without_texts_is_refused_politely(store: FormStore, world: World) -> None:
    form = QuestionnaireForm(store, world.target("qlq-c30"), language="en")
    assert FORM_TEXTS["en"]["licensed"] in shown(form.status)
    assert FORM_TEXTS["fr"]["licensed"] in shown(form.status)
    assert form.finished and form.answer_box.children == () and not form.next()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_text_exists_in_both_languages(language: str) -> None:
    assert FORM_TEXTS[language].keys() == FORM_TEXTS["fr"].keys()


def test_store_trouble_is_told_without_paths_or_settings(store: FormStore, world: World) -> None:
    from workbench.errors import StoreUnavailable

    class Down:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def save(self, *_: Any) -> None:
            raise StoreUnavailable("WESHARE_DATABASE_URL: cannot reach sqlite:////srv/weshare.sqlite (locked)")

    form = QuestionnaireForm(Down(), world.target(), language="fr")
    _answer(form, "0")
    form.next_button.click()
    assert FORM_TEXTS["fr"]["busy"] in shown(form.status) and FORM_TEXTS["en"]["busy"] in shown(form.status)
    assert "WESHARE_DATABASE_URL" not in form.status.value and "sqlite" not in form.status.value
