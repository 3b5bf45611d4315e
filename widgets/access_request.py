"""Researcher's access request form: purpose from the closed list, studies with variables and a
justification each, team, duration, regulatory reference, funder; the tariff is shown before the
request can be submitted, and the researcher's own requests are listed with their status.

State + view + thin callbacks: validation, the tariff and the opposition window are the domain's
(``secure_bubble.access``); filing runs as the governed action ``access.file``.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import ipywidgets as w

from secure_bubble import access, desk
from widgets._governed import Desk, bi, html_table, signed_out
from widgets.guarded import guarded, show_message
from workbench.settings import Settings

__all__ = ["REQUEST_STATUS", "AccessRequestForm", "access_request_page", "requests_html"]

REQUEST_STATUS = {
    "draft": "Brouillon / Draft",
    "sponsor_window": "Délai d'opposition des promoteurs / Sponsors' opposition window",
    "committee_review": "Comité scientifique et éthique / Scientific & ethics committee",
    "deontology_review": "Comité de déontologie / Deontology committee",
    "approved": "Approuvée / Approved",
    "rejected": "Refusée / Rejected",
}
FUNDER = [("Public / Public", "public"), ("Privé / Private", "private")]
REQUESTER = [("Académique / Academic", "academic"), ("Partenaire privé / Private partner", "partner_private"),
             ("Privé / Private", "private")]


def _split(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,;\n]", text) if p.strip()]


def tariff_html(quote: dict[str, Any]) -> str:
    lines = "".join(f"<tr><th scope=\"row\">{escape(x['item'])}</th><td>{x['amount']:,.2f} €</td></tr>"
                    for x in quote["lines"])
    return (f'<table class="weshare-table" aria-label="tariff"><caption>{bi("Tarif d’accès à l’entrepôt", "Warehouse access tariff")}'
            f" (HT / excl. VAT)</caption><tbody>{lines}</tbody><tfoot><tr><th scope=\"row\">Total</th>"
            f'<td class="weshare-total">{quote["total"]:,.2f} €</td></tr></tfoot></table>')


def requests_html(requests: list[Any]) -> str:
    rows = [[str(r.id), escape(r.title), escape(REQUEST_STATUS.get(r.status, r.status)),
             escape(f"{r.opposition_deadline:%Y-%m-%d}" if r.opposition_deadline else ""),
             escape(", ".join(i.study_code for i in r.items)), escape(r.decision_reason or "")]
            for r in requests]
    return html_table(bi("Mes demandes", "My requests"),
                      ["N°", bi("Titre", "Title"), bi("Statut", "Status"), bi("Opposition jusqu'au", "Opposition until"),
                       bi("Études", "Studies"), bi("Décision", "Decision")],
                      rows, empty=bi("Aucune demande pour l'instant.", "No request yet."))


class AccessRequestForm(w.VBox):  # type: ignore[misc]
    """One request at a time; ``items`` holds the studies added so far."""

    def __init__(self, desk_: Desk) -> None:
        self.desk = desk_
        self.items: list[dict[str, Any]] = []
        self._plans: dict[str, tuple[str, ...]] = {}
        self.quoted: dict[str, Any] | None = None
        self.status, self.items_view, self.tariff, self.mine = w.HTML(), w.HTML(), w.HTML(), w.HTML()
        wide = w.Layout(width="95%")
        self.title = w.Text(description="Titre / Title", layout=wide)
        self.summary = w.Textarea(description="Résumé / Summary", layout=wide)
        self.purpose = w.Dropdown(description="Finalité / Purpose", layout=wide,
                                  options=[(label, key) for key, label in access.PERMITTED_PURPOSES.items()])
        self.regulatory_ref = w.Text(description="Réf. CNIL / CNIL ref.", placeholder="MR-004 n°…")
        self.funder = w.Dropdown(description="Financeur / Funder", options=FUNDER)
        self.requester_status = w.Dropdown(description="Statut / Status", options=REQUESTER)
        self.team = w.Text(description="Équipe / Team", placeholder="identifiants séparés par des virgules / usernames, comma-separated", layout=wide)
        self.duration = w.BoundedIntText(value=12, min=1, max=60, description="Durée (mois) / Months")
        self.study = w.Dropdown(description="Étude / Study", options=[])
        self.variables = w.Textarea(description="Variables", placeholder="qlq-c30.QL2, qlq-c30.FA", layout=wide)
        self.justification = w.Textarea(description="Justification", layout=wide)
        self.plan = w.HTML()
        self.add_button = w.Button(description="Ajouter l'étude / Add study")
        self.remove = w.Dropdown(description="Retirer / Remove", options=[])
        self.remove_button = w.Button(description="Retirer / Remove")
        self.quote_button = w.Button(description="Voir le tarif / Show tariff", button_style="info")
        self.submit_button = w.Button(description="Déposer la demande / Submit", button_style="primary",
                                      disabled=True)
        for button, callback in ((self.add_button, self.add_study), (self.remove_button, self.remove_study),
                                 (self.quote_button, self.show_quote), (self.submit_button, self.submit)):
            button.on_click(guarded(self.status)(callback))
        self.study.observe(guarded(self.status)(self._show_plan), "value")
        for field in (self.requester_status, self.purpose, self.title, self.summary, self.regulatory_ref, self.funder,
                      self.team, self.duration):
            field.observe(self._changed, "value")
        super().__init__([
            w.HTML(f"<h2>{bi('Demande d’accès aux données de l’entrepôt', 'Warehouse data access request')}</h2>"),
            self.status, self.title, self.summary, self.purpose, self.regulatory_ref,
            w.HBox([self.funder, self.requester_status]), self.team, self.duration,
            w.HTML(f"<h3>{bi('Études et variables demandées', 'Studies and variables requested')}</h3>"),
            self.study, self.plan, self.variables, self.justification, self.add_button, self.items_view,
            w.HBox([self.remove, self.remove_button]),
            w.HTML(f"<h3>{bi('Tarif puis dépôt', 'Tariff, then submission')}</h3>"),
            self.quote_button, self.tariff, self.submit_button, self.mine,
        ])
        guarded(self.status)(self.load)()

    def load(self, _: object = None) -> None:
        studies = self.desk.read(lambda s, u: desk.requestable_studies(s, u))
        self._plans = {st.code: st.variables for st in studies}
        self.study.options = [(f"{st.code} — {st.title}", st.code) for st in studies]
        self.mine.value = requests_html(self.desk.read(lambda s, u: desk.my_requests(s, u)))

    def _show_plan(self, _: object = None) -> None:
        plan = self._plans.get(self.study.value or "", ())
        self.plan.value = (f"<p><small>{bi('Déposé', 'Deposited')} : {escape(', '.join(plan))}</small></p>"
                           if plan else "")

    def _changed(self, _: object = None) -> None:
        """Any change voids the tariff shown: it must be seen again for what is submitted."""
        self.quoted, self.tariff.value, self.submit_button.disabled = None, "", True

    def _render_items(self) -> None:
        rows = [[escape(i["study"]), escape(", ".join(i["variables"])), escape(i["justification"])]
                for i in self.items]
        self.items_view.value = html_table(
            bi("Études ajoutées", "Studies added"), ["Étude / Study", "Variables", "Justification"], rows,
            empty=bi("Aucune étude ajoutée.", "No study added yet."))
        self.remove.options = [i["study"] for i in self.items]
        self._changed()

    def add_study(self, _: object = None) -> None:
        if not self.study.value:
            show_message(self.status, "Choisissez une étude. / Choose a study.", kind="error")
            return
        item = {"study": self.study.value, "variables": _split(self.variables.value),
                "justification": self.justification.value.strip()}
        self.items = [i for i in self.items if i["study"] != item["study"]] + [item]
        self.variables.value = self.justification.value = ""
        self._render_items()
        self.status.value = ""

    def remove_study(self, _: object = None) -> None:
        self.items = [i for i in self.items if i["study"] != self.remove.value]
        self._render_items()

    def _fields(self) -> dict[str, Any]:
        return dict(title=self.title.value, summary=self.summary.value, purpose=self.purpose.value,
                    regulatory_ref=self.regulatory_ref.value, funder=self.funder.value,
                    requester_status=self.requester_status.value, team=_split(self.team.value),
                    duration_months=int(self.duration.value), items=[dict(i) for i in self.items])

    def show_quote(self, _: object = None) -> None:
        fields = self._fields()
        quote = access.quote_for(fields["requester_status"], fields["items"]).as_dict()
        self.tariff.value = tariff_html(quote)
        self.quoted, self.submit_button.disabled = fields, False
        self.status.value = ""

    def submit(self, _: object = None) -> None:
        fields = self._fields()
        if self.quoted != fields:  # the form changed after the tariff was shown
            self._changed()
            show_message(self.status, "Affichez d'abord le tarif. / Show the tariff first.", kind="error")
            return

        def file(s: Any, user: Any) -> tuple[int, str]:
            request = access.draft_request(s, user, **fields)
            request = access.submit_request(s, request.id, user)
            return request.id, f"{request.opposition_deadline:%Y-%m-%d}"

        rid, deadline = self.desk.act("access.file", "access_request", "new", file)
        self.items, self.quoted = [], None
        self.title.value = self.summary.value = self.regulatory_ref.value = self.team.value = ""
        self._render_items()
        self.mine.value = requests_html(self.desk.read(lambda s, u: desk.my_requests(s, u)))
        show_message(self.status, f"Demande n°{rid} déposée ; les promoteurs peuvent s'opposer jusqu'au "
                                  f"{deadline}. / Request {rid} submitted; sponsors may oppose until {deadline}.")


def access_request_page(settings: Settings, viewer: str | None) -> w.Widget:
    """The form for the signed-in researcher (``WESHARE_VIEWER``, set by the dashboards server)."""
    return AccessRequestForm(Desk.for_settings(settings, viewer)) if viewer else signed_out()
