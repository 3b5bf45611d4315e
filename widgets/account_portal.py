"""The signed-in participant's portal (forms service): every study of the account on one phone-sized page.

Sections: my studies and what is due (a link to the questionnaire form), my consents (PDF), results
published for participants, new studies matching the interests I opted into, my interests, my
contact preferences (through the trusted party), my data-rights requests with their deadlines and a
form that files a new one into the study team's queue, and a copy of my data to download.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets._store import in_session
from widgets.guarded import guarded, show_message
from widgets.participant_portal import LABELS as BASE_LABELS
from widgets.participant_portal import preferences_box
from workbench.accounts import get_user
from workbench.errors import PermissionDenied
from workbench.keys import load_or_create_key
from workbench.participants.models import Participant
from workbench.participants.rights import KINDS, file_request, portable_copy
from workbench.portal.account_view import PortalPage, portal_page
from workbench.portal.accounts import memberships
from workbench.portal.service import RESPONDENT_TYPES, set_interests
from workbench.settings import Settings

__all__ = ["CANCER_TYPES", "TEXTS", "AccountPortal", "render_account_page"]

CANCER_TYPES = {
    "breast": ("Sein", "Breast"), "colorectal": ("Côlon-rectum", "Colorectal"), "lung": ("Poumon", "Lung"),
    "prostate": ("Prostate", "Prostate"), "haematological": ("Hématologique", "Blood cancer"),
    "gynaecological": ("Gynécologique", "Gynaecological"), "head_and_neck": ("ORL (tête et cou)", "Head and neck"),
    "pancreas": ("Pancréas", "Pancreas"), "urological": ("Urologique", "Urological"),
    "melanoma": ("Mélanome", "Melanoma"), "other": ("Autre", "Other"),
}
TEXTS = {
    "fr": {"studies": "Mes études", "due": "À remplir", "fill": "Remplir mes questionnaires",
           "nothing_due": "Rien à remplir pour le moment.", "until": "avant le", "late": "en retard",
           "news": "Nouvelles études pour vous", "no_news": "Aucune étude ne correspond à vos choix pour le moment.",
           "interests": "Ce qui m'intéresse", "profile": "Je suis",
           "profiles": {"patient": "Patient(e)", "carer": "Aidant(e)", "volunteer": "Volontaire sain(e)"},
           "cancers": "Types de cancer", "news_opt": "Me montrer les nouvelles études qui me correspondent",
           "save_interests": "Enregistrer", "interests_saved": "Vos choix sont enregistrés.",
           "study": "Étude", "download": "Télécharger une copie de mes données (fichier JSON)",
           "copy_ready": "Votre copie est prête :", "copy_link": "enregistrer le fichier",
           "sign_out": "Me déconnecter", "signed_out": "Vous êtes déconnecté(e).", "withdrawn": "retiré(e)",
           "interviews": "Mes entretiens", "join": "Rejoindre la visio", "paris": "heure de Paris",
           "sign": "Lire et signer mon consentement"},
    "en": {"studies": "My studies", "due": "To fill in", "fill": "Fill in my questionnaires",
           "nothing_due": "Nothing to fill in for now.", "until": "before", "late": "overdue",
           "news": "New studies for you", "no_news": "No study matches your choices for now.",
           "interests": "What interests me", "profile": "I am",
           "profiles": {"patient": "A patient", "carer": "A carer", "volunteer": "A healthy volunteer"},
           "cancers": "Cancer types", "news_opt": "Show me new studies that match me",
           "save_interests": "Save", "interests_saved": "Your choices are saved.",
           "study": "Study", "download": "Download a copy of my data (JSON file)",
           "copy_ready": "Your copy is ready:", "copy_link": "save the file",
           "sign_out": "Sign out", "signed_out": "You are signed out.", "withdrawn": "withdrawn",
           "interviews": "My interviews", "join": "Join the video call", "paris": "Paris time",
           "sign": "Read and sign my consent"},
}
BUTTON = {"layout": w.Layout(min_height="44px", width="100%")}
FULL = w.Layout(width="100%")


def render_account_page(page: PortalPage, vault: Path) -> str:
    """The read-only part of the page as HTML (escaped; PDFs inlined as downloads)."""
    t, b = TEXTS[page.language], BASE_LABELS[page.language]
    none = f"<p>{escape(b['none'])}</p>"
    studies = []
    for s in page.studies:
        due = "".join(f"<li>{escape(d.label)} — {escape(d.instrument)} ({t['until']} {escape(d.until)}"
                      f"{', ' + t['late'] if d.overdue else ''})</li>" for d in s.due)
        link = (f'<p><a href="{escape(s.form_link)}" style="display:inline-block;padding:12px 16px;'
                f'background:#1f5fa8;color:#fff;border-radius:6px">{escape(t["fill"])}</a></p>'
                if s.form_link else "")
        if s.consent_link:
            link += (f'<p><a href="{escape(s.consent_link)}" style="display:inline-block;padding:12px 16px;'
                     f'background:#1a5e1a;color:#fff;border-radius:6px">{escape(t["sign"])}</a></p>')
        state = f" — {t['withdrawn']}" if s.status != "active" else ""
        studies.append(f"<section><h3>{escape(s.title)} <small>({escape(s.code)}){escape(state)}</small></h3>"
                       f"<p><small>{escape(s.pseudonym)}</small></p>"
                       + (f"<h4>{escape(t['due'])}</h4><ul>{due}</ul>" if s.due
                          else f"<p>{escape(t['nothing_due'])}</p>") + f"{link}</section>")
    consents = "".join(
        f"<li>{escape(title)} ({escape(study)}, {b['version']} {escape(version)}, {escape(when)}) — "
        f'<a download="consent-{escape(study)}-{escape(version)}.pdf" href="data:application/pdf;base64,'
        f'{base64.b64encode((vault / path).read_bytes()).decode()}">PDF</a></li>'
        for study, title, version, when, path in page.consents if (vault / path).is_file())
    results = "".join(f"<article><h3>{escape(r['title'])}</h3><p>{escape(r['body'])}</p>"
                      f"<p><small>{escape(r['study'])}, {escape(r['date'])}</small></p></article>"
                      for r in page.results)
    news = "".join(f"<article><h3>{escape(n.title)}</h3><p>{escape(n.body)}</p>"
                   f"<p><small>{escape(n.study)}</small></p></article>" for n in page.news)
    requests = "".join(f"<li>{escape(study)} — {escape(b['kinds'].get(k, k))} : {escape(st)} ({b['due']} "
                       f"{escape(d)})</li>" for study, k, st, d in page.requests)
    no_news = f"<p>{escape(t['no_news'])}</p>"
    paris = ZoneInfo("Europe/Paris")
    interviews = "".join(
        f"<li>{escape(study)} — {start.astimezone(paris):%d/%m/%Y %H:%M} ({t['paris']}, {minutes} min) — "
        f'<a href="{escape(link)}" target="_blank" rel="noopener">{escape(t["join"])}</a></li>'
        for study, start, minutes, link in page.appointments)
    return (f'<div lang="{page.language}" style="max-width:40rem;font-size:1.05rem">'
            f"<h2>{escape(t['studies'])}</h2>{''.join(studies) or none}"
            + (f"<h2>{escape(t['interviews'])}</h2><ul>{interviews}</ul>" if interviews else "") +
            f"<h2>{escape(b['consents'])}</h2>{f'<ul>{consents}</ul>' if consents else none}"
            f"<h2>{escape(b['results'])}</h2>{results or none}"
            f"<h2>{escape(t['news'])}</h2>{news or no_news}"
            f"<h2>{escape(b['rights'])}</h2>{f'<ul>{requests}</ul>' if requests else none}</div>")


class AccountPortal(w.VBox):  # type: ignore[misc]
    """The page for one signed-in account; ``on_sign_out`` brings back the sign-in screen."""

    def __init__(self, settings: Settings, username: str, on_sign_out: Callable[[], None]) -> None:
        self.settings, self.username = settings, username
        self.key = load_or_create_key(settings.secret_key_file)
        self.status = w.HTML()
        self.page = w.HTML()
        self.view = self._load()
        t, b = TEXTS[self.view.language], BASE_LABELS[self.view.language]
        studies = [(f"{s.title} ({s.code})", s.participant_id) for s in self.view.studies]
        profiles, cancers, opted = self.view.interests
        self.profile = w.SelectMultiple(options=[(t["profiles"][k], k) for k in RESPONDENT_TYPES],
                                        value=tuple(p for p in profiles if p in RESPONDENT_TYPES), layout=FULL)
        lang = 0 if self.view.language == "fr" else 1
        self.cancers = w.SelectMultiple(options=[(v[lang], k) for k, v in CANCER_TYPES.items()],
                                        value=tuple(c for c in cancers if c in CANCER_TYPES), rows=6, layout=FULL)
        self.news_opt = w.Checkbox(value=opted, description=t["news_opt"], indent=False, layout=FULL)
        self.save_interests = w.Button(description=t["save_interests"], **BUTTON)
        self.save_interests.on_click(guarded(self.status)(self._save_interests))
        self.study = w.Dropdown(options=studies, description="", layout=FULL)
        self.kind = w.Dropdown(options=[(b["kinds"][k], k) for k in KINDS], layout=FULL)
        self.details = w.Textarea(placeholder=b["details"], layout=FULL)
        self.send = w.Button(description=b["send"], button_style="primary", **BUTTON)
        self.send.on_click(guarded(self.status)(self._file))
        self.download = w.Button(description=t["download"], **BUTTON)
        self.download.on_click(guarded(self.status)(self._copy))
        self.copy = w.HTML()
        self.sign_out = w.Button(description=t["sign_out"], **BUTTON)
        self.sign_out.on_click(lambda _b: on_sign_out())
        self.preferences = preferences_box(settings, self._who, b)
        self.page.value = render_account_page(self.view, settings.vault_dir)
        super().__init__([
            self.page,
            w.HTML(f"<h2>{escape(b['file'])}</h2><label>{escape(t['study'])}</label>"), self.study, self.kind,
            self.details, self.send, self.download, self.copy, self.status,
            w.HTML(f"<h2>{escape(t['interests'])}</h2><label>{escape(t['profile'])}</label>"), self.profile,
            w.HTML(f"<label>{escape(t['cancers'])}</label>"), self.cancers, self.news_opt, self.save_interests,
            self.preferences, self.sign_out,
        ], layout=w.Layout(max_width="40rem", width="100%"))

    def _load(self) -> PortalPage:
        def work(session: Session) -> PortalPage:
            user = get_user(session, self.username)
            return portal_page(session, memberships(session, user), user=user, key=self.key,
                               public_url=self.settings.public_url)

        return in_session(self.settings, work)

    def refresh(self) -> None:
        self.view = self._load()
        self.page.value = render_account_page(self.view, self.settings.vault_dir)

    def _mine(self, session: Session, participant_id: int) -> Participant:
        """One of this account's participations (never another person's, whatever the browser sends)."""
        person = next((p for p in memberships(session, get_user(session, self.username))
                       if p.id == participant_id), None)
        if person is None:
            raise PermissionDenied("not one of your studies / pas une de vos études")
        return person

    def _who(self, session: Session) -> tuple[str, str]:
        person = self._mine(session, self.view.studies[0].participant_id)
        return person.pseudonym, f"study:{self.view.studies[0].code}"

    def _file(self, _: object) -> None:
        b = BASE_LABELS[self.view.language]
        due = in_session(self.settings, lambda s: file_request(
            s, self._mine(s, self.study.value), self.kind.value, self.details.value).due_at.strftime("%Y-%m-%d"))
        self.details.value = ""
        self.refresh()
        show_message(self.status, b["sent"].format(due=due))

    def _copy(self, _: object) -> None:
        t = TEXTS[self.view.language]
        data = in_session(self.settings, lambda s: portable_copy(s, self._mine(s, self.study.value),
                                                                 actor=self.username))
        self.copy.value = (f'<p>{escape(t["copy_ready"])} <a download="weshare-my-data.json" '
                           f'href="data:application/json;base64,{base64.b64encode(data).decode()}">'
                           f'{escape(t["copy_link"])}</a></p>')

    def _save_interests(self, _: object) -> None:
        in_session(self.settings, lambda s: set_interests(
            s, get_user(s, self.username), respondent_types=list(self.profile.value),
            cancer_types=list(self.cancers.value), news_opt_in=self.news_opt.value, language=self.view.language))
        self.refresh()
        show_message(self.status, TEXTS[self.view.language]["interests_saved"])
