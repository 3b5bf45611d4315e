"""The page an invitation link opens: the study's text, and "I am interested" (FR/EN)."""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

import ipywidgets as w

from widgets._store import in_session
from widgets.guarded import guarded, show_message
from workbench.errors import NotFoundError
from workbench.portal.campaigns import open_invite, sign_up
from workbench.settings import Settings

__all__ = ["campaign_landing"]

TEXTS = {"fr": ("Je suis intéressé(e)", "Merci ! L'équipe de l'étude prendra contact avec vous par "
                "l'intermédiaire du tiers de confiance."),
         "en": ("I am interested", "Thank you! The study team will contact you through the trusted third party.")}
UNKNOWN = ('<p role="alert" lang="fr">Ce lien d\'invitation est inconnu.</p>'
           '<p role="alert" lang="en">This invitation link is unknown.</p>')


def campaign_landing(settings: Settings, query_string: str, language: str = "fr") -> w.Widget:
    token = (parse_qs(query_string or "").get("invite") or [""])[0]
    lang = language if language in TEXTS else "fr"
    try:
        title, body = in_session(settings, lambda s: (lambda c: (c.title[lang], c.body[lang]))(open_invite(s, token)))
    except NotFoundError:
        return w.HTML(UNKNOWN)
    status = w.HTML()
    button = w.Button(description=TEXTS[lang][0], button_style="primary", layout=w.Layout(min_height="44px"))

    def interested(_: object) -> None:
        in_session(settings, lambda s: sign_up(s, token))
        button.disabled = True
        show_message(status, TEXTS[lang][1])

    button.on_click(guarded(status)(interested))
    return w.VBox([w.HTML(f'<h1 lang="{lang}">{escape(title)}</h1><p lang="{lang}">{escape(body)}</p>'),
                   button, status], layout=w.Layout(max_width="40rem"))
