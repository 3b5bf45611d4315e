"""Indicator dashboard for sponsors and establishments, and the private partners' report button.

State + view + thin callbacks: the study list, the indicators and the report all come from
``secure_bubble.indicators``; this module only shows them and reports refusals in FR/EN.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from typing import Any, TypeVar

import ipywidgets as w
from sqlalchemy.orm import Session

from secure_bubble.indicators import partner_report, study_html, study_indicators, visible_studies
from widgets._store import in_session
from widgets.guarded import guarded, show_error, show_message
from workbench.accounts import get_user
from workbench.errors import PermissionDenied, WorkbenchError
from workbench.settings import Settings
from workbench.warehouse.engine import connect

__all__ = ["IndicatorsDashboard", "indicators_page"]

T = TypeVar("T")
Run = Callable[[Callable[[Session, Any, Any], T]], T]


class IndicatorsDashboard:
    """Pick one of your studies, see its indicators; produce the partner report for your studies."""

    def __init__(self, run: Run[Any], viewer: str) -> None:
        self.run, self.viewer = run, viewer
        self.status, self.output, self.report_link = w.HTML(), w.HTML(), w.HTML()
        self.study = w.Dropdown(description="Étude / Study", options=[])
        self.show_button = w.Button(description="Afficher / Show", button_style="primary")
        self.partner = w.Text(description="Partenaire / Partner", placeholder="Nom / Name")
        self.report_button = w.Button(description="Rapport partenaire / Partner report")
        self.show_button.on_click(guarded(self.status)(self.show))
        self.report_button.on_click(guarded(self.status)(self.report))
        self.widget = w.VBox([
            w.HTML("<h2>Indicateurs de vos études / Indicators of your studies</h2>"), self.status,
            w.HBox([self.study, self.show_button]), self.output,
            w.HTML("<h3>Rapport agrégé pour un partenaire privé / Aggregate report for a private partner</h3>"),
            w.HBox([self.partner, self.report_button]), self.report_link,
        ])
        guarded(self.status)(self.load)()

    def load(self, _: object = None) -> None:
        codes = self.run(lambda s, wh, user: visible_studies(s, user))
        self.study.options = codes
        if codes:
            self.study.value = codes[0]  # ipywidgets 8 leaves a fresh Dropdown without a choice
            self.show()
        else:
            show_message(self.status, "Aucune étude déposée pour vous. / No deposited study of yours yet.")

    def show(self, _: object = None) -> None:
        code = self.study.value
        if not code:
            show_message(self.status, "Choisissez une étude. / Choose a study.", kind="error")
            return
        self.output.value = study_html(self.run(lambda s, wh, user: study_indicators(s, wh, user, code)))
        self.status.value = ""

    def report(self, _: object = None) -> None:
        html = self.run(lambda s, wh, user: partner_report(s, wh, user, self.partner.value))
        data = base64.b64encode(html.encode()).decode()
        name = "".join(ch if ch.isalnum() else "-" for ch in self.partner.value.strip())[:40] or "partner"
        self.report_link.value = (
            f'<p role="status"><a download="weshare-report-{escape(name)}.html" '
            f'href="data:text/html;base64,{data}">Télécharger le rapport / Download the report</a> '
            "(agrégats seulement / aggregates only)</p>")
        self.status.value = ""


def indicators_page(settings: Settings, viewer: str | None) -> w.VBox:
    """The dashboard for the signed-in viewer (``WESHARE_VIEWER``, set by the dashboards server)."""
    if not viewer:
        status = w.HTML()
        show_error(status, PermissionDenied("Connectez-vous d'abord. / Please sign in first."))
        return w.VBox([status])

    def run(work: Callable[[Session, Any, Any], T]) -> T:
        warehouse = connect(settings.warehouse_url)
        try:
            def scoped(session: Session) -> T | WorkbenchError:
                try:
                    return work(session, warehouse, get_user(session, viewer))
                except WorkbenchError as exc:  # keep the refusal's audit entry: commit, then show it
                    return exc
            result = in_session(settings, scoped)
        finally:
            warehouse.dispose()
        if isinstance(result, WorkbenchError):
            raise result
        return result

    return IndicatorsDashboard(run, viewer).widget
