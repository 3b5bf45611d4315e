"""PRO compliance of a study: SISAQOL completion and available-data rates per event and arm.

The numbers are exactly those of ``study_compliance`` (only windows already closed count; died and
off-study are not expected); they are shown with their n/N, as plotly bars, and as a CONSORT-PRO
style flow: for each arm, how many were included and, at each time point, how many forms were
expected, received and why the others are missing.
"""

from __future__ import annotations

from datetime import date
from html import escape

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
from sqlalchemy.orm import Session

from widgets.guarded import guarded, show_message
from widgets.study_setup import StaffDesk
from workbench.accounts.models import User
from workbench.analysis.figures import compliance_figure
from workbench.errors import ValidationError
from workbench.settings import Settings
from workbench.studies.compliance import study_compliance
from workbench.studies.service import get_study

__all__ = ["ComplianceView", "compliance_table_html", "compliance_view", "flow_html"]

COLUMNS = (("arm", "Bras / Arm"), ("timepoint", "Temps / Time point"),
           ("completion", "Complétude n/N / Completion n/N"), ("completion_rate", "%"),
           ("available", "Données disponibles n/N / Available data n/N"), ("available_rate", "%"),
           ("missing", "Manquants / Missing"), ("died", "Décédés / Died"), ("off_study", "Sortis / Off study"))


def _cell(column: str, value: object) -> str:
    if column.endswith("_rate"):
        return "–" if pd.isna(value) else f"{100 * float(value):.1f} %"  # type: ignore[arg-type]
    return escape(str(value))


def compliance_table_html(table: pd.DataFrame) -> str:
    if table.empty:
        return ('<p role="status">Aucune fenêtre close pour cet instrument / '
                "No assessment window has closed yet for this instrument.</p>")
    cols = [(c, h) for c, h in COLUMNS if c in table.columns]
    head = "".join(f'<th scope="col">{escape(h)}</th>' for _c, h in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c, row[c])}</td>" for c, _h in cols) + "</tr>"
                   for _i, row in table.iterrows())
    return (f'<table class="weshare-compliance"><caption>Observance (SISAQOL) / Compliance (SISAQOL)</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def flow_html(table: pd.DataFrame) -> str:
    """CONSORT-PRO style flow from the compliance table: one column per arm, one box per time point."""
    if table.empty:
        return ""
    frame = table if "arm" in table.columns else table.assign(arm="All")
    columns = []
    for arm, part in frame.groupby("arm", sort=False):
        boxes = [f'<div class="box"><strong>{escape(str(arm))}</strong> : '
                 f'{int(part["randomised"].iloc[0])} inclus / included</div>']
        for _i, r in part.iterrows():
            boxes.append(
                f'<div class="box" style="border:1px solid #555;margin:4px;padding:4px">'
                f'<strong>{escape(str(r["timepoint"]))}</strong><br>'
                f'attendus / expected {int(r["expected"])} · reçus / received {int(r["received"])}<br>'
                f'manquants / missing {int(r["missing"])} · décédés / died {int(r["died"])} · '
                f'sortis / off study {int(r["off_study"])}</div>')
        columns.append(f'<div style="flex:1" role="group" aria-label="{escape(str(arm))}">{"↓".join(boxes)}</div>')
    return ('<h3>Flux CONSORT-PRO / CONSORT-PRO flow</h3>'
            f'<div class="weshare-flow" style="display:flex;gap:1em">{"".join(columns)}</div>')


class ComplianceView(w.VBox):  # type: ignore[misc]
    """Instrument and date pickers, the n/N table, the bars and the flow."""

    def __init__(self, desk: StaffDesk, study_code: str, today: date | None = None) -> None:
        self.desk, self.study_code = desk, study_code
        self.table_data = pd.DataFrame()
        self.status = w.HTML()
        self.instrument = w.Dropdown(description="Instrument", options=[])
        self.as_of = w.DatePicker(description="Au / As of", value=today or date.today())
        self.show_button = w.Button(description="Calculer / Compute")
        self.table = w.HTML()
        self.figure = go.FigureWidget()
        self.flow = w.HTML()
        ok = guarded(self.status)
        self.show_button.on_click(ok(lambda _b: self.refresh()))
        super().__init__([w.HTML(f"<h2>Observance / Compliance — {escape(study_code)}</h2>"), self.status,
                          self.instrument, self.as_of, self.show_button, self.table, self.figure, self.flow])
        ok(lambda: self.load())()

    def load(self) -> None:
        def work(session: Session, _user: User) -> list[str]:
            study = get_study(session, self.study_code)
            return sorted({i for e in study.events for i in e.instruments})

        instruments = self.desk.run(self.study_code, "view", work)
        self.instrument.options = instruments
        if instruments and self.instrument.value not in instruments:
            self.instrument.value = instruments[0]  # ipywidgets 8 leaves None after empty options
        if instruments:
            self.refresh()
        else:
            show_message(self.status, "Aucun instrument au calendrier / No instrument in the schedule")

    def refresh(self) -> None:
        instrument, as_of = self.instrument.value, self.as_of.value
        if not instrument:
            raise ValidationError("choisissez un instrument / pick an instrument", where="instrument")
        if as_of is None:
            raise ValidationError("choisissez une date / pick a date", where="au / as of")
        self.table_data = self.desk.run(self.study_code, "view", lambda session, _u: study_compliance(
            session, self.study_code, instrument, today=as_of))
        self.table.value = compliance_table_html(self.table_data)
        self.flow.value = flow_html(self.table_data)
        with self.figure.batch_update():
            self.figure.data = ()
            if not self.table_data.empty:
                fig = compliance_figure(self.table_data, title=f"{instrument} — observance / compliance")
                self.figure.add_traces(list(fig.data))
                self.figure.layout = fig.layout
        show_message(self.status, f"{instrument} : {len(self.table_data)} ligne(s) / row(s)")


def compliance_view(settings: Settings, viewer: str | None, study_code: str,
                    today: date | None = None) -> ComplianceView:
    return ComplianceView(StaffDesk(settings, viewer), study_code, today)
