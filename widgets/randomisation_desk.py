"""Staff dashboard: include and randomise a participant, see allocations as your role may, unblind in an emergency.

Investigators (site leads) and study managers include a participant: eligibility confirmed, the
design's stratification or minimisation factors filled in, then "Randomise". What comes back is
what ``view_allocation`` allows for the viewer's roles, so a blinded viewer sees "arm concealed"
everywhere. Refusals (not eligible, no consent, already randomised, a level missing) show one
line and write nothing. Emergency unblinding needs a role named by the design and a reason; it is
audited, and the arm is shown to that viewer only, on this screen.
"""

from __future__ import annotations

from html import escape

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets.guarded import guarded, show_message
from widgets.study_setup import StaffDesk
from workbench.accounts.models import User
from workbench.errors import PermissionDenied
from workbench.keys import load_or_create_key
from workbench.randomisation.concealment import AllocationView
from workbench.randomisation.inclusion import (
    DeskState,
    caller_roles,
    desk_state,
    include_and_randomise,
    unblind_participant,
)
from workbench.settings import Settings

__all__ = ["RandomisationDesk", "allocations_html", "randomisation_desk"]

CHOOSE = "—"
LAY = {"style": {"description_width": "14em"}, "layout": w.Layout(width="100%", max_width="36em")}


def allocations_html(views: list[AllocationView]) -> str:
    if not views:
        return '<p role="status">Aucune randomisation / No allocation yet.</p>'
    rows = "".join(f'<tr><th scope="row">{v.seq}</th><td>{escape(v.participant)}</td>'
                   f'<td>{v.at:%Y-%m-%d %H:%M} UTC</td><td>{escape(v.label())}</td></tr>' for v in views)
    return ('<table class="weshare-allocations"><caption>Randomisations / Allocations</caption><thead><tr>'
            '<th scope="col">N°</th><th scope="col">Participant</th><th scope="col">Quand / When</th>'
            f'<th scope="col">Bras / Arm</th></tr></thead><tbody>{rows}</tbody></table>')


class RandomisationDesk(w.VBox):  # type: ignore[misc]
    """Inclusion form, allocation table and the emergency-unblinding panel for one study."""

    def __init__(self, desk: StaffDesk, study_code: str) -> None:
        self.desk, self.study_code = desk, study_code
        self.key = load_or_create_key(desk.settings.secret_key_file)
        self.status = w.HTML()
        self.result = w.HTML()
        self.table = w.HTML()
        self.participant = w.Dropdown(description="Participant", options=[], **LAY)
        self.eligible = w.Checkbox(value=False, indent=False, description=(
            "Critères d'éligibilité vérifiés et consentement recueilli / "
            "Eligibility checked and consent obtained"))
        self.factor_box = w.VBox()
        self.factors: dict[str, w.Dropdown] = {}
        self.randomise_button = w.Button(description="Randomiser / Randomise", button_style="primary",
                                         layout=w.Layout(min_height="40px"))
        self.randomise_button.on_click(guarded(self.status)(lambda _b: self.randomise()))
        self.unblind_participant = w.Dropdown(description="Participant", options=[], **LAY)
        self.reason = w.Textarea(description="Raison clinique / Clinical reason", **LAY)
        self.unblind_button = w.Button(description="Lever l'aveugle en urgence / Emergency unblinding",
                                       button_style="danger", layout=w.Layout(min_height="40px"))
        self.unblind_button.on_click(guarded(self.status)(lambda _b: self.unblind()))
        self.unblinded = w.HTML()
        self.include_panel = w.VBox([self.participant, self.factor_box, self.eligible, self.randomise_button,
                                     self.result])
        self.unblind_panel = w.VBox([w.HTML("<h3>Levée d'aveugle en urgence / Emergency unblinding</h3>"),
                                     self.unblind_participant, self.reason, self.unblind_button, self.unblinded])
        super().__init__([w.HTML(f"<h2>Inclusion et randomisation / Inclusion and randomisation — "
                                 f"{escape(study_code)}</h2>"), self.status,
                          self.include_panel, self.table, self.unblind_panel])
        guarded(self.status)(self.refresh)()

    def _state(self, session: Session, user: User) -> tuple[DeskState, set[str]]:
        roles = caller_roles(session, user, self.study_code)
        return desk_state(session, self.study_code, key=self.key, roles=roles), roles

    def refresh(self) -> None:
        state, _roles = self.desk.run(self.study_code, "view", self._state)
        self.state = state
        self.participant.options = [(CHOOSE, CHOOSE)] + [(f"{p} ({site})" if site else p, p) for p, site in state.waiting]
        if not self.factors:
            self.factors = {name: w.Dropdown(description=name, options=[(CHOOSE, CHOOSE), *((lv, lv) for lv in levels)], **LAY)
                            for name, levels in state.factors}
            self.factor_box.children = list(self.factors.values())
        self.table.value = allocations_html(state.allocations)
        self.unblind_participant.options = [(CHOOSE, CHOOSE)] + [(v.participant, v.participant) for v in state.allocations]
        self.unblind_panel.layout.display = "flex" if state.can_unblind else "none"
        try:  # read-only viewers (data stewards, committees) do not get the inclusion form
            self.desk.run(self.study_code, "clinical", lambda _s, _u: None)
            self.include_panel.layout.display = "flex"
        except PermissionDenied:
            self.include_panel.layout.display = "none"

    def randomise(self) -> None:
        pseudonym = self.participant.value
        if pseudonym in (CHOOSE, None):
            show_message(self.status, "Choisissez un participant / Choose a participant", kind="error")
            return
        levels = {name: box.value for name, box in self.factors.items() if box.value != CHOOSE}

        def work(session: Session, user: User) -> AllocationView:
            roles = caller_roles(session, user, self.study_code)
            return include_and_randomise(session, self.study_code, pseudonym, levels,
                                         eligible=self.eligible.value, key=self.key, actor=user.username,
                                         roles=roles)

        view = self.desk.run(self.study_code, "clinical", work)
        self.result.value = (f'<p role="status" class="weshare-allocated"><strong>{escape(view.participant)}'
                             f"</strong> — n° {view.seq} — {escape(view.label())}</p>")
        self.eligible.value = False
        for box in self.factors.values():
            box.value = CHOOSE
        self.refresh()
        show_message(self.status, "Randomisation enregistrée / Allocation recorded")

    def unblind(self) -> None:
        pseudonym = self.unblind_participant.value
        if pseudonym in (CHOOSE, None):
            show_message(self.status, "Choisissez un participant / Choose a participant", kind="error")
            return
        reason = self.reason.value

        def work(session: Session, user: User) -> str:
            return unblind_participant(session, self.study_code, pseudonym, key=self.key, actor=user.username,
                                       roles=caller_roles(session, user, self.study_code), reason=reason)

        arm = self.desk.run(self.study_code, "clinical", work)
        self.reason.value = ""
        self.unblinded.value = (f'<p role="alert" style="border:2px solid #a40000;padding:8px">'
                                f"{escape(pseudonym)} : <strong>{escape(arm)}</strong> — levée d'aveugle "
                                "enregistrée au journal d'audit / unblinding recorded in the audit log</p>")


def randomisation_desk(settings: Settings, viewer: str | None, study_code: str) -> w.Widget:
    if not viewer:
        return w.HTML('<p role="alert">Connectez-vous au hub / Sign in to the hub first.</p>')
    return RandomisationDesk(StaffDesk(settings, viewer), study_code)
