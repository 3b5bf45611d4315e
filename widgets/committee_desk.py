"""Committee dashboard (scientific & ethics, and deontology for requests with private money):
requests awaiting the member's vote with their dossier, votes with conditions and comments, each
request's audited history, and the decisions taken with their reasons.

Which requests a member may vote on, quorum and outcome are the domain's
(``secure_bubble.committee``); views and votes run as governed actions.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as w

from secure_bubble import access, committee, desk
from widgets._governed import Desk, bi, data_link, html_table, signed_out
from widgets.access_request import REQUEST_STATUS, tariff_html
from widgets.guarded import guarded, show_message
from workbench.settings import Settings
from workbench.trusted_party import TrustedParty, default_master_key_path, open_trusted_party

__all__ = ["COMMITTEES", "CommitteeDesk", "committee_page", "dossier_html"]

COMMITTEES = {"scientific_ethics": "Comité scientifique et éthique / Scientific & ethics committee",
              "deontology": "Comité de déontologie / Deontology committee"}
VOTES = [("Approuver / Approve", "approve"), ("Refuser / Reject", "reject"), ("S'abstenir / Abstain", "abstain")]
TrustedPartyOpener = Callable[[], TrustedParty | None]


def dossier_html(r: Any, lines: list[desk.HistoryLine]) -> str:
    """The request's documents as the committee reads them: form, studies, sponsors, tariff, votes."""
    items = html_table(
        bi("Études demandées", "Studies requested"),
        [bi("Étude", "Study"), "Variables", "Justification", bi("Promoteur", "Sponsor")],
        [[escape(i.study_code), escape(", ".join(i.variables)), escape(i.justification),
          escape(f"{i.sponsor_decision or 'pending'} {i.sponsor_reason or ''}".strip())] for i in r.items],
        empty="—")
    votes = html_table(
        bi("Votes", "Votes"), [bi("Membre", "Member"), bi("Comité", "Committee"), "Vote", "Conditions",
                               bi("Commentaire", "Comment")],
        [[escape(v.member), escape(COMMITTEES.get(v.committee, v.committee)), escape(v.vote),
          escape(v.conditions), escape(v.comment)] for v in r.votes],
        empty=bi("Aucun vote encore.", "No vote yet."))
    history = html_table(
        bi("Historique", "History"), [bi("Quand", "When"), bi("Qui", "Who"), "Action", bi("Motif", "Reason")],
        [[escape(h.at), escape(h.actor), escape(h.action), escape(h.reason)] for h in lines], empty="—")
    facts = [
        (("Titre", "Title"), r.title), (("Statut", "Status"), REQUEST_STATUS.get(r.status, r.status)),
        (("Résumé", "Summary"), r.summary), (("Finalité", "Purpose"), access.PERMITTED_PURPOSES.get(r.purpose, r.purpose)),
        (("Référence réglementaire", "Regulatory reference"), r.regulatory_ref),
        (("Financement", "Funding"), r.funder), (("Statut du demandeur", "Requester status"), r.requester_status),
        (("Équipe", "Team"), ", ".join(r.team)), (("Durée", "Duration"), f"{r.duration_months} mois / months"),
        (("Décision", "Decision"), r.decision_reason or ""),
    ]
    dl = "".join(f"<dt>{bi(*label)}</dt><dd>{escape(str(value))}</dd>" for label, value in facts)
    return (f"<h3>{bi('Demande', 'Request')} n°{r.id}</h3><dl>{dl}</dl>{items}"
            f"{tariff_html(r.tariff) if r.tariff else ''}{votes}{history}")


class CommitteeDesk(w.VBox):  # type: ignore[misc]
    """The member's queue, the chosen request's dossier, the vote form, and past decisions."""

    def __init__(self, desk_: Desk, trusted_party: TrustedPartyOpener | None = None) -> None:
        self.desk, self.trusted_party = desk_, trusted_party
        self.status, self.heading, self.queue_view = w.HTML(), w.HTML(), w.HTML()
        self.dossier, self.dossier_link, self.decisions = w.HTML(), w.HTML(), w.HTML()
        wide = w.Layout(width="95%")
        self.choice = w.Dropdown(description="Demande / Request", options=[], layout=wide)
        self.decision = w.ToggleButtons(options=VOTES, value=None, description="Vote")
        self.conditions = w.Textarea(description="Conditions", layout=wide,
                                     placeholder="ex. pas d'appariement / e.g. no linkage")
        self.comment = w.Textarea(description="Avis motivé / Reasoned opinion", layout=wide)
        self.vote_button = w.Button(description="Voter / Vote", button_style="primary")
        self.refresh_button = w.Button(description="Actualiser / Refresh")
        self.vote_button.on_click(guarded(self.status)(self.vote))
        self.refresh_button.on_click(guarded(self.status)(self.load))
        self.choice.observe(guarded(self.status)(self.show), "value")
        super().__init__([
            self.heading, self.status, self.refresh_button,
            w.HTML(f"<h3>{bi('En attente de votre vote', 'Awaiting your vote')}</h3>"), self.queue_view,
            self.choice, self.dossier, self.dossier_link, self.decision, self.conditions, self.comment,
            self.vote_button,
            w.HTML(f"<h3>{bi('Décisions rendues', 'Decisions taken')}</h3>"), self.decisions,
        ])
        guarded(self.status)(self.load)()

    def load(self, _: object = None) -> None:
        def work(s: Any, user: Any) -> tuple[list[str], list[tuple[int, str, str]], list[list[str]]]:
            decided = desk.committee_decisions(s, user)  # refuses non-members first
            seats = sorted({a.scope_id or "scientific_ethics" for a in user.roles if a.role == "committee_member"})
            pending = [(r.id, r.title, committee.STAGE[r.status]) for r in committee.pending_for_member(s, user)]
            rows = [[str(r.id), escape(r.title), escape(REQUEST_STATUS.get(r.status, r.status)),
                     escape(f"{r.decided_at:%Y-%m-%d}" if r.decided_at else ""), escape(r.decision_reason or "")]
                    for r in decided]
            return seats, pending, rows

        seats, pending, rows = self.desk.act("committee.view", "access_request", "*", work)
        self.heading.value = "<h2>" + " — ".join(escape(COMMITTEES.get(c, c)) for c in seats) + "</h2>"
        self.queue_view.value = html_table(
            bi("Demandes", "Requests"), ["N°", bi("Titre", "Title"), bi("Comité", "Committee")],
            [[str(i), escape(t), escape(COMMITTEES[c])] for i, t, c in pending],
            empty=bi("Rien à examiner.", "Nothing to review."))
        self.decisions.value = html_table(
            bi("Décisions", "Decisions"), ["N°", bi("Titre", "Title"), bi("Statut", "Status"),
                                           bi("Date", "Date"), bi("Motifs", "Reasons")],
            rows, empty=bi("Aucune décision encore.", "No decision yet."))
        self.choice.options = [(f"{i} — {t}", i) for i, t, _ in pending]
        self.choice.value = pending[0][0] if pending else None
        self.show()

    def show(self, _: object = None) -> None:
        rid = self.choice.value
        if rid is None:
            self.dossier.value = self.dossier_link.value = ""
            return

        def work(s: Any, user: Any) -> str:
            return dossier_html(desk.visible_request(s, user, rid), desk.history(s, user, rid))

        html = self.desk.act("committee.view", "access_request", rid, work)
        self.dossier.value = html
        page = f'<!DOCTYPE html><html lang="fr"><meta charset="utf-8"><body>{html}</body></html>'
        self.dossier_link.value = "<p>" + data_link(
            f"dossier-{rid}.html", page.encode(), "text/html",
            bi("Télécharger le dossier", "Download the dossier")) + "</p>"

    def vote(self, _: object = None) -> None:
        rid = self.choice.value
        if rid is None or self.decision.value is None:
            show_message(self.status, "Choisissez une demande et un vote. / Choose a request and a vote.",
                         kind="error")
            return
        decision, comment, conditions = self.decision.value, self.comment.value, self.conditions.value
        tp = self.trusted_party() if self.trusted_party else None
        try:
            status = self.desk.act("access.vote", "access_request", rid, lambda s, user: committee.vote(
                s, rid, user, decision, comment=comment, conditions=conditions, trusted_party=tp).status)
        finally:
            if tp is not None:
                with suppress(Exception):
                    tp.close()
        self.comment.value = self.conditions.value = ""
        self.decision.value = None
        self.load()
        show_message(self.status, f"Vote enregistré (n°{rid}) / Vote recorded (no. {rid}) — "
                                  f"{REQUEST_STATUS.get(status, status)}")


def _trusted_party_opener(settings: Settings) -> TrustedPartyOpener:
    """Open the trusted party for a vote when this instance has one (an approval opens the
    project's pseudonym domain there); without it the vote is still recorded."""
    def opener() -> TrustedParty | None:
        key = default_master_key_path(settings)
        return open_trusted_party(settings) if Path(key).exists() else None
    return opener


def committee_page(settings: Settings, viewer: str | None) -> w.Widget:
    if not viewer:
        return signed_out()
    return CommitteeDesk(Desk.for_settings(settings, viewer), _trusted_party_opener(settings))
