"""The participant's portal page (forms service, personal link): my consents, my results, my rights.

Reached with the same personal link as the questionnaires. It lists the consents signed (each
PDF downloadable), the lay results published for the participant's studies, the data-rights
requests filed and their deadlines, and lets the participant file a new one (copy, portable
copy, opposition, rectification, restriction, erasure) straight into the study team's queue.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

import ipywidgets as w
from sqlalchemy import select
from sqlalchemy.orm import Session

from widgets._store import in_session
from widgets.guarded import guarded, show_message
from widgets.participant_home import token_from_query
from workbench.consent.models import ConsentDocument, ConsentRecord
from workbench.errors import NotFoundError, WorkbenchError
from workbench.participants.rights import KINDS, RightsRequest, file_request
from workbench.participants.service import participant_by_token
from workbench.portal.service import results_for
from workbench.settings import Settings
from workbench.studies.models import Study

__all__ = ["LABELS", "PortalView", "load_portal", "participant_portal", "preferences_box", "render_portal"]

LABELS = {
    "fr": {"consents": "Mes consentements", "results": "Résultats de mes études", "rights": "Mes demandes",
           "none": "Rien pour le moment.", "file": "Faire une demande", "send": "Envoyer",
           "details": "Précisez (obligatoire pour rectification, limitation, effacement)",
           "sent": "Demande enregistrée : l'équipe y répondra avant le {due}.", "version": "version",
           "kinds": {"copy": "Copie de mes données", "portability": "Copie portable (fichier)",
                     "opposition": "Opposition à la réutilisation", "rectification": "Rectification",
                     "restriction": "Limitation du traitement", "erasure": "Effacement"},
           "due": "réponse avant le", "bad_link": "Ce lien est inconnu ou a expiré.",
           "prefs": "Comment nous pouvons vous contacter", "email": "Rappels et suivi de l'étude par e-mail",
           "results_pref": "Recevoir les résultats de l'étude", "new": "Être informé(e) de nouvelles études",
           "save": "Enregistrer mes préférences", "saved": "Préférences enregistrées.",
           "no_prefs": "Vos préférences de contact se gèrent avec l'équipe de votre étude."},
    "en": {"consents": "My consents", "results": "Results of my studies", "rights": "My requests",
           "none": "Nothing yet.", "file": "Make a request", "send": "Send",
           "details": "Details (required for rectification, restriction, erasure)",
           "sent": "Request recorded: the team will answer before {due}.", "version": "version",
           "kinds": {"copy": "A copy of my data", "portability": "A portable copy (file)",
                     "opposition": "Opposition to reuse", "rectification": "Rectification",
                     "restriction": "Restriction of processing", "erasure": "Erasure"},
           "due": "answer before", "bad_link": "This link is unknown or has expired.",
           "prefs": "How we may contact you", "email": "Study reminders and follow-up by e-mail",
           "results_pref": "Receive the study's results", "new": "Hear about new studies",
           "save": "Save my preferences", "saved": "Preferences saved.",
           "no_prefs": "Your contact preferences are managed with your study team."},
}


@dataclass(frozen=True)
class PortalView:
    language: str
    consents: list[tuple[str, str, str, str]]  # title, version, signed at, vault path
    results: list[dict[str, str]]
    requests: list[tuple[str, str, str]]  # kind, status, due date


def load_portal(session: Session, token: str) -> PortalView:
    participant = participant_by_token(session, token, source="portal")
    consents = [(d.title, d.version, r.signed_at.strftime("%Y-%m-%d %H:%M"), r.vault_path) for r, d in session.execute(
        select(ConsentRecord, ConsentDocument).join(ConsentDocument, ConsentDocument.id == ConsentRecord.document_id)
        .where(ConsentRecord.participant_id == participant.id).order_by(ConsentRecord.signed_at)).all()]
    requests = [(r.kind, r.status, r.due_at.strftime("%Y-%m-%d")) for r in session.execute(
        select(RightsRequest).where(RightsRequest.participant_id == participant.id)
        .order_by(RightsRequest.received_at)).scalars()]
    lang = participant.language if participant.language in LABELS else "fr"
    return PortalView(lang, consents, results_for(session, [participant.id], lang), requests)


def render_portal(view: PortalView, vault: Path) -> str:
    t = LABELS[view.language]
    none = f"<p>{escape(t['none'])}</p>"
    consents = "".join(
        f"<li>{escape(title)} ({t['version']} {escape(version)}, {escape(when)}) — "
        f'<a download="consent-{escape(version)}.pdf" href="data:application/pdf;base64,'
        f'{base64.b64encode((vault / path).read_bytes()).decode()}">PDF</a></li>'
        for title, version, when, path in view.consents if (vault / path).is_file())
    results = "".join(f"<article><h3>{escape(r['title'])}</h3><p>{escape(r['body'])}</p>"
                      f"<p><small>{escape(r['study'])}, {escape(r['date'])}</small></p></article>"
                      for r in view.results)
    requests = "".join(f"<li>{escape(t['kinds'].get(k, k))}: {escape(s)} ({t['due']} {escape(d)})</li>"
                       for k, s, d in view.requests)
    return (f'<div lang="{view.language}"><h2>{escape(t["consents"])}</h2>'
            f"{f'<ul>{consents}</ul>' if consents else none}"
            f'<h2>{escape(t["results"])}</h2>{results or none}'
            f'<h2>{escape(t["rights"])}</h2>{f"<ul>{requests}</ul>" if requests else none}</div>')


def participant_portal(settings: Settings, query_string: str) -> w.Widget:
    token = token_from_query(query_string)
    try:
        view = in_session(settings, lambda s: load_portal(s, token))
    except NotFoundError:
        return w.HTML(f'<p role="alert" lang="fr">{escape(LABELS["fr"]["bad_link"])}</p>'
                      f'<p role="alert" lang="en">{escape(LABELS["en"]["bad_link"])}</p>')
    t = LABELS[view.language]
    page = w.HTML(render_portal(view, settings.vault_dir))
    kind = w.Dropdown(options=[(t["kinds"][k], k) for k in KINDS], description="")
    details = w.Textarea(placeholder=t["details"], layout=w.Layout(width="100%"))
    send = w.Button(description=t["send"], button_style="primary", layout=w.Layout(min_height="44px"))
    status = w.HTML()

    def file(_: object) -> None:
        def work(session: Session) -> str:
            request = file_request(session, participant_by_token(session, token, source="portal"),
                                   kind.value, details.value)
            return request.due_at.strftime("%Y-%m-%d")

        due = in_session(settings, work)
        details.value = ""
        page.value = render_portal(in_session(settings, lambda s: load_portal(s, token)), settings.vault_dir)
        show_message(status, t["sent"].format(due=due))

    send.on_click(guarded(status)(file))
    return w.VBox([page, w.HTML(f"<h2>{escape(t['file'])}</h2>"), kind, details, send, status,
                   _preferences(settings, token, t)], layout=w.Layout(max_width="40rem"))


def _preferences(settings: Settings, token: str, t: dict) -> w.Widget:  # type: ignore[type-arg]
    def who(session: Session) -> tuple[str, str]:
        person = participant_by_token(session, token, source="portal")
        code = session.execute(select(Study.code).where(Study.id == person.study_id)).scalar_one()
        return person.pseudonym, f"study:{code}"

    return preferences_box(settings, who, t)


def preferences_box(settings: Settings, who: Callable[[Session], tuple[str, str]],
                    t: dict) -> w.Widget:  # type: ignore[type-arg]
    """Contact preferences, read and written through the trusted party (which alone holds them).

    ``who`` gives the (pseudonym, domain) of one of the person's participations."""
    from workbench.trusted_party import ContactPreferences, open_trusted_party
    from workbench.trusted_party.preferences import contact_preferences, set_contact_preferences

    try:
        pseudonym, domain = in_session(settings, who)
        with open_trusted_party(settings) as tp:
            current = contact_preferences(tp, pseudonym, domain, actor=pseudonym)
    except WorkbenchError:
        return w.HTML(f"<h2>{escape(t['prefs'])}</h2><p>{escape(t['no_prefs'])}</p>")
    boxes = {"email": w.Checkbox(value=current.email, description=t["email"], indent=False),
             "results": w.Checkbox(value=current.results, description=t["results_pref"], indent=False),
             "new_studies": w.Checkbox(value=current.new_studies, description=t["new"], indent=False)}
    save = w.Button(description=t["save"], layout=w.Layout(min_height="44px"))
    status = w.HTML()

    def store(_: object) -> None:
        chosen = ContactPreferences(email=boxes["email"].value, sms=current.sms, results=boxes["results"].value,
                                    new_studies=boxes["new_studies"].value)
        with open_trusted_party(settings) as tp:
            set_contact_preferences(tp, pseudonym, domain, chosen, actor=pseudonym)
        show_message(status, t["saved"])

    save.on_click(guarded(status)(store))
    return w.VBox([w.HTML(f"<h2>{escape(t['prefs'])}</h2>"), *boxes.values(), save, status])
