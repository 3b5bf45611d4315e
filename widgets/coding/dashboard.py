"""The coding dashboard (Voila): pick a study and a transcript, code it, measure, analyse.

Who is looking comes from the hub (``WESHARE_VIEWER``); what they may do comes from their roles
(``workbench.qualitative.workspace``): a coder sees only the studies their ``coder`` role is
scoped to and codes blind (only their own layer ever reaches the browser); the study's manager
(the lead) sees every layer, computes agreement and codes the consensus layer.
"""

from __future__ import annotations

import os
from html import escape

import ipywidgets as w

from widgets.coding.backend import StoreBackend
from widgets.coding.panels import AgreementPanel, AnalysisPanel
from widgets.coding.widget import CodingWidget
from widgets.guarded import guarded, show_error, show_message
from workbench.errors import PermissionDenied
from workbench.settings import Settings
from workbench.viewer_ticket import ticket_key, verify_ticket

__all__ = ["VIEWER_TICKET_ENV", "CodingDashboard", "coding_dashboard", "request_viewer"]

# hub.coding_service.VIEWER_HEADER as Voila names it in the kernel (http_header_envs, RFC 3875).
VIEWER_TICKET_ENV = "HTTP_X_WESHARE_VIEWER_TICKET"


class CodingDashboard(w.VBox):  # type: ignore[misc]
    """Study and transcript pickers, the coding widget, and the agreement / analysis panels."""

    def __init__(self, backend: StoreBackend, *, study: str | None = None, document: int | None = None) -> None:
        self.backend = backend
        self.status = w.HTML()
        self.study = w.Dropdown(description="Étude / Study", options=[])
        self.document = w.Dropdown(description="Entretien / Transcript", options=[],
                                   layout=w.Layout(width="28em"))
        self.open_button = w.Button(description="Ouvrir / Open")
        self.layer = w.ToggleButtons(description="Couche / Layer", options=[("Mes codages / My codings", "self")])
        self.area = w.VBox()
        self.panels = w.Tab()
        self.widget: CodingWidget | None = None
        self._access: dict[str, str] = {}
        self._starting = True  # pickers are being filled: open once, at the end
        self.study.observe(guarded(self.status)(lambda _c: self._load_documents()), "value")
        self.open_button.on_click(guarded(self.status)(lambda _b: self.open_document()))
        self.layer.observe(guarded(self.status)(lambda _c: None if self._starting else self.open_document()), "value")
        super().__init__([
            w.HTML(f"<h1>Codage des entretiens <span lang='en'>/ Interview coding</span></h1>"
                   f"<p>{escape(backend.viewer)}</p>"),
            w.HBox([self.study, self.document, self.open_button]), self.layer, self.status, self.area,
            self.panels])
        guarded(self.status)(self._start)(study, document)

    def _start(self, study: str | None, document: int | None) -> None:
        studies = self.backend.studies()
        if not studies:
            raise PermissionDenied("aucune étude à coder pour ce compte / no study to code for this account")
        self._access = {code: access for code, _t, access in studies}
        self.study.options = [(f"{code} — {title}", code) for code, title, _a in studies]
        self.study.value = study if study in self._access else studies[0][0]
        if document is not None:
            self.document.value = document
        self._starting = False
        self.open_document()

    def _load_documents(self) -> None:
        rows = self.backend.documents(self.study.value)
        self.document.options = [(f"{r.name} ({r.participant or '—'}, v{r.version}, {r.codings} codage(s))",
                                  r.version_id) for r in rows]
        self.document.value = rows[0].version_id if rows else None
        lead = self._access.get(self.study.value) == "lead"
        mine = ("Mes codages / My codings", "self")
        self.layer.options = [("Consensus", "consensus"), mine] if lead else [mine]

    def open_document(self) -> None:
        """Build the coding widget for the chosen transcript (and the panels for its study)."""
        if self.document.value is None:
            self.area.children = [w.HTML("<p>Aucun entretien dans cette étude. / No transcript in this study.</p>")]
            return
        study_code, transcript, codebook = self.backend.open(self.document.value)
        lead = self._access.get(study_code) == "lead"
        consensus = lead and self.layer.value == "consensus"
        self.widget = CodingWidget(transcript, codebook, backend=self.backend, version_id=self.document.value,
                                   coder="consensus" if consensus else self.backend.viewer,
                                   blind=not lead, as_consensus=consensus, status=self.status)
        self.area.children = [self.widget]
        names = {c.id: c.name for c in codebook.codes if c.codable}
        panels: list[w.Widget] = [AnalysisPanel(self.backend, study_code, names)]
        titles = ["Analyse / Analysis"]
        if lead:
            panels.insert(0, AgreementPanel(self.backend, study_code, names))
            titles.insert(0, "Accord et consensus / Agreement and consensus")
        self.panels.children = panels
        self.panels.titles = tuple(titles)
        show_message(self.status, f"{transcript.name} : {len(transcript.turns)} tour(s) / turn(s)")


def request_viewer(settings: Settings) -> str | None:
    """The viewer named by the ticket of this page's request (coding service), or ``None``.

    Voila puts the request's variables in the kernel's environment (at start, or on the visit for
    a preheated kernel, ``widgets.coding.page``); only a ticket signed with the instance's key
    and unexpired names a viewer."""
    ticket = os.environ.pop(VIEWER_TICKET_ENV, "")
    if not ticket:
        return None
    try:
        return verify_ticket(ticket_key(settings.secret_key_file), ticket)
    except PermissionDenied:
        return None


def coding_dashboard(settings: Settings, viewer: str | None, *, study: str | None = None,
                     document: int | None = None) -> w.Widget:
    """Build the dashboard for ``viewer`` (the hub username); a friendly message when refused."""
    status = w.HTML()
    try:
        if not viewer:
            raise PermissionDenied("connectez-vous au hub / sign in to the hub first")
        return CodingDashboard(StoreBackend(settings, viewer), study=study, document=document)
    except Exception as exc:  # the store may be down: say so instead of a traceback
        show_error(status, exc)
        return w.VBox([w.HTML("<h1>Codage des entretiens <span lang='en'>/ Interview coding</span></h1>"),
                       status])
