"""Participant home page (forms service): greet by pseudonymous ID and list what is due, FR/EN.

The participant is recognised only by the personal token in the link (``?access=``), which the
domain checks and audits. An unknown or expired link gives a plain page that says so and nothing
else. Kept light (no pandas, no plotting) because every page view costs a kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qs

import ipywidgets as w

from widgets._store import in_session
from widgets.guarded import show_error
from workbench.errors import NotFoundError
from workbench.participants.service import DueItem, due_items, participant_by_token
from workbench.settings import Settings

__all__ = ["TEXTS", "HomeView", "participant_home", "render_home", "token_from_query"]

TOKEN_PARAMETER = "access"
TEXTS = {
    "fr": {
        "hello": "Bonjour, participant {pseudonym}",
        "due": "À remplir maintenant",
        "nothing": "Rien à remplir pour le moment. Merci !",
        "until": "à remplir avant le {end}",
        "late": "en retard",
        "switch": "English",
        "bad_link": "Ce lien est inconnu ou a expiré. Contactez l'équipe de l'étude pour en recevoir un nouveau.",
    },
    "en": {
        "hello": "Hello, participant {pseudonym}",
        "due": "To fill in now",
        "nothing": "Nothing to fill in for now. Thank you!",
        "until": "to fill in before {end}",
        "late": "overdue",
        "switch": "Français",
        "bad_link": "This link is unknown or has expired. Please contact the study team for a new one.",
    },
}


@dataclass(frozen=True)
class HomeView:
    pseudonym: str
    language: str
    items: tuple[DueItem, ...]


def token_from_query(query_string: str) -> str:
    return (parse_qs(query_string or "").get(TOKEN_PARAMETER) or [""])[0].strip()


def render_home(view: HomeView, language: str) -> str:
    t = TEXTS[language if language in TEXTS else "fr"]
    parts = [f'<h1 lang="{language}">{escape(t["hello"].format(pseudonym=view.pseudonym))}</h1>',
             f"<h2>{escape(t['due'])}</h2>"]
    if not view.items:
        parts.append(f'<p role="status">{escape(t["nothing"])}</p>')
    else:
        rows = []
        for item in view.items:
            late = f' <strong class="overdue">({escape(t["late"])})</strong>' if item.overdue else ""
            rows.append(f"<li>{escape(item.event_label)} — {escape(item.instrument_id)}, "
                        f"{escape(t['until'].format(end=item.window_end.isoformat()))}{late}</li>")
        parts.append(f"<ul class=\"due-items\">{''.join(rows)}</ul>")
    return "".join(parts)


def bad_link_html() -> str:
    return (f'<p role="alert" lang="fr">{escape(TEXTS["fr"]["bad_link"])}</p>'
            f'<p role="alert" lang="en">{escape(TEXTS["en"]["bad_link"])}</p>')


def _load(settings: Settings, token: str) -> HomeView:
    def work(session):  # type: ignore[no-untyped-def]
        participant = participant_by_token(session, token, source="forms")
        return HomeView(participant.pseudonym, participant.language,
                        tuple(due_items(session, participant)))

    return in_session(settings, work)


def participant_home(settings: Settings, query_string: str) -> w.Widget:
    """The whole page for the link's query string."""
    token = token_from_query(query_string)
    try:
        view = _load(settings, token)
    except NotFoundError:
        return w.HTML(bad_link_html())
    except Exception as exc:
        status = w.HTML()
        show_error(status, exc)
        return status
    page = w.HTML(render_home(view, view.language))
    other = "en" if view.language == "fr" else "fr"
    switch = w.ToggleButton(value=False, description=TEXTS[view.language]["switch"])

    def on_switch(change: dict[str, object]) -> None:
        language = other if change["new"] else view.language
        page.value = render_home(view, language)
        switch.description = TEXTS[language]["switch"]

    switch.observe(on_switch, names="value")
    return w.VBox([switch, page])
