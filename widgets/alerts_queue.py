"""Clinician alerts queue for one study: open alerts, acknowledgement, follow-up notes, rule editor.

The queue is what ``open_alerts`` returns (most severe, oldest first); acknowledging and recording
follow-up go through the domain, which audits them. Only pseudonyms are shown.
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets.guarded import guarded, show_message
from widgets.study_setup import StaffDesk, instrument_choices
from workbench.accounts.models import User
from workbench.errors import ValidationError
from workbench.settings import Settings
from workbench.studies.alerts import KINDS, acknowledge, add_follow_up, add_rule, open_alerts

__all__ = ["AlertsQueue", "alerts_queue", "alerts_table_html"]

SEVERITY = {"high": "Élevée / High", "medium": "Moyenne / Medium", "low": "Faible / Low"}
STATE = {"open": "Ouverte / Open", "acknowledged": "Prise en compte / Acknowledged"}
KIND_LABELS = {"above": "Au-dessus de / Above", "below": "En dessous de / Below",
               "worsening": "Aggravation d'au moins / Worsening by at least"}
HEADERS = ("N°", "Gravité / Severity", "Participant", "Règle / Rule", "Valeur / Value",
           "Quand / When", "État / State")


def alerts_table_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p role="status">Aucune alerte ouverte / No open alert.</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in HEADERS)
    body = "".join(
        f'<tr class="severity-{escape(r["severity"])}"><th scope="row">{r["id"]}</th>'
        f'<td>{escape(SEVERITY[r["severity"]])}</td><td>{escape(r["pseudonym"])}</td>'
        f'<td>{escape(r["rule"])}</td><td>{r["value"]:g}</td><td>{escape(r["when"])}</td>'
        f'<td>{escape(STATE.get(r["status"], r["status"]))}</td></tr>' for r in rows)
    return (f'<table class="weshare-alerts"><caption>Alertes / Alerts</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _history_html(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    items = [f"<li>{escape(row['when'])} — alerte créée / alert raised ({row['value']:g})</li>"]
    if row["acknowledged_by"]:
        items.append(f"<li>{escape(row['acknowledged_at'])} — prise en compte par / acknowledged by "
                     f"{escape(row['acknowledged_by'])}</li>")
    items += [f"<li>{escape(f['at'][:16].replace('T', ' '))} — {escape(f['by'])} : {escape(f['note'])}</li>"
              for f in row["follow_up"]]
    return f"<h4>Historique / History — alerte / alert {row['id']}</h4><ol>{''.join(items)}</ol>"


class AlertsQueue(w.VBox):  # type: ignore[misc]
    """Queue table, actions on the selected alert, and the rule editor."""

    def __init__(self, desk: StaffDesk, study_code: str) -> None:
        self.desk, self.study_code = desk, study_code
        self.rows: list[dict[str, Any]] = []
        self.status = w.HTML()
        self.table = w.HTML()
        self.history = w.HTML()
        lay = {"style": {"description_width": "12em"}, "layout": w.Layout(width="32em")}
        self.selected = w.Dropdown(description="Alerte / Alert", options=[], **lay)
        self.acknowledge_button = w.Button(description="Prendre en compte / Acknowledge")
        self.note = w.Textarea(description="Suivi / Follow-up note", **lay)
        self.close = w.Checkbox(description="Clore l'alerte / Close the alert", value=False)
        self.follow_button = w.Button(description="Enregistrer le suivi / Record follow-up")
        self.refresh_button = w.Button(description="Actualiser / Refresh")
        self.rule_instrument = w.Dropdown(description="Instrument", options=instrument_choices(), **lay)
        self.rule_variable = w.Text(description="Item ou score / Item or score", placeholder="q9, TOTAL", **lay)
        self.rule_kind = w.Dropdown(description="Condition", options=[(KIND_LABELS[k], k) for k in KINDS], **lay)
        self.rule_threshold = w.FloatText(description="Seuil / Threshold", value=0, **lay)
        self.rule_severity = w.Dropdown(description="Gravité / Severity",
                                        options=[(v, k) for k, v in SEVERITY.items()], **lay)
        self.rule_label = w.Text(description="Libellé / Label", **lay)
        self.rule_button = w.Button(description="Ajouter la règle / Add rule")
        ok = guarded(self.status)
        self.refresh_button.on_click(ok(lambda _b: self.refresh()))
        self.acknowledge_button.on_click(ok(lambda _b: self.acknowledge()))
        self.follow_button.on_click(ok(lambda _b: self.follow_up()))
        self.rule_button.on_click(ok(lambda _b: self.add_rule()))
        self.selected.observe(lambda _c: self._show_history(), names="value")
        super().__init__([
            w.HTML(f"<h2>Alertes cliniques / Clinical alerts — {escape(study_code)}</h2>"), self.status,
            self.refresh_button, self.table, self.selected, self.acknowledge_button, self.note, self.close,
            self.follow_button, self.history,
            w.HTML("<h3>Règles d'alerte / Alert rules</h3>"), self.rule_instrument, self.rule_variable,
            self.rule_kind, self.rule_threshold, self.rule_severity, self.rule_label, self.rule_button,
        ])
        ok(lambda: self.refresh())()

    def _current(self) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["id"] == self.selected.value), None)

    def _show_history(self) -> None:
        self.history.value = _history_html(self._current())

    def refresh(self) -> None:
        def work(session: Session, _user: User) -> list[dict[str, Any]]:
            return [{"id": a.id, "severity": r.severity, "pseudonym": p, "rule": r.label, "value": a.value,
                     "when": a.created_at.strftime("%Y-%m-%d %H:%M"), "status": a.status,
                     "acknowledged_by": a.acknowledged_by,
                     "acknowledged_at": a.acknowledged_at.strftime("%Y-%m-%d %H:%M") if a.acknowledged_at else "",
                     "follow_up": list(a.follow_up)} for a, r, p in open_alerts(session, self.study_code)]

        keep = self.selected.value
        self.rows = self.desk.run(self.study_code, "clinical", work)
        self.table.value = alerts_table_html(self.rows)
        self.selected.options = [(f"{r['id']} — {r['pseudonym']} — {r['rule']}", r["id"]) for r in self.rows]
        if keep in {r["id"] for r in self.rows}:
            self.selected.value = keep
        self._show_history()

    def _chosen(self) -> int:
        if self.selected.value is None:
            raise ValidationError("choisissez une alerte / pick an alert", where="alerte / alert")
        return int(self.selected.value)

    def acknowledge(self) -> None:
        alert_id = self._chosen()
        self.desk.run(self.study_code, "clinical",
                      lambda session, user: acknowledge(session, alert_id, clinician=user.username))
        self.refresh()
        show_message(self.status, f"Alerte {alert_id} prise en compte / Alert {alert_id} acknowledged")

    def follow_up(self) -> None:
        alert_id, note, close = self._chosen(), self.note.value, self.close.value
        self.desk.run(self.study_code, "clinical", lambda session, user: add_follow_up(
            session, alert_id, clinician=user.username, note=note, close=close))
        self.note.value, self.close.value = "", False
        self.refresh()
        show_message(self.status, f"Suivi enregistré / Follow-up recorded (alerte / alert {alert_id})")

    def add_rule(self) -> None:
        variable, label = self.rule_variable.value.strip(), self.rule_label.value.strip()
        if not variable or not label:
            raise ValidationError("item et libellé requis / item and label are required",
                                  where="règle / rule")
        kind, threshold = self.rule_kind.value, float(self.rule_threshold.value)
        instrument, severity = self.rule_instrument.value, self.rule_severity.value
        self.desk.run(self.study_code, "manage", lambda session, user: add_rule(
            session, self.study_code, instrument_id=instrument, variable=variable, kind=kind,
            threshold=threshold, label=label, actor=user.username, severity=severity))
        self.rule_variable.value = self.rule_label.value = ""
        show_message(self.status, f"Règle ajoutée / Rule added: {label}")


def alerts_queue(settings: Settings, viewer: str | None, study_code: str) -> AlertsQueue:
    return AlertsQueue(StaffDesk(settings, viewer), study_code)
