"""One study's participant desks as tabs: inclusion and randomisation, portal invitations, interviews,
data-rights queue. Shown as the "Participants" tab of the study workspace (``studies.ipynb``);
each desk is built when its tab is first opened and checks the viewer's role on every action."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from widgets.guarded import guarded
from widgets.randomisation_desk import RandomisationDesk
from widgets.study_setup import StaffDesk
from widgets.team_desks import InterviewsDesk, InvitationsDesk, RightsQueue

__all__ = ["TABS", "ParticipantTabs"]

TABS: dict[str, tuple[str, Callable[[StaffDesk, str], w.Widget]]] = {
    "randomisation": ("Inclusion / Randomisation", RandomisationDesk),
    "invitations": ("Espace participant / Portal", InvitationsDesk),
    "interviews": ("Entretiens / Interviews", InterviewsDesk),
    "rights": ("Droits / Rights", RightsQueue),
}


class ParticipantTabs(w.VBox):  # type: ignore[misc]
    def __init__(self, desk: StaffDesk, study_code: str) -> None:
        self.desk, self.study_code = desk, study_code
        self.status = w.HTML()
        self.views: dict[str, w.Widget] = {}
        self.tabs = w.Tab(children=[w.HTML("…") for _ in TABS])
        self.tabs.titles = tuple(title for title, _make in TABS.values())
        self.tabs.observe(guarded(self.status)(lambda _c: self._build(self.tabs.selected_index)),
                          names="selected_index")
        super().__init__([self.status, self.tabs])
        self.tabs.selected_index = 0
        self._build(0)

    def _build(self, index: int | None) -> None:
        names = list(TABS)
        if index is None or index >= len(names) or names[index] in self.views:
            return
        view = TABS[names[index]][1](self.desk, self.study_code)
        self.views[names[index]] = view
        children = list(self.tabs.children)
        children[index] = view
        self.tabs.children = children

    def view(self, name: str) -> w.Widget:
        """The desk ``name``, built if needed (what a click on its tab does)."""
        index = list(TABS).index(name)
        self.tabs.selected_index = index
        self._build(index)
        return self.views[name]
