"""Staff dashboard: set up a study (sponsor, design, sites, arms, schedule, contract) with its quote.

Everything typed in the form is checked before anything is written, then one transaction creates
the study, its configuration, sites, arms and schedule events, so a refused form leaves nothing
half-stored. ``StaffDesk`` (who the viewer is, what they may do on which study) is shared by the
other staff views of the study workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any, TypeVar

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets._store import in_session
from widgets.guarded import guarded, show_message
from workbench.accounts import get_user
from workbench.accounts.models import Role, User
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.settings import Settings
from workbench.studies.models import Study
from workbench.studies.service import add_event, create_study, get_study, set_status
from workbench.studies.setup import (
    DESIGNS,
    MODULES,
    SECTORS,
    SPONSOR_STATUSES,
    TIMINGS,
    add_arm,
    add_site,
    configure_study,
    quote_study,
)

__all__ = ["RESPONDENTS", "StaffDesk", "StudySetup", "instrument_choices", "schedule_grid_html",
           "study_setup"]

T = TypeVar("T")
RESPONDENTS = (("Patient / Patient", "patient"), ("Aidant / Carer", "carer"),
               ("Volontaire sain / Healthy volunteer", "healthy_volunteer"))
LABELS = {
    "partner": "Partenaire / Partner", "collaborator": "Collaborateur / Collaborator",
    "non_partner": "Non partenaire / Non-partner", "academic": "Académique / Academic",
    "private": "Privé / Private", "observational": "Observationnelle / Observational",
    "qualitative": "Qualitative / Qualitative", "interventional": "Interventionnelle / Interventional",
    "prospective": "Prospective / Prospective", "retrospective": "Rétrospective / Retrospective",
    "epro": "ePRO", "consent": "Consentement / Consent", "randomisation": "Randomisation",
    "qualitative_module": "Qualitatif / Qualitative", "bubble": "Bulle sécurisée / Secure bubble",
}
NEXT_STATUS = {"draft": ("active", "Activer / Activate"), "active": ("closed", "Clore / Close"),
               "closed": ("deposited", "Marquer déposée / Mark deposited")}


def instrument_choices() -> list[tuple[str, str]]:
    """(label, id) of the instruments a schedule may use, from the instrument library."""
    from workbench.instruments.library import list_instruments

    return [(f"{i.id} — {i.title.get('en', i.id)}" if isinstance(i.title, dict) else i.id, i.id)
            for i in list_instruments()]


def _options(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(LABELS.get(v, v), v) for v in values]


# --------------------------------------------------------------------------- who may do what
@dataclass(frozen=True)
class StaffDesk:
    """The signed-in viewer and the settings; ``run`` checks their role, then runs one transaction.

    ``need``: "staff" (any staff account: the list of visible studies), "create" (new studies),
    "manage" (set-up, consent, randomisation, rights, rules), "clinical" (alerts queue: managers and
    the study's site investigators), "view" (read only).
    """

    settings: Settings
    viewer: str | None

    def run(self, study_code: str | None, need: str, work: Callable[[Session, User], T]) -> T:
        def inner(session: Session) -> T:
            user = _authorise(session, self.viewer, study_code, need)
            return work(session, user)

        return in_session(self.settings, inner)


def _authorise(session: Session, viewer: str | None, study_code: str | None, need: str) -> User:
    if not viewer:
        raise PermissionDenied("connectez-vous au hub / sign in to the hub first")
    try:
        user = get_user(session, viewer)
    except NotFoundError:
        raise PermissionDenied("compte inconnu / unknown account") from None
    if not user.active or not user.is_staff:
        raise PermissionDenied("réservé à l'équipe / staff only")
    roles = user.role_names
    if Role.ADMINISTRATOR in roles or need == "staff":  # "staff": any active staff account
        return user
    manager_scopes = {a.scope_id for a in user.roles if a.role == Role.STUDY_MANAGER}
    unscoped_manager = "" in manager_scopes
    if need == "create":
        if unscoped_manager:
            return user
        raise PermissionDenied("seul un gestionnaire d'études peut créer une étude / "
                               "only a study manager may create a study")
    assert study_code is not None
    if unscoped_manager or study_code in manager_scopes:
        return user
    if need == "view" and roles & {Role.DATA_STEWARD, Role.COMMITTEE_MEMBER}:
        return user
    if need in {"clinical", "view"}:
        study = get_study(session, study_code)
        if any(site.investigator == user.username for site in study.sites):
            return user
    raise PermissionDenied(f"vous n'avez pas de rôle sur l'étude {study_code} / "
                           f"you have no role on study {study_code}")


# --------------------------------------------------------------------------- pure helpers
def schedule_grid_html(events: list[dict[str, Any]]) -> str:
    """REDCap-style grid: one row per instrument, one column per event (day and window below)."""
    if not events:
        return '<p role="status">Aucun événement / No event yet.</p>'
    instruments = sorted({i for e in events for i in e["instruments"]})
    head = "".join(
        f'<th scope="col">{escape(e["code"])}<br><small>J{e["day_offset"]} '
        f'(−{e["window_before"]}/+{e["window_after"]}) · {escape(e["respondent_type"])}</small></th>'
        for e in events)
    rows = "".join(
        f'<tr><th scope="row">{escape(i)}</th>'
        + "".join(f'<td style="text-align:center">{"✔" if i in e["instruments"] else ""}</td>' for e in events)
        + "</tr>" for i in instruments)
    return ('<table class="weshare-schedule" style="border-collapse:collapse">'
            "<caption>Calendrier des évaluations / Schedule of assessments</caption>"
            f'<thead><tr><th scope="col">Instrument</th>{head}</tr></thead><tbody>{rows}</tbody></table>')


def _rows_html(caption: str, headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    if not rows:
        return ""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _deadlines(text: str) -> list[dict[str, str]]:
    """One deadline a line: ``YYYY-MM-DD what``."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        day, _, what = line.strip().partition(" ")
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ValidationError("écrivez « AAAA-MM-JJ objet » / write 'YYYY-MM-DD what'",
                                  where=f"échéances / deadlines, ligne / line {n}") from None
        if not what.strip():
            raise ValidationError("objet manquant / what is missing",
                                  where=f"échéances / deadlines, ligne / line {n}")
        out.append({"date": day, "what": what.strip()})
    return out


# --------------------------------------------------------------------------- the form
class StudySetup(w.VBox):  # type: ignore[misc]
    """New study (``code`` None) or an existing one: form, pending rows, grid, quote, status."""

    def __init__(self, desk: StaffDesk, code: str | None = None,
                 on_created: Callable[[str], None] | None = None,
                 instruments: Callable[[], list[tuple[str, str]]] = instrument_choices) -> None:
        self.desk, self.code, self.on_created = desk, code, on_created
        self.status = w.HTML()
        lay = {"style": {"description_width": "14em"}, "layout": w.Layout(width="34em")}
        self.study_code = w.Text(description="Code de l'étude / Study code", **lay)
        self.title = w.Text(description="Titre / Title", **lay)
        self.sponsor = w.Text(description="Promoteur / Sponsor", **lay)
        self.sponsor_status = w.Dropdown(description="Statut promoteur / Sponsor status",
                                         options=_options(SPONSOR_STATUSES), value="non_partner", **lay)
        self.sector = w.Dropdown(description="Secteur / Sector", options=_options(SECTORS), **lay)
        self.design = w.Dropdown(description="Schéma / Design", options=_options(DESIGNS), **lay)
        self.timing = w.Dropdown(description="Recueil / Timing", options=_options(TIMINGS), **lay)
        self.modules = w.SelectMultiple(description="Modules", options=[
            (LABELS["qualitative_module"] if m == "qualitative" else LABELS.get(m, m), m) for m in MODULES], **lay)
        self.deposit = w.Textarea(description="Dépôt prévu / Deposit plan (1 par ligne / per line)", **lay)
        self.needs = w.Textarea(description="Besoins / Needs", **lay)
        self.deadlines = w.Textarea(description="Échéances / Deadlines (AAAA-MM-JJ objet)", **lay)
        self.publication = w.Textarea(description="Règles de publication / Publication rules", **lay)
        self.dev_days = w.BoundedFloatText(description="Jours de développement / Development days",
                                           min=0, max=1000, value=0, **lay)
        self.projects = w.BoundedIntText(description="Projets par an / Projects per year", min=1, max=1000,
                                         value=1, **lay)
        self.quote = w.HTML()
        # pending sites, arms and events (written when the form is saved)
        self.sites: list[dict[str, Any]] = []
        self.arms: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.saved_events: list[dict[str, Any]] = []
        self.site_code = w.Text(description="Code du site / Site code", **lay)
        self.site_name = w.Text(description="Nom / Name", **lay)
        self.site_investigator = w.Text(description="Investigateur (compte) / Investigator (account)", **lay)
        self.add_site_button = w.Button(description="Ajouter le site / Add site")
        self.arm_code = w.Text(description="Code du bras / Arm code", **lay)
        self.arm_label = w.Text(description="Libellé / Label", **lay)
        self.arm_ratio = w.BoundedIntText(description="Ratio", min=1, max=10, value=1, **lay)
        self.add_arm_button = w.Button(description="Ajouter le bras / Add arm")
        self.event_code = w.Text(description="Code de l'événement / Event code", **lay)
        self.event_label = w.Text(description="Libellé / Label", **lay)
        self.day_offset = w.IntText(description="Jour / Day offset", value=0, **lay)
        self.window_before = w.IntText(description="Fenêtre avant / Window before (j/d)", value=0, **lay)
        self.window_after = w.IntText(description="Fenêtre après / Window after (j/d)", value=7, **lay)
        self.respondent = w.Dropdown(description="Répondant / Respondent", options=RESPONDENTS, **lay)
        self.event_instruments = w.SelectMultiple(description="Instruments", options=instruments(), rows=6,
                                                  **lay)
        self.add_event_button = w.Button(description="Ajouter l'événement / Add event")
        self.pending = w.HTML()
        self.grid = w.HTML()
        self.save_button = w.Button(description="Créer l'étude / Create study" if code is None
                                    else "Enregistrer / Save", button_style="primary")
        self.reason = w.Text(description="Motif / Reason", **lay)
        self.status_line = w.HTML()
        self.next_button = w.Button(description="", layout=w.Layout(display="none"))
        ok = guarded(self.status)
        self.add_site_button.on_click(ok(lambda _b: self.add_site()))
        self.add_arm_button.on_click(ok(lambda _b: self.add_arm()))
        self.add_event_button.on_click(ok(lambda _b: self.add_event()))
        self.save_button.on_click(ok(lambda _b: self.save()))
        self.next_button.on_click(ok(lambda _b: self.advance()))
        for field in (self.sponsor_status, self.sector, self.modules, self.deposit, self.dev_days, self.projects):
            field.observe(ok(lambda _c: self.update_quote()), names="value")
        super().__init__([
            w.HTML("<h2>Mise en place de l'étude / Study set-up</h2>"), self.status,
            self.study_code, self.title, self.sponsor, self.sponsor_status, self.sector, self.design,
            self.timing, self.modules, self.deposit,
            w.HTML("<h3>Contrat / Contract</h3>"), self.needs, self.deadlines, self.publication,
            self.dev_days, self.projects, self.quote,
            w.HTML("<h3>Sites</h3>"), self.site_code, self.site_name, self.site_investigator,
            self.add_site_button,
            w.HTML("<h3>Bras / Arms</h3>"), self.arm_code, self.arm_label, self.arm_ratio, self.add_arm_button,
            w.HTML("<h3>Calendrier / Schedule</h3>"), self.event_code, self.event_label, self.day_offset,
            self.window_before, self.window_after, self.respondent, self.event_instruments,
            self.add_event_button, self.pending, self.grid, self.save_button,
            w.HTML("<h3>Statut / Status</h3>"), self.status_line, self.reason, self.next_button,
        ])
        if code is not None:
            ok(lambda: self.load())()
        else:
            self.update_quote()
            self._render()

    # ----- pending rows
    def add_site(self) -> None:
        code, name = self.site_code.value.strip(), self.site_name.value.strip()
        if not code or not name:
            raise ValidationError("code et nom requis / code and name are required", where="site")
        if any(s["code"] == code for s in self.sites):
            raise ValidationError(f"le site {code} est déjà dans la liste / site {code} is already listed",
                                  where="site")
        self.sites.append({"code": code, "name": name, "investigator": self.site_investigator.value.strip()})
        self.site_code.value = self.site_name.value = self.site_investigator.value = ""
        self._render()

    def add_arm(self) -> None:
        code, label = self.arm_code.value.strip(), self.arm_label.value.strip()
        if not code or not label:
            raise ValidationError("code et libellé requis / code and label are required", where="bras / arm")
        if self.design.value != "interventional":
            raise ValidationError("seule une étude interventionnelle a des bras / only interventional "
                                  "studies have arms", where="bras / arm")
        if any(a["code"] == code for a in self.arms):
            raise ValidationError(f"le bras {code} existe déjà / arm {code} already listed", where="bras / arm")
        self.arms.append({"code": code, "label": label, "ratio": int(self.arm_ratio.value)})
        self.arm_code.value = self.arm_label.value = ""
        self._render()

    def add_event(self) -> None:
        code, label = self.event_code.value.strip(), self.event_label.value.strip()
        where = f"événement / event {code or '?'}"
        if not code or not label:
            raise ValidationError("code et libellé requis / code and label are required", where=where)
        if any(e["code"] == code for e in [*self.saved_events, *self.events]):
            raise ValidationError(f"le code {code} est déjà utilisé / event code {code} is already used",
                                  where=where)
        if self.window_before.value < 0 or self.window_after.value < 0:
            raise ValidationError("une fenêtre ne peut pas être négative / windows cannot be negative",
                                  where=where)
        if not self.event_instruments.value:
            raise ValidationError("choisissez au moins un instrument / pick at least one instrument",
                                  where=where)
        self.events.append({"code": code, "label": label, "day_offset": int(self.day_offset.value),
                            "window_before": int(self.window_before.value),
                            "window_after": int(self.window_after.value),
                            "respondent_type": self.respondent.value,
                            "instruments": list(self.event_instruments.value)})
        self.event_code.value = self.event_label.value = ""
        self._render()

    def set_instruments(self, options: list[tuple[str, str]]) -> None:
        """New choices for the schedule (after an import), keeping what was picked."""
        keep = tuple(v for v in self.event_instruments.value if v in {o[1] for o in options})
        self.event_instruments.options = options
        self.event_instruments.value = keep

    def _render(self) -> None:
        self.pending.value = "".join([
            _rows_html("Sites à ajouter / Sites to add", ("Code", "Nom / Name", "Investigateur / Investigator"),
                       [(s["code"], s["name"], s["investigator"]) for s in self.sites]),
            _rows_html("Bras à ajouter / Arms to add", ("Code", "Libellé / Label", "Ratio"),
                       [(a["code"], a["label"], a["ratio"]) for a in self.arms]),
        ])
        events = sorted([*self.saved_events, *self.events], key=lambda e: e["day_offset"])
        self.grid.value = schedule_grid_html(events)

    # ----- quote
    def _fields(self) -> dict[str, Any]:
        contract: dict[str, Any] = {"needs": self.needs.value.strip(),
                                    "publication_rules": self.publication.value.strip(),
                                    "deadlines": _deadlines(self.deadlines.value),
                                    "development_days": float(self.dev_days.value),
                                    "projects_per_year": int(self.projects.value)}
        return {"sponsor": self.sponsor.value.strip(), "sponsor_status": self.sponsor_status.value,
                "sponsor_sector": self.sector.value, "design": self.design.value, "timing": self.timing.value,
                "modules": list(self.modules.value),
                "deposit_plan": [x.strip() for x in self.deposit.value.splitlines() if x.strip()],
                "contract": contract}

    def update_quote(self) -> None:
        """The tariff from the pricing grid for what the form says now (nothing is stored)."""
        study = Study(sponsor_status=self.sponsor_status.value, sponsor_sector=self.sector.value,
                      modules=list(self.modules.value),
                      deposit_plan=[x for x in self.deposit.value.splitlines() if x.strip()],
                      contract={"development_days": float(self.dev_days.value),
                                "projects_per_year": int(self.projects.value)})
        quote = quote_study(study)
        lines = "".join(f"<li>{escape(str(k))} : {escape(str(v))}</li>" for k, v in quote.items()
                        if k != "total")
        self.quote.value = (f'<div class="weshare-quote" role="status"><strong>Devis / Quote : '
                            f'{quote.get("total", 0):,.2f} €</strong><ul>{lines}</ul></div>')

    # ----- store
    def load(self) -> None:
        assert self.code is not None

        def work(session: Session, _user: User) -> dict[str, Any]:
            s = get_study(session, self.code or "")
            return {"code": s.code, "title": s.title, "status": s.status, "sponsor": s.sponsor,
                    "sponsor_status": s.sponsor_status, "sector": s.sponsor_sector, "design": s.design,
                    "timing": s.timing, "modules": list(s.modules), "deposit": list(s.deposit_plan),
                    "contract": dict(s.contract),
                    "events": [{"code": e.code, "label": e.label, "day_offset": e.day_offset,
                                "window_before": e.window_before, "window_after": e.window_after,
                                "respondent_type": e.respondent_type, "instruments": list(e.instruments)}
                               for e in s.events],
                    "sites": [(x.code, x.name, x.investigator) for x in s.sites],
                    "arms": [(a.code, a.label, a.ratio) for a in s.arms]}

        data = self.desk.run(self.code, "view", work)
        self.study_code.value, self.title.value = data["code"], data["title"]
        self.study_code.disabled = self.title.disabled = True
        self.sponsor.value, self.sponsor_status.value = data["sponsor"], data["sponsor_status"]
        self.sector.value, self.design.value, self.timing.value = data["sector"], data["design"], data["timing"]
        self.modules.value = tuple(m for m in data["modules"] if m in MODULES)
        self.deposit.value = "\n".join(data["deposit"])
        c = data["contract"]
        self.needs.value, self.publication.value = c.get("needs", ""), c.get("publication_rules", "")
        self.deadlines.value = "\n".join(f"{d['date']} {d['what']}" for d in c.get("deadlines", []))
        self.dev_days.value, self.projects.value = c.get("development_days", 0), c.get("projects_per_year", 1)
        self.saved_events, self.sites, self.arms, self.events = data["events"], [], [], []
        self.current = data
        self.status_line.value = (
            f"<p>Statut / Status : <strong>{escape(data['status'])}</strong></p>"
            + _rows_html("Sites", ("Code", "Nom / Name", "Investigateur / Investigator"), data["sites"])
            + _rows_html("Bras / Arms", ("Code", "Libellé / Label", "Ratio"), data["arms"]))
        step = NEXT_STATUS.get(data["status"])
        self.next_button.description = step[1] if step else ""
        self.next_button.layout.display = "" if step else "none"
        self.update_quote()
        self._render()

    def save(self) -> None:
        fields = self._fields()  # refuses a malformed deadline before anything is written
        code = self.code or self.study_code.value
        title = self.title.value
        sites, arms, events = list(self.sites), list(self.arms), list(self.events)

        def work(session: Session, user: User) -> str:
            actor = user.username
            if self.code is None:
                study = create_study(session, code, title, actor=actor, design=fields["design"],
                                     sponsor=fields["sponsor"])
            else:
                study = get_study(session, code)
            if study.status == "draft":
                configure_study(session, study.code, actor=actor, **fields)
            for s in sites:
                add_site(session, study.code, s["code"], s["name"], actor=actor, investigator=s["investigator"])
            for a in arms:
                add_arm(session, study.code, a["code"], a["label"], actor=actor, ratio=a["ratio"])
            for e in events:
                add_event(session, study, e["code"], e["label"], e["day_offset"], actor=actor,
                          window_before=e["window_before"], window_after=e["window_after"],
                          instruments=e["instruments"], respondent_type=e["respondent_type"])
            return study.code

        saved = self.desk.run(self.code, "create" if self.code is None else "manage", work)
        self.code = saved
        self.save_button.description = "Enregistrer / Save"
        self.load()
        show_message(self.status, f"Étude {saved} enregistrée / Study {saved} saved")
        if self.on_created is not None:
            self.on_created(saved)

    def advance(self) -> None:
        """Move the study to its next status (set_status audits the change with the reason)."""
        assert self.code is not None
        target = NEXT_STATUS[self.current["status"]][0]
        reason = self.reason.value.strip()
        self.desk.run(self.code, "manage", lambda session, user: set_status(
            session, self.code or "", target, actor=user.username, reason=reason))
        self.reason.value = ""
        self.load()
        show_message(self.status, f"Statut : {target} / Status: {target}")


def study_setup(settings: Settings, viewer: str | None, code: str | None = None,
                on_created: Callable[[str], None] | None = None,
                instruments: Callable[[], list[tuple[str, str]]] = instrument_choices) -> StudySetup:
    """The set-up form for a new study (``code`` None) or an existing one."""
    return StudySetup(StaffDesk(settings, viewer), code, on_created, instruments)
