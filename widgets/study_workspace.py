"""Staff study workspace: the studies list, then one study's set-up, instruments, alerts, compliance, participants.

The dashboards' landing page (``notebooks/dashboards/studies.ipynb``). A study manager picks
"Nouvelle étude / New study" or one of the studies they may see; the tabs below hold the existing
staff views for that study. Tabs other than the first are built when first opened, so the page
is interactive as soon as the list is shown. Every action still goes through ``StaffDesk``, which
checks the viewer's role on the study.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets.alerts_queue import AlertsQueue
from widgets.compliance_view import ComplianceView
from widgets.guarded import guarded
from widgets.instrument_import import InstrumentLibrary, stored_choices
from widgets.participant_tabs import ParticipantTabs
from widgets.studies_dashboard import StudiesDashboard
from widgets.study_setup import StaffDesk, StudySetup
from workbench.accounts.models import User
from workbench.errors import PermissionDenied
from workbench.settings import Settings
from workbench.studies.service import StudyRow, visible_studies

__all__ = ["NEW_STUDY", "TAB_TITLES", "StudyWorkspace", "study_workspace"]

NEW_STUDY = ""
TAB_TITLES = {"setup": "Mise en place / Set-up", "instruments": "Instruments",
              "alerts": "Alertes / Alerts", "compliance": "Observance / Compliance",
              "participants": "Participants"}


class StudyWorkspace(w.VBox):  # type: ignore[misc]
    """Studies table, a study picker, and the tabs of the picked study."""

    def __init__(self, desk: StaffDesk, *, today: date | None = None) -> None:
        self.desk, self.today = desk, today
        self.rows: list[StudyRow] = []
        self.status = w.HTML()
        self.studies = StudiesDashboard(self._load_rows, desk.viewer or "")
        self.study = w.Dropdown(description="Étude / Study", options=self._options(),
                                style={"description_width": "8em"}, layout=w.Layout(width="36em"))
        self.tabs = w.Tab()
        self.views: dict[str, w.Widget] = {}
        self._names: list[str] = []
        self._quiet = False
        self.study.observe(guarded(self.status)(lambda _c: self._picked()), names="value")
        self.tabs.observe(guarded(self.status)(lambda _c: self._build(self.tabs.selected_index)),
                          names="selected_index")
        # Pages sit side by side under voila/render/, so the staff home is a sibling link.
        home = w.HTML('<nav><a href="home.ipynb">Accueil : tous les tableaux de bord '
                      '<span lang="en">/ Home: all dashboards</span></a></nav>')
        super().__init__([home, self.studies, w.HTML("<h2>Espace de l'étude / Study workspace</h2>"), self.status,
                          self.study, self.tabs])
        guarded(self.status)(lambda: self.open_study(self.study.value))()

    # ----- studies the viewer may see
    def _load_rows(self) -> list[StudyRow]:
        def work(session: Session, user: User) -> list[StudyRow]:
            return visible_studies(session, user)

        if not self.desk.viewer:
            raise PermissionDenied("connectez-vous au hub / sign in to the hub first")
        self.rows = self.desk.run(None, "staff", work)
        if hasattr(self, "study"):  # the first load runs before the picker exists
            keep = self.study.value
            self._quiet = True  # a refreshed list must not reopen (and reset) the open study
            try:
                self.study.options = self._options()
                self.study.value = keep if keep in {r.code for r in self.rows} else NEW_STUDY
            finally:
                self._quiet = False
            if self.study.value != keep:
                self.open_study(self.study.value)
        return self.rows

    def _options(self) -> list[tuple[str, str]]:
        return [("— Nouvelle étude / New study —", NEW_STUDY),
                *((f"{r.code} — {r.title}", r.code) for r in self.rows)]

    # ----- tabs of one study
    def _picked(self) -> None:
        if not self._quiet:
            self.open_study(self.study.value)

    def open_study(self, code: str) -> None:
        """Show the tabs for ``code`` (or the new-study form); only the first tab is built now."""
        self.views = {}
        self._names = ["setup", "instruments"] + (["alerts", "compliance", "participants"] if code else [])
        self.tabs.children = [w.HTML("…") for _ in self._names]
        self.tabs.titles = tuple(TAB_TITLES[n] for n in self._names)
        self.tabs.selected_index = 0
        self._build(0)

    def _build(self, index: int | None) -> None:
        if index is None or index >= len(self._names) or self._names[index] in self.views:
            return
        name, code = self._names[index], self.study.value or None
        make: dict[str, Callable[[], w.Widget]] = {
            "setup": lambda: StudySetup(self.desk, code, on_created=self._created,
                                        instruments=stored_choices(self.desk, code)),
            "instruments": lambda: InstrumentLibrary(self.desk, code, on_imported=self._imported),
            "alerts": lambda: AlertsQueue(self.desk, code or ""),
            "compliance": lambda: ComplianceView(self.desk, code or "", self.today),
            "participants": lambda: ParticipantTabs(self.desk, code or ""),
        }
        view = make[name]()
        if isinstance(view, AlertsQueue):
            view.rule_instrument.options = stored_choices(self.desk, code)()
        self.views[name] = view
        children = list(self.tabs.children)
        children[index] = view
        self.tabs.children = children
        self.tabs.titles = tuple(TAB_TITLES[n] for n in self._names)

    def _created(self, code: str) -> None:
        self.studies.refresh()  # the new study joins the list and the picker
        self.study.value = code

    def _imported(self, _ids: list[str]) -> None:
        choices = stored_choices(self.desk, self.study.value or None)()
        setup = self.views.get("setup")
        if isinstance(setup, StudySetup):
            setup.set_instruments(choices)
        queue = self.views.get("alerts")
        if isinstance(queue, AlertsQueue):
            queue.rule_instrument.options = choices

    def view(self, name: str) -> w.Widget:
        """The tab ``name`` of the open study, built if needed (what a click on the tab does)."""
        index = self._names.index(name)
        self.tabs.selected_index = index
        self._build(index)
        return self.views[name]


def study_workspace(settings: Settings, viewer: str | None, *, today: date | None = None) -> w.Widget:
    """The staff landing page for ``viewer`` (the hub username injected by ``hub.voila_hooks``)."""
    if not viewer:
        return w.HTML('<p role="alert">Connectez-vous au hub / Sign in to the hub first.</p>')
    return StudyWorkspace(StaffDesk(settings, viewer), today=today)
