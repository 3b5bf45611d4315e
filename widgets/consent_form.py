"""The participant's e-consent form: read, check understanding, certify, type the name, sign.

Everything decisive happens in ``workbench.consent.sign`` (current version only, one signature,
answers checked, PDF snapshot with its SHA-256 in the audit chain); this form collects the
inputs in the participant's language and shows the outcome, then offers the signed PDF.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as w
from sqlalchemy import select
from sqlalchemy.orm import Session

from widgets._store import in_session
from widgets.guarded import guarded, show_error, show_message
from widgets.signature import SignaturePad
from workbench.consent import SignatureInput, current_document, sign
from workbench.consent.models import ConsentRecord
from workbench.errors import NotFoundError, ValidationError
from workbench.participants.models import Participant
from workbench.participants.service import participant_by_token
from workbench.settings import Settings

__all__ = ["TEXTS", "ConsentForm", "ConsentView", "consent_form", "load_view"]

TEXTS = {
    "fr": {"read": "Lisez le document d'information ci-dessous.", "materials": "Documents joints",
           "check": "Vérifions que tout est clair", "optional": "Vos choix", "yes": "Oui", "no": "Non",
           "name": "Votre nom complet", "certify": ("Je certifie avoir lu et compris ce document, avoir pu "
                                                   "poser mes questions, et que ma signature électronique a "
                                                   "la même valeur qu'une signature manuscrite."),
           "sign": "Signer", "signed": "Merci : votre consentement (version {version}) est enregistré le {when}.",
           "download": "Télécharger mon consentement signé (PDF)", "already": "Vous avez déjà signé la version {version}.",
           "choose": "Répondez oui ou non pour : {what}", "bad_link": "Ce lien est inconnu ou a expiré."},
    "en": {"read": "Read the information document below.", "materials": "Attached material",
           "check": "Let us check that everything is clear", "optional": "Your choices", "yes": "Yes", "no": "No",
           "name": "Your full name", "certify": ("I certify that I have read and understood this document, that I "
                                                  "could ask my questions, and that my electronic signature has "
                                                  "the same value as a handwritten one."),
           "sign": "Sign", "signed": "Thank you: your consent (version {version}) was recorded on {when}.",
           "download": "Download my signed consent (PDF)", "already": "You have already signed version {version}.",
           "choose": "Answer yes or no for: {what}", "bad_link": "This link is unknown or has expired."},
}


@dataclass(frozen=True)
class ConsentView:
    participant_id: int
    language: str
    document_id: int
    version: str
    title: str
    body: str
    materials: list[dict[str, str]] = field(default_factory=list)
    comprehension: list[dict[str, Any]] = field(default_factory=list)
    optional: list[dict[str, str]] = field(default_factory=list)
    signed_pdf: str | None = None  # vault path of this version's signed PDF, if signed


def load_view(session: Session, participant: Participant) -> ConsentView:
    doc = current_document(session, participant)
    signed = session.execute(select(ConsentRecord.vault_path).where(
        ConsentRecord.document_id == doc.id, ConsentRecord.participant_id == participant.id)).scalar()
    return ConsentView(participant.id, doc.language, doc.id, doc.version, doc.title, doc.body,
                       list(doc.materials or []), list(doc.comprehension or []),
                       list(doc.optional_consents or []), signed)


def _body_html(view: ConsentView, t: dict[str, str]) -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in view.body.split("\n\n") if p.strip())
    links = "".join(f'<li><a href="{escape(m.get("url", ""), quote=True)}" target="_blank" rel="noopener">'
                    f'{escape(m.get("title", m.get("url", "")))}</a> ({escape(m.get("kind", "link"))})</li>'
                    for m in view.materials)
    material = f"<h3>{escape(t['materials'])}</h3><ul>{links}</ul>" if links else ""
    return (f'<h1 lang="{view.language}">{escape(view.title)}</h1><p>{escape(t["read"])}</p>'
            f'<div class="weshare-consent-text" tabindex="0" style="max-height:24rem;overflow:auto;'
            f'border:1px solid #9fb3c8;padding:0.75rem">{paragraphs}</div>{material}')


def _download_html(vault: Path, relative: str, label: str) -> str:
    data = base64.b64encode((vault / relative).read_bytes()).decode()
    return (f'<p><a download="consent.pdf" href="data:application/pdf;base64,{data}" '
            f'style="font-size:1.1rem">{escape(label)}</a></p>')


class ConsentForm(w.VBox):  # type: ignore[misc]
    def __init__(self, settings: Settings, token: str, view: ConsentView, *, time_zone: str = "Europe/Paris") -> None:
        self.settings, self.token, self.view, self.time_zone = settings, token, view, time_zone
        lang = view.language if view.language in TEXTS else "fr"
        t = self.t = TEXTS[lang]
        self.status = w.HTML()
        self.result = w.HTML()
        if view.signed_pdf:
            super().__init__([w.HTML(_body_html(view, t)), w.HTML(f"<p role='status'>{escape(t['already'].format(version=view.version))}</p>"),
                              w.HTML(_download_html(settings.vault_dir, view.signed_pdf, t["download"]))])
            return
        self.questions = [w.RadioButtons(options=[(c, i) for i, c in enumerate(q["choices"])], value=None,
                                         description="", layout=w.Layout(width="auto"))
                          for q in view.comprehension]
        self.choices = {o["code"]: w.ToggleButtons(options=[(t["yes"], True), (t["no"], False)], value=None)
                        for o in view.optional}
        self.name = w.Text(placeholder=t["name"], description="", layout=w.Layout(width="100%"))
        self.pad = SignaturePad()
        self.certify = w.Checkbox(value=False, description=t["certify"], indent=False,
                                  layout=w.Layout(width="100%"))
        self.button = w.Button(description=t["sign"], button_style="primary", layout=w.Layout(min_height="44px"))
        self.button.on_click(guarded(self.status)(self._sign))
        parts: list[w.Widget] = [w.HTML(_body_html(view, t))]
        if self.questions:
            parts.append(w.HTML(f"<h2>{escape(t['check'])}</h2>"))
            for q, radio in zip(view.comprehension, self.questions, strict=True):
                parts += [w.HTML(f"<p>{escape(q['question'])}</p>"), radio]
        if self.choices:
            parts.append(w.HTML(f"<h2>{escape(t['optional'])}</h2>"))
            for option in view.optional:
                parts += [w.HTML(f"<p>{escape(option['label'])}</p>"), self.choices[option["code"]]]
        parts += [w.HTML(f"<label>{escape(t['name'])}</label>"), self.name, self.pad, self.certify,
                  self.button, self.status, self.result]
        super().__init__(parts, layout=w.Layout(max_width="40rem"))

    def _sign(self, _: object = None) -> None:
        unanswered = [o["label"] for o in self.view.optional if self.choices[o["code"]].value is None]
        if unanswered:
            raise ValidationError(self.t["choose"].format(what=", ".join(unanswered)), where="optional")
        self.button.disabled = True
        try:
            answers = {str(q.get("id", i)): radio.value for i, (q, radio) in
                       enumerate(zip(self.view.comprehension, self.questions, strict=True), 1)
                       if radio.value is not None}
            sig = SignatureInput(self.name.value, self.pad.points(), self.time_zone, "personal link",
                                 bool(self.certify.value), answers,
                                 {code: bool(box.value) for code, box in self.choices.items()})

            def work(session: Session) -> tuple[str, str]:
                participant = participant_by_token(session, self.token, source="consent")
                record = sign(session, self.settings.vault_dir, participant, self.view.document_id, sig)
                return record.vault_path, record.signed_at.isoformat(timespec="minutes")

            relative, when = in_session(self.settings, work)
        finally:
            self.button.disabled = False
        self.button.disabled = True  # signed: nothing more to do here
        show_message(self.status, self.t["signed"].format(version=self.view.version, when=when))
        self.result.value = _download_html(self.settings.vault_dir, relative, self.t["download"])


def consent_form(settings: Settings, query_string: str) -> w.Widget:
    """The consent page of the forms service for the participant in ``?access=``."""
    from widgets.participant_home import token_from_query

    token = token_from_query(query_string)
    status = w.HTML()
    try:
        view = in_session(settings, lambda s: load_view(s, participant_by_token(s, token, source="consent")))
    except NotFoundError as exc:
        if "consent document" in str(exc):
            show_error(status, exc)
        else:
            status.value = (f'<p role="alert" lang="fr">{escape(TEXTS["fr"]["bad_link"])}</p>'
                            f'<p role="alert" lang="en">{escape(TEXTS["en"]["bad_link"])}</p>')
        return status
    return ConsentForm(settings, token, view)
