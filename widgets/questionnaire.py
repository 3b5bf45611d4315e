"""The participant's questionnaire form: one question at a time, on a phone, in French or English.

Skip logic and the inline message come from the domain (``visible_items``, ``item_error``), so the
form refuses exactly what the server would refuse. Every Next saves a draft (answers, position and
the submission key), so a participant who closes the page resumes where they stopped, and a
resumed form sends the same key: a retry or a double click never makes two responses. "Thank
you" appears only once ``submit`` has returned, i.e. once the response is committed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any

import ipywidgets as w

from widgets.guarded import guarded, show_error, show_message
from widgets.questionnaire_keys import FORM_CLASS, EnterKey, style_sheet
from widgets.questionnaire_store import FormBackend, FormTarget
from workbench.errors import (
    ConfigError,
    ConflictError,
    SchemaOutOfDate,
    StoreUnavailable,
    WorkbenchError,
)
from workbench.instruments.answers import clean_answers, item_error, visible_items
from workbench.instruments.model import Instrument, Item, label_of

__all__ = ["FORM_TEXTS", "QuestionnaireForm", "ServiceBusy", "for_participants", "new_submission_key"]

log = logging.getLogger("widgets")

FORM_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "next": "Suivant", "previous": "Précédent", "submit": "Envoyer mes réponses",
        "sending": "Envoi en cours…", "switch": "English", "back": "Retour à la liste",
        "progress": "Question {n} / {total}",
        "review_title": "Dernière étape",
        "review": "Vous avez répondu à toutes les questions. Vous pouvez revenir en arrière avec "
                  "« Précédent », ou envoyer vos réponses.",
        "thanks": "Merci ! Vos réponses ont bien été enregistrées.",
        "resumed": "Vous reprenez là où vous vous étiez arrêté(e).",
        "source": "Source : ",
        "file": "Cette question ne peut pas être remplie en ligne ; l'équipe de l'étude vous contactera.",
        "licensed": "Ce questionnaire n'est pas encore disponible en ligne. Merci de contacter "
                    "l'équipe de l'étude.",
        "withdrawn": "Vous ne participez plus à cette étude : vos réponses n'ont pas été enregistrées. "
                     "Merci pour votre aide.",
        "stopped": "Vous avez demandé à ne plus répondre aux questionnaires : vos réponses n'ont pas "
                   "été enregistrées.",
        "reconsent": "Une nouvelle version du consentement doit être signée avant de répondre. "
                     "Vos réponses n'ont pas été enregistrées.",
        "already": "Ce questionnaire a déjà été envoyé pour cette date. Merci !",
        "busy": "Le service est momentanément indisponible. Vos réponses déjà validées sont "
                "gardées ; réessayez dans quelques minutes.",
        "yes": "Oui", "no": "Non", "date_hint": "AAAA-MM-JJ", "datetime_hint": "AAAA-MM-JJ HH:MM",
        "time_hint": "HH:MM",
    },
    "en": {
        "next": "Next", "previous": "Previous", "submit": "Send my answers",
        "sending": "Sending…", "switch": "Français", "back": "Back to the list",
        "progress": "Question {n} / {total}",
        "review_title": "Last step",
        "review": "You have answered all the questions. You can go back with “Previous”, or send "
                  "your answers.",
        "thanks": "Thank you! Your answers have been saved.",
        "resumed": "You are continuing where you left off.",
        "source": "Source: ",
        "file": "This question cannot be answered online; the study team will contact you.",
        "licensed": "This questionnaire is not available online yet. Please contact the study team.",
        "withdrawn": "You are no longer taking part in this study: your answers were not saved. "
                     "Thank you for your help.",
        "stopped": "You asked to stop answering questionnaires: your answers were not saved.",
        "reconsent": "A new version of the consent must be signed before answering. Your answers "
                     "were not saved.",
        "already": "This questionnaire was already sent for this date. Thank you!",
        "busy": "The service is unavailable for a moment. The answers you already confirmed are "
                "kept; please try again in a few minutes.",
        "yes": "Yes", "no": "No", "date_hint": "YYYY-MM-DD", "datetime_hint": "YYYY-MM-DD HH:MM",
        "time_hint": "HH:MM",
    },
}
_BLANK: tuple[Any, ...] = (None, "", [])


def new_submission_key() -> str:
    """32 URL-safe characters, made once per filling and reused by every retry."""
    return secrets.token_urlsafe(24)


def both(key: str) -> str:
    """A message in French then English, for refusals shown before the language is known."""
    return f"{FORM_TEXTS['fr'][key]} / {FORM_TEXTS['en'][key]}"


class ServiceBusy(WorkbenchError):
    """What a participant is told when the store cannot be used: no setting names, no paths."""

    def __init__(self) -> None:
        super().__init__(both("busy"))


def for_participants(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Store and configuration errors name settings and files, meant for operators, not for
    participants: those become ``ServiceBusy`` (the operator's details stay in the log)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (StoreUnavailable, SchemaOutOfDate) as exc:
            log.error("participant form: %s", type(exc).__name__)
            raise ServiceBusy() from exc

    return run


class QuestionnaireForm(w.VBox):  # type: ignore[misc]
    """One form filling. ``on_done(message)`` is called once the response is committed."""

    def __init__(self, backend: FormBackend, target: FormTarget, *, language: str = "fr",
                 on_done: Callable[[str], Any] | None = None, on_back: Callable[[], Any] | None = None,
                 ) -> None:
        self.backend, self.target = backend, target
        self.language = language if language in FORM_TEXTS else "fr"
        self._on_done, self._on_back = on_done, on_back
        self.answers: dict[str, Any] = {}
        self.position = 0
        self.submission_key = new_submission_key()
        self.finished = False
        self._submitting = False
        self._slider_touched = False
        self.instrument: Instrument | None = None

        self.status = w.HTML()
        self.heading = w.HTML()
        self.progress = w.HTML()
        self.question = w.HTML()
        self.item_message = w.HTML()
        self.answer_box = w.VBox()
        self.input: w.Widget | None = None
        self.attribution = w.HTML()
        self.switch_button = w.Button()
        self.previous_button = w.Button(icon="arrow-left")
        self.next_button = w.Button(button_style="primary")
        self.submit_button = w.Button(button_style="success")
        self.back_button = w.Button()
        self.enter_key = EnterKey(guarded(self.status)(for_participants(self._enter)))
        self.switch_button.on_click(guarded(self.status)(for_participants(lambda _b: self.switch_language())))
        self.previous_button.on_click(guarded(self.status)(for_participants(lambda _b: self.previous())))
        self.next_button.on_click(guarded(self.status)(for_participants(lambda _b: self.next())))
        self.submit_button.on_click(guarded(self.status)(for_participants(lambda _b: self.submit())))
        self.back_button.on_click(guarded(self.status)(for_participants(lambda _b: self._back())))
        nav = w.HBox([self.previous_button, self.next_button, self.submit_button])
        nav.add_class("weshare-nav")
        super().__init__([style_sheet(), self.enter_key, self.switch_button, self.heading, self.progress,
                          self.question, self.answer_box, self.item_message, nav, self.status,
                          self.back_button, self.attribution])
        self.add_class(FORM_CLASS)
        self._open()

    # -- what the participant sees ------------------------------------------------------------
    def t(self, key: str, **values: Any) -> str:
        return FORM_TEXTS[self.language][key].format(**values)

    def typed_answers(self) -> dict[str, Any]:
        assert self.instrument is not None
        return clean_answers(self.instrument, self.answers)[0]

    def visible(self) -> list[Item]:
        assert self.instrument is not None
        return visible_items(self.instrument, self.typed_answers())

    def current_item(self) -> Item | None:
        items = self.visible()
        return items[self.position] if self.position < len(items) else None

    def _open(self) -> None:
        try:
            instrument, draft = for_participants(self.backend.open)(self.target)
        except ConfigError:
            self._refuse("licensed")
            return
        except Exception as exc:
            self._hide_form()
            show_error(self.status, exc)
            return
        self.instrument = instrument
        if draft is not None:
            self.answers = dict(draft.answers)
            self.submission_key = draft.submission_key
            self.position = max(0, min(draft.position, len(self.visible())))
            show_message(self.status, self.t("resumed"))
        self.render()

    def _refuse(self, key: str) -> None:
        self._hide_form()
        show_message(self.status, both(key), kind="error")
        self.back_button.layout.display = "" if self._on_back else "none"
        self.back_button.description = self.t("back")

    def _hide_form(self) -> None:
        self.finished = True
        for part in (self.previous_button, self.next_button, self.submit_button, self.switch_button):
            part.layout.display = "none"
        self.answer_box.children = ()
        self.question.value = self.progress.value = self.item_message.value = ""
        self.back_button.layout.display = "none"

    def render(self) -> None:
        """Draw the current page (a question, or the last step before sending)."""
        assert self.instrument is not None
        lang = self.language
        self.switch_button.description = self.t("switch")
        self.previous_button.description = self.t("previous")
        self.next_button.description = self.t("next")
        self.submit_button.description = self.t("sending") if self._submitting else self.t("submit")
        self.back_button.description = self.t("back")
        self.back_button.layout.display = "none"
        title = escape(label_of(self.instrument.title, lang) or self.instrument.id)
        self.heading.value = f'<h1 lang="{lang}">{title}</h1>'
        self.attribution.value = (
            f'<p class="weshare-attribution" lang="en">{escape(self.t("source"))}'
            f"{escape(self.instrument.attribution)}</p>" if self.instrument.attribution else "")
        items = self.visible()
        self.previous_button.layout.display = "" if self.position > 0 else "none"
        self.item_message.value = ""
        if self.position >= len(items):
            self.progress.value = ""
            self.question.value = (f'<h2 lang="{lang}">{escape(self.t("review_title"))}</h2>'
                                   f'<p lang="{lang}">{escape(self.t("review"))}</p>')
            self.answer_box.children = ()
            self.input = None
            self.next_button.layout.display = "none"
            self.submit_button.layout.display = ""
            self.enter_key.focus_on(self.submit_button)
            return
        item = items[self.position]
        self.progress.value = (f'<p class="weshare-progress" role="status" lang="{lang}">'
                               f'{escape(self.t("progress", n=self.position + 1, total=len(items)))}</p>')
        parts = []
        stem = label_of(item.section_label, lang)
        if stem:
            parts.append(f'<p class="weshare-stem" lang="{lang}">{escape(stem)}</p>')
        parts.append(f'<h2 id="q-{escape(item.name)}" lang="{lang}">{escape(label_of(item.label, lang))}</h2>')
        hint = label_of(item.hint, lang)
        if hint:
            parts.append(f'<p class="weshare-hint" lang="{lang}">{escape(hint)}</p>')
        if item.kind == "file":
            parts.append(f'<p lang="{lang}">{escape(self.t("file"))}</p>')
        self.question.value = "".join(parts)
        self.input = self._input_for(item, self.answers.get(item.name))
        self.answer_box.children = (self.input,) if self.input is not None else ()
        self.next_button.layout.display = ""
        self.submit_button.layout.display = "none"
        self.enter_key.focus_on(self.input or self.next_button)

    def _input_for(self, item: Item, value: Any) -> w.Widget | None:
        lang, full = self.language, w.Layout(width="100%")
        if item.kind in ("single", "yesno"):
            if item.kind == "yesno":
                options = [(self.t("yes"), "1"), (self.t("no"), "0")]
            else:
                options = [(label_of(c.label, lang) or c.code, c.code) for c in item.choices]
            chosen = str(value) if value not in _BLANK and str(value) in {o[1] for o in options} else None
            return w.RadioButtons(options=options, value=chosen, layout=full)
        if item.kind == "multiple":
            picked = {str(v) for v in (value or [])}
            boxes = [w.Checkbox(value=c.code in picked, description=label_of(c.label, lang) or c.code,
                                indent=False, layout=full) for c in item.choices]
            for box, choice in zip(boxes, item.choices, strict=True):
                box._weshare_code = choice.code  # type: ignore[attr-defined]
            return w.VBox(boxes, layout=full)
        if item.kind == "slider":
            low = int(float(item.minimum)) if item.minimum not in (None, "") else 0
            high = int(float(item.maximum)) if item.maximum not in (None, "") else 100
            self._slider_touched = value not in _BLANK
            slider = w.IntSlider(value=int(value) if value not in _BLANK else low, min=low, max=high,
                                 layout=full)
            slider.observe(self._touch_slider, names="value")
            return slider
        if item.kind == "date":
            try:
                start = date.fromisoformat(str(value)) if value not in _BLANK else None
            except ValueError:
                start = None
            return w.DatePicker(value=start, layout=full)
        if item.kind == "notes":
            return w.Textarea(value="" if value in _BLANK else str(value), layout=full, rows=4)
        if item.kind in ("integer", "decimal", "text", "datetime", "time"):
            placeholder = self.t(f"{item.kind}_hint") if item.kind in ("datetime", "time") else ""
            return w.Text(value="" if value in _BLANK else str(value), placeholder=placeholder, layout=full)
        return None  # display and file: nothing to answer here

    def _touch_slider(self, _change: dict[str, Any]) -> None:
        self._slider_touched = True

    def read_input(self) -> Any:
        """The current page's answer as the domain expects it (codes, lists, ISO dates, text)."""
        widget = self.input
        if widget is None:
            return None
        if isinstance(widget, w.RadioButtons):
            return widget.value
        if isinstance(widget, w.IntSlider):
            return widget.value if self._slider_touched else None
        if isinstance(widget, w.DatePicker):
            return widget.value.isoformat() if widget.value else None
        if isinstance(widget, w.VBox):
            return [box._weshare_code for box in widget.children if box.value]  # type: ignore[attr-defined]
        text = str(widget.value).strip()
        return text or None

    # -- actions ------------------------------------------------------------------------------
    def _keep(self, item: Item, value: Any) -> None:
        if value in _BLANK:
            self.answers.pop(item.name, None)
        else:
            self.answers[item.name] = value

    def next(self) -> bool:
        """Check the answer; if acceptable keep it, move on and save the draft. True if moved."""
        if self.finished or self.instrument is None:
            return False
        item = self.current_item()
        if item is None:
            return False
        value = self.read_input()
        if item.answered and item.kind != "file":
            message = item_error(item, value, self.typed_answers(), self.language)
            if message:
                self.item_message.value = (f'<p role="alert" class="weshare-item-error" '
                                           f'lang="{self.language}">{escape(message)}</p>')
                self.enter_key.focus_on(self.input or self.next_button)
                return False
            self._keep(item, value)
        self.position = min(self.position + 1, len(self.visible()))
        self.status.value = ""
        self.render()
        self.backend.save(self.target, self.answers, self.position, self.submission_key)
        return True

    def previous(self) -> None:
        """Back one page; a valid answer on the page left is kept, an invalid one is not."""
        if self.finished or self.position == 0 or self.instrument is None:
            return
        item = self.current_item()
        if item is not None and item.answered:
            value = self.read_input()
            if value not in _BLANK and item_error(item, value, self.typed_answers(), self.language) is None:
                self._keep(item, value)
        self.position -= 1
        self.status.value = ""
        self.render()

    def _enter(self, seen: dict[str, Any]) -> None:
        """Enter continues; what the page showed when it was pressed is the answer."""
        widget = self.input
        index = seen.get("index")
        if isinstance(widget, w.RadioButtons) and "index" in seen:
            if index is None or (isinstance(index, int) and 0 <= index < len(widget.options)):
                widget.index = index
        elif isinstance(widget, w.Text) and isinstance(seen.get("text"), str):
            widget.value = seen["text"]
        if self.current_item() is not None:
            self.next()
        else:
            self.submit()

    def switch_language(self) -> None:
        self.language = "en" if self.language == "fr" else "fr"
        if not self.finished:
            self.render()

    def submit(self) -> bool:
        """Send once; a failure re-enables the button and keeps the key for the retry."""
        if self.finished or self._submitting or self.instrument is None or self.current_item() is not None:
            return False
        self._submitting = True
        self.submit_button.disabled = self.previous_button.disabled = True
        self.submit_button.description = self.t("sending")
        try:
            self.backend.submit(self.target, dict(self.answers), self.submission_key)
        except ConflictError:
            self._submitting = False
            self._refuse(self.backend.blocked(self.target) or "already")
            return False
        except BaseException:
            self._submitting = False
            self.submit_button.disabled = self.previous_button.disabled = False
            self.submit_button.description = self.t("submit")
            raise  # guarded shows it; the same key is sent again on the next click
        self._submitting = False
        self._hide_form()
        show_message(self.status, self.t("thanks"))
        if self._on_done is not None:
            self._on_done(self.t("thanks"))
        return True

    def _back(self) -> None:
        if self._on_back is not None:
            self._on_back()
