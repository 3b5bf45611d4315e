"""Staff dashboard: the studies the signed-in viewer may see, with their status.

Who the viewer is comes from the hub (``hub.voila_hooks`` injects it server-side); which studies
they may see is decided by the domain (``visible_studies``), which also audits the view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

import ipywidgets as w

from widgets._store import in_session
from widgets.guarded import guarded, show_error, show_message
from workbench.accounts import get_user
from workbench.errors import PermissionDenied
from workbench.settings import Settings
from workbench.studies.service import StudyRow, visible_studies

__all__ = ["STATUS_LABELS", "StudiesDashboard", "studies_dashboard", "studies_table_html"]

STATUS_LABELS = {
    "draft": "Brouillon / Draft",
    "active": "En cours / Active",
    "closed": "Close / Closed",
    "deposited": "Archivée / Deposited",
}
HEADERS = ("Code", "Titre / Title", "Statut / Status", "Schéma / Design", "Promoteur / Sponsor",
           "Participants")


def studies_table_html(rows: Sequence[StudyRow]) -> str:
    if not rows:
        return '<p role="status">Aucune étude visible. <span lang="en">/ No study to show.</span></p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in HEADERS)
    body = "".join(
        "<tr>"
        f'<th scope="row">{escape(r.code)}</th><td>{escape(r.title)}</td>'
        f'<td class="status status-{escape(r.status)}">{escape(STATUS_LABELS.get(r.status, r.status))}</td>'
        f"<td>{escape(r.design)}</td><td>{escape(r.sponsor)}</td><td>{r.participants}</td>"
        "</tr>"
        for r in rows
    )
    return (
        '<table class="weshare-studies" style="border-collapse:collapse">'
        '<caption>Études <span lang="en">/ Studies</span></caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


class StudiesDashboard(w.VBox):  # type: ignore[misc]
    """Heading, table and a refresh button; ``load`` returns the rows for the current viewer."""

    def __init__(self, load: Callable[[], list[StudyRow]], viewer: str) -> None:
        self._load = load
        self.heading = w.HTML(
            f"<h1>Études <span lang='en'>/ Studies</span></h1><p>{escape(viewer)}</p>"
        )
        self.table = w.HTML()
        self.status = w.HTML()
        self.refresh_button = w.Button(description="Actualiser / Refresh", icon="")
        self.refresh_button.on_click(guarded(self.status)(lambda _b: self.refresh()))
        super().__init__([self.heading, self.refresh_button, self.status, self.table])
        self.refresh()

    def refresh(self) -> None:
        try:
            rows = self._load()
        except Exception as exc:
            self.table.value = ""
            show_error(self.status, exc)
            return
        self.table.value = studies_table_html(rows)
        show_message(self.status, f"{len(rows)} étude(s) / {len(rows)} study(ies)")


def studies_dashboard(settings: Settings, viewer: str | None) -> w.Widget:
    """Build the dashboard for ``viewer`` (the hub username), refusing non-staff or no viewer."""

    def load() -> list[StudyRow]:
        if not viewer:
            raise PermissionDenied("connectez-vous au hub / sign in to the hub first")

        def work(session):  # type: ignore[no-untyped-def]
            user = get_user(session, viewer)
            if not user.is_staff or not user.active:
                raise PermissionDenied("ce tableau de bord est réservé à l'équipe / staff only")
            return visible_studies(session, user)

        return in_session(settings, work)

    return StudiesDashboard(load, viewer or "")
