"""Participant home page (forms service): greet by pseudonymous ID, list what is due, open a form.

The participant is recognised only by the personal token in the link (``?access=``), which the
domain checks and audits. An unknown or expired link gives a plain page that says so and nothing
else. Each due questionnaire has a button that opens its form (``widgets.questionnaire``); after
the submit is committed the page comes back to the list, which no longer shows it. Kept light (no
pandas, no plotting) because every page view costs a kernel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qs, urlencode

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets.guarded import guarded, show_error, show_message
from widgets.questionnaire import QuestionnaireForm, ServiceBusy, for_participants
from widgets.questionnaire_keys import FORM_CLASS, style_sheet
from widgets.questionnaire_store import FormStore, FormTarget
from workbench.errors import NotFoundError
from workbench.instruments.cognitive import PSYCHOMETRIC_IDS
from workbench.instruments.model import label_of
from workbench.instruments.store import get_instrument
from workbench.participants.models import Participant
from workbench.participants.service import DueItem, due_items, participant_by_token
from workbench.settings import Settings
from workbench.storage.engine import session_scope

__all__ = ["TEXTS", "DueEntry", "HomeView", "ParticipantHome", "participant_home", "render_home",
           "task_link_html", "token_from_query"]

log = logging.getLogger("widgets")
TOKEN_PARAMETER = "access"
TASK_PAGE = "psychometric.ipynb"  # timed tasks need the browser-timed page, not the questionnaire form
TEXTS = {
    "fr": {
        "hello": "Bonjour, participant {pseudonym}",
        "due": "À remplir maintenant",
        "nothing": "Rien à remplir pour le moment. Merci !",
        "until": "à remplir avant le {end}",
        "open": "Remplir",
        "late": "en retard",
        "switch": "English",
        "bad_link": "Ce lien est inconnu ou a expiré. Contactez l'équipe de l'étude pour en recevoir un nouveau.",
    },
    "en": {
        "hello": "Hello, participant {pseudonym}",
        "due": "To fill in now",
        "nothing": "Nothing to fill in for now. Thank you!",
        "until": "to fill in before {end}",
        "open": "Fill in",
        "late": "overdue",
        "switch": "Français",
        "bad_link": "This link is unknown or has expired. Please contact the study team for a new one.",
    },
}


@dataclass(frozen=True)
class DueEntry:
    """A due questionnaire with its title in both languages (the button's text)."""

    item: DueItem
    title: dict[str, str]


@dataclass(frozen=True)
class HomeView:
    participant_id: int
    pseudonym: str
    language: str
    entries: tuple[DueEntry, ...]

    @property
    def items(self) -> tuple[DueItem, ...]:
        return tuple(e.item for e in self.entries)


def token_from_query(query_string: str) -> str:
    return (parse_qs(query_string or "").get(TOKEN_PARAMETER) or [""])[0].strip()


def entry_label(entry: DueEntry, language: str) -> str:
    t = TEXTS[language if language in TEXTS else "fr"]
    item = entry.item
    late = f" ({t['late']})" if item.overdue else ""
    title = label_of(entry.title, language) or item.instrument_id
    return (f"{t['open']} : {title} — {item.event_label}, {t['until'].format(end=item.window_end.isoformat())}"
            f"{late}" if language == "fr" else
            f"{t['open']}: {title} — {item.event_label}, {t['until'].format(end=item.window_end.isoformat())}"
            f"{late}")


def render_home(view: HomeView, language: str) -> str:
    t = TEXTS[language if language in TEXTS else "fr"]
    parts = [f'<h1 lang="{language}">{escape(t["hello"].format(pseudonym=view.pseudonym))}</h1>',
             f'<h2 lang="{language}">{escape(t["due"])}</h2>']
    if not view.entries:
        parts.append(f'<p role="status" lang="{language}">{escape(t["nothing"])}</p>')
    return "".join(parts)


def task_link_html(entry: DueEntry, token: str, language: str) -> str:
    """A timed cognitive task opens its own page (times are taken in the browser there)."""
    query = urlencode({TOKEN_PARAMETER: token, "task": entry.item.instrument_id})
    return (f'<a class="weshare-task-link" href="{TASK_PAGE}?{escape(query)}" lang="{language}" '
            'style="display:block;padding:12px;min-height:48px;box-sizing:border-box;'
            f'border:1px solid #888;border-radius:4px">{escape(entry_label(entry, language))}</a>')


def bad_link_html() -> str:
    return (f'<p role="alert" lang="fr">{escape(TEXTS["fr"]["bad_link"])}</p>'
            f'<p role="alert" lang="en">{escape(TEXTS["en"]["bad_link"])}</p>')


def _view(session: Session, participant: Participant) -> HomeView:
    entries = []
    for item in due_items(session, participant):
        try:
            title = get_instrument(session, item.instrument_id).title
        except NotFoundError:
            title = {}
        entries.append(DueEntry(item, dict(title)))
    return HomeView(participant.id, participant.pseudonym, participant.language, tuple(entries))


def _load(store: FormStore, token: str) -> HomeView:
    with session_scope(store.engine) as session:
        return _view(session, participant_by_token(session, token, source="forms"))


class ParticipantHome(w.VBox):  # type: ignore[misc]
    """Language switch, greeting, one button per due questionnaire; a form replaces the list."""

    def __init__(self, store: FormStore, view: HomeView, token: str = "") -> None:
        self.store, self.view, self.token = store, view, token
        self.form: QuestionnaireForm | None = None
        self.switch = w.ToggleButton(value=False, description=TEXTS[view.language]["switch"])
        self.page = w.HTML()
        self.status = w.HTML()
        self.due_box = w.VBox(layout=w.Layout(width="100%"))
        self.switch.observe(guarded(self.status)(for_participants(lambda _c: self.render())), names="value")
        self._list = [self.switch, self.page, self.status, self.due_box]
        super().__init__([style_sheet(), *self._list])
        self.add_class(FORM_CLASS)
        self.render()

    @property
    def language(self) -> str:
        other = "en" if self.view.language == "fr" else "fr"
        return other if self.switch.value else self.view.language

    def render(self) -> None:
        language = self.language
        self.switch.description = TEXTS[language]["switch"]
        self.page.value = render_home(self.view, language)
        buttons = []
        for entry in self.view.entries:
            if entry.item.instrument_id in PSYCHOMETRIC_IDS:
                buttons.append(w.HTML(task_link_html(entry, self.token, language)))
                continue
            button = w.Button(description=entry_label(entry, language), layout=w.Layout(width="100%"))
            button.on_click(guarded(self.status)(for_participants(lambda _b, e=entry: self.open_form(e))))
            buttons.append(button)
        self.due_box.children = tuple(buttons)

    def open_form(self, entry: DueEntry) -> QuestionnaireForm:
        item = entry.item
        target = FormTarget(self.view.participant_id, item.event_code, item.instrument_id)
        self.status.value = ""
        self.form = QuestionnaireForm(self.store, target, language=self.language,
                                      on_done=self._submitted, on_back=self.show_list)
        self.children = (self.children[0], self.form)
        return self.form

    def _submitted(self, message: str) -> None:
        self.show_list()
        show_message(self.status, message)

    def show_list(self) -> None:
        """Back to the list, reloaded: what was just submitted is no longer due."""
        language = self.form.language if self.form is not None else self.language
        with session_scope(self.store.engine) as session:
            participant = session.get(Participant, self.view.participant_id)
            if participant is not None:
                self.view = _view(session, participant)
        self.form = None
        self.children = (self.children[0], *self._list)
        if language != self.language:
            self.switch.value = not self.switch.value  # re-renders through the observer
        else:
            self.render()


def participant_home(settings: Settings, query_string: str) -> w.Widget:
    """The whole page for the link's query string."""
    token = token_from_query(query_string)
    store = FormStore(settings)
    try:
        view = for_participants(_load)(store, token)
    except NotFoundError:
        store.close()
        return w.HTML(bad_link_html())
    except Exception as exc:
        store.close()
        log.error("participant home failed: %s", type(exc).__name__)  # the type only: no row data
        status = w.HTML()
        show_error(status, exc if isinstance(exc, ServiceBusy) else RuntimeError())
        return status
    return ParticipantHome(store, view, token)
