"""Sponsor's view: open access requests that touch the studies they speak for, and the right to
oppose each study's reuse within the opposition window (silence means no objection).

The queue and the answer are the domain's (``secure_bubble.desk.sponsor_queue``,
``secure_bubble.access.sponsor_answer``), both run as governed actions so a refusal is audited.
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as w

from secure_bubble import access, desk
from widgets._governed import Desk, bi, html_table, signed_out
from widgets.access_request import REQUEST_STATUS
from widgets.guarded import guarded, show_message
from workbench.settings import Settings

__all__ = ["SponsorDesk", "sponsor_page"]

ANSWERS = {"opposed": "Opposition / Opposed", "no_objection": "Pas d'objection / No objection"}


class SponsorDesk(w.VBox):  # type: ignore[misc]
    """Pick one (request, study) pair of the queue, read it, answer."""

    def __init__(self, desk_: Desk) -> None:
        self.desk = desk_
        self.status, self.queue_view, self.detail = w.HTML(), w.HTML(), w.HTML()
        self.choice = w.Dropdown(description="Demande / Request", options=[], layout=w.Layout(width="95%"))
        self.reason = w.Textarea(description="Motif / Reason", layout=w.Layout(width="95%"),
                                 placeholder="Obligatoire pour s'opposer / required to oppose")
        self.no_objection_button = w.Button(description="Pas d'objection / No objection", button_style="success")
        self.oppose_button = w.Button(description="S'opposer / Oppose", button_style="danger")
        self.refresh_button = w.Button(description="Actualiser / Refresh")
        self.no_objection_button.on_click(guarded(self.status)(lambda _b: self.answer(opposed=False)))
        self.oppose_button.on_click(guarded(self.status)(lambda _b: self.answer(opposed=True)))
        self.refresh_button.on_click(guarded(self.status)(self.load))
        self.choice.observe(guarded(self.status)(self.show), "value")
        self._requests: dict[int, dict[str, Any]] = {}
        super().__init__([
            w.HTML(f"<h2>{bi('Réutilisation des données de vos études', 'Reuse of your studies’ data')}</h2>"
                   f"<p>{bi('Vous pouvez vous opposer à la réutilisation des données de vos études pendant le délai indiqué ; sans réponse, il n’y a pas d’objection.', 'You may oppose the reuse of your studies’ data until the date shown; without an answer there is no objection.')}</p>"),
            self.status, self.refresh_button, self.queue_view, self.choice, self.detail, self.reason,
            w.HBox([self.no_objection_button, self.oppose_button]),
        ])
        guarded(self.status)(self.load)()

    def load(self, _: object = None) -> None:
        def work(s: Any, user: Any) -> dict[int, dict[str, Any]]:
            mine = {a.scope_id for a in user.roles if a.role == "study_manager" and a.scope_type == "study"}
            return {r.id: {
                "title": r.title, "requester": r.requester, "summary": r.summary,
                "purpose": access.PERMITTED_PURPOSES.get(r.purpose, r.purpose), "funder": r.funder,
                "deadline": f"{r.opposition_deadline:%Y-%m-%d}", "team": list(r.team),
                "items": [(i.study_code, list(i.variables), i.justification, i.sponsor_decision)
                          for i in r.items if i.study_code in mine],
            } for r in desk.sponsor_queue(s, user)}

        self._requests = self.desk.act("sponsor.view", "access_request", "*", work)
        rows = [[str(rid), escape(r["title"]), escape(r["deadline"]),
                 escape(", ".join(f"{code}: {ANSWERS.get(answer or '', 'en attente / pending')}"
                                  for code, _, _, answer in r["items"]))]
                for rid, r in self._requests.items()]
        self.queue_view.value = html_table(
            bi("Demandes ouvertes", "Open requests"),
            ["N°", bi("Titre", "Title"), bi("Opposition jusqu'au", "Opposition until"), bi("Vos études", "Your studies")],
            rows, empty=bi("Aucune demande ouverte sur vos études.", "No open request on your studies."))
        self.choice.options = [(f"{rid} — {code} — {r['title']}", (rid, code))
                               for rid, r in self._requests.items() for code, *_ in r["items"]]
        self.choice.value = self.choice.options[0][1] if self.choice.options else None
        self.show()

    def show(self, _: object = None) -> None:
        if not self.choice.value:
            self.detail.value = ""
            return
        rid, code = self.choice.value
        r = self._requests[rid]
        _, variables, justification, answer = next(i for i in r["items"] if i[0] == code)
        self.detail.value = (
            f"<dl><dt>{bi('Demandeur', 'Requester')}</dt><dd>{escape(r['requester'])} "
            f"({escape(', '.join(r['team']))})</dd>"
            f"<dt>{bi('Finalité', 'Purpose')}</dt><dd>{escape(r['purpose'])}</dd>"
            f"<dt>{bi('Financement', 'Funding')}</dt><dd>{escape(r['funder'])}</dd>"
            f"<dt>{bi('Résumé', 'Summary')}</dt><dd>{escape(r['summary'])}</dd>"
            f"<dt>{bi('Variables demandées de', 'Variables asked of')} {escape(code)}</dt>"
            f"<dd>{escape(', '.join(variables))}</dd>"
            f"<dt>Justification</dt><dd>{escape(justification)}</dd>"
            f"<dt>{bi('Votre réponse', 'Your answer')}</dt>"
            f"<dd>{escape(ANSWERS.get(answer or '', 'en attente / pending'))}</dd></dl>")

    def answer(self, *, opposed: bool) -> None:
        if not self.choice.value:
            show_message(self.status, "Choisissez une demande. / Choose a request.", kind="error")
            return
        rid, code = self.choice.value
        reason = self.reason.value
        status = self.desk.act("access.oppose", "access_request", rid, lambda s, user: access.sponsor_answer(
            s, rid, code, user, opposed=opposed, reason=reason).status)
        self.reason.value = ""
        self.load()
        word = ("Opposition enregistrée / Opposition recorded" if opposed
                else "Absence d'objection enregistrée / No objection recorded")
        show_message(self.status, f"{word} ({code}, n°{rid}) — {REQUEST_STATUS.get(status, status)}")


def sponsor_page(settings: Settings, viewer: str | None) -> w.Widget:
    return SponsorDesk(Desk.for_settings(settings, viewer)) if viewer else signed_out()
