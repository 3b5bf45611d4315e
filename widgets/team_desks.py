"""Staff views around participants: portal invitations, interview appointments, the data-rights queue.

Each is one study's view behind ``StaffDesk`` (role checked on every action). Interviews get an
unguessable room on the site's videoconference service (``WESHARE_VIDEO_BASE_URL``, e.g. a
self-hosted Jitsi); reminders go by e-mail through the outbox. The rights queue lists open
requests oldest deadline first (one month, GDPR art. 12(3)), overdue ones marked.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import ipywidgets as w
from sqlalchemy.orm import Session

from widgets.guarded import guarded, show_message
from widgets.study_setup import StaffDesk
from workbench.accounts.models import User
from workbench.errors import ConfigError, ValidationError
from workbench.participants.rights import close_request, copy_for_request, queue
from workbench.portal.accounts import invitation_status, invite
from workbench.portal.interviews import (
    active_pseudonyms,
    cancel_appointment,
    participant_in,
    upcoming_appointments,
)
from workbench.portal.service import book_appointment, queue_appointment_reminders

__all__ = ["InterviewsDesk", "InvitationsDesk", "RightsQueue", "rights_table_html"]

CHOOSE = ("—", "—")
LAY = {"style": {"description_width": "12em"}, "layout": w.Layout(width="100%", max_width="34em")}
KINDS = {"copy": "Copie / Copy", "portability": "Portabilité / Portability", "opposition": "Opposition",
         "rectification": "Rectification", "restriction": "Limitation / Restriction", "erasure": "Effacement / Erasure"}
STATES = {"account": "Compte ouvert / Account open", "invited": "Invitation en attente / Invitation pending",
          "none": "Pas de compte / No account"}


def _table(caption: str, headers: tuple[str, ...], rows: list[str]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    return (f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def rights_table_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p role="status">Aucune demande ouverte / No open request.</p>'
    lines = [f'<tr class="{"overdue" if r["overdue"] else ""}"><th scope="row">{r["id"]}</th>'
             f'<td>{escape(r["participant"])}</td><td>{escape(KINDS.get(r["kind"], r["kind"]))}</td>'
             f'<td>{escape(r["details"])}</td><td>{r["received"]:%Y-%m-%d}</td><td>{r["due"]:%Y-%m-%d}</td>'
             + (f'<td style="color:#a40000"><strong>en retard / overdue ({-r["days_left"]} j)</strong></td>'
                if r["overdue"] else f'<td>{r["days_left"]} j</td>') + "</tr>" for r in rows]
    return _table("Demandes de droits / Data-rights requests",
                  ("N°", "Participant", "Demande / Request", "Précisions / Details", "Reçue / Received",
                   "Échéance / Due", "Reste / Left"), lines)


class RightsQueue(w.VBox):  # type: ignore[misc]
    """Open requests with deadlines; answer, refuse, or prepare the portable copy."""

    def __init__(self, desk: StaffDesk, study_code: str) -> None:
        self.desk, self.study_code = desk, study_code
        self.rows: list[dict[str, Any]] = []
        self.status, self.table, self.copy = w.HTML(), w.HTML(), w.HTML()
        self.selected = w.Dropdown(description="Demande / Request", options=[], **LAY)
        self.answer = w.Textarea(description="Réponse envoyée / Answer sent", **LAY)
        self.done = w.Button(description="Traitée / Done", button_style="success")
        self.refuse = w.Button(description="Refusée (motivée) / Refused (with reasons)")
        self.prepare = w.Button(description="Préparer la copie / Prepare the copy")
        self.done.on_click(guarded(self.status)(lambda _b: self.close(refused=False)))
        self.refuse.on_click(guarded(self.status)(lambda _b: self.close(refused=True)))
        self.prepare.on_click(guarded(self.status)(lambda _b: self.make_copy()))
        super().__init__([w.HTML("<h3>Demandes de droits / Data-rights requests</h3>"), self.status, self.table,
                          self.selected, self.answer, w.HBox([self.done, self.refuse, self.prepare]), self.copy])
        guarded(self.status)(self.refresh)()

    def refresh(self) -> None:
        self.rows = self.desk.run(self.study_code, "manage", lambda s, _u: queue(s, self.study_code))
        self.table.value = rights_table_html(self.rows)
        self.selected.options = [CHOOSE] + [(f'{r["id"]} — {r["participant"]} — {KINDS.get(r["kind"], r["kind"])}',
                                             str(r["id"])) for r in self.rows]

    def _chosen(self) -> int:
        if self.selected.value in (None, "—"):
            raise ValidationError("choisissez une demande / choose a request")
        return int(self.selected.value)

    def close(self, *, refused: bool) -> None:
        request_id, answer = self._chosen(), self.answer.value
        self.desk.run(self.study_code, "manage", lambda s, u: close_request(
            s, request_id, actor=u.username, answer=answer, refused=refused))
        self.answer.value = ""
        self.refresh()
        show_message(self.status, f"Demande {request_id} close / Request {request_id} closed")

    def make_copy(self) -> None:
        request_id = self._chosen()
        data = self.desk.run(self.study_code, "manage",
                             lambda s, u: copy_for_request(s, request_id, actor=u.username))
        self.copy.value = (f'<p><a download="request-{request_id}.json" href="data:application/json;base64,'
                           f'{base64.b64encode(data).decode()}">Copie des données / Data copy (JSON)</a></p>')


class InvitationsDesk(w.VBox):  # type: ignore[misc]
    """Invite participants to open their portal account (the e-mail goes through the trusted party)."""

    def __init__(self, desk: StaffDesk, study_code: str) -> None:
        self.desk, self.study_code = desk, study_code
        self.status, self.table = w.HTML(), w.HTML()
        self.participant = w.Dropdown(description="Participant", options=[], **LAY)
        self.send = w.Button(description="Inviter / Invite", button_style="primary")
        self.send.on_click(guarded(self.status)(lambda _b: self.invite()))
        super().__init__([w.HTML("<h3>Espace participant / Participant portal</h3>"), self.status,
                          self.participant, self.send, self.table])
        guarded(self.status)(self.refresh)()

    def refresh(self) -> None:
        rows = self.desk.run(self.study_code, "clinical", lambda s, _u: invitation_status(s, self.study_code))
        self.participant.options = [CHOOSE] + [(p, p) for p, state in rows if state != "account"]
        self.table.value = _table("Comptes / Accounts", ("Participant", "État / State"),
                                  [f"<tr><td>{escape(p)}</td><td>{escape(STATES[st])}</td></tr>" for p, st in rows])

    def invite(self) -> None:
        pseudonym = self.participant.value
        if pseudonym in (None, "—"):
            raise ValidationError("choisissez un participant / choose a participant")
        url = self.desk.settings.public_url
        self.desk.run(self.study_code, "clinical", lambda s, u: invite(
            s, participant_in(s, self.study_code, pseudonym), actor=u.username, public_url=url))
        self.refresh()
        show_message(self.status, f"Invitation envoyée à {pseudonym} / Invitation sent to {pseudonym}")


def _start(day: date | None, hhmm: str, zone: str) -> datetime:
    if day is None:
        raise ValidationError("choisissez la date / choose the date", where="date")
    try:
        at = time.fromisoformat(hhmm.strip())
    except ValueError:
        raise ValidationError("heure au format HH:MM / time as HH:MM", where="time") from None
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


class InterviewsDesk(w.VBox):  # type: ignore[misc]
    """Book, list and cancel interviews; each has its own videoconference room."""

    def __init__(self, desk: StaffDesk, study_code: str, *, zone: str = "Europe/Paris") -> None:
        self.desk, self.study_code, self.zone = desk, study_code, zone
        self.rows: list[dict[str, Any]] = []
        self.status, self.table = w.HTML(), w.HTML()
        self.participant = w.Dropdown(description="Participant", options=[], **LAY)
        self.interviewer = w.Text(description="Enquêteur·rice / Interviewer", value=desk.viewer or "", **LAY)
        self.day = w.DatePicker(description="Date", **LAY)
        self.hour = w.Text(description=f"Heure / Time ({zone})", placeholder="14:30", **LAY)
        self.minutes = w.BoundedIntText(description="Durée / Minutes", value=60, min=15, max=240, **LAY)
        self.book = w.Button(description="Planifier / Book", button_style="primary")
        self.book.on_click(guarded(self.status)(lambda _b: self.book_one()))
        self.selected = w.Dropdown(description="Entretien / Interview", options=[], **LAY)
        self.reason = w.Text(description="Motif / Reason", **LAY)
        self.cancel = w.Button(description="Annuler l'entretien / Cancel the interview")
        self.cancel.on_click(guarded(self.status)(lambda _b: self.cancel_one()))
        self.remind = w.Button(description="Rappels des prochaines 24 h / Reminders for the next 24 h")
        self.remind.on_click(guarded(self.status)(lambda _b: self.reminders()))
        super().__init__([w.HTML("<h3>Entretiens / Interviews</h3>"), self.status, self.participant,
                          self.interviewer, self.day, self.hour, self.minutes, self.book, self.table,
                          self.selected, self.reason, self.cancel, self.remind])
        guarded(self.status)(self.refresh)()

    def refresh(self) -> None:
        def work(session: Session, _user: User) -> tuple[list[str], list[dict[str, Any]]]:
            return active_pseudonyms(session, self.study_code), upcoming_appointments(session, self.study_code)

        people, self.rows = self.desk.run(self.study_code, "clinical", work)
        self.participant.options = [CHOOSE] + [(p, p) for p in people]
        zone = ZoneInfo(self.zone)
        lines = [f'<tr><th scope="row">{r["id"]}</th><td>{escape(r["participant"])}</td>'
                 f'<td>{r["starts_at"].astimezone(zone):%Y-%m-%d %H:%M}</td><td>{r["minutes"]} min</td>'
                 f'<td>{escape(r["interviewer"])}</td><td><a href="{escape(r["video_url"])}" target="_blank" '
                 f'rel="noopener">{escape(r["video_url"])}</a></td></tr>' for r in self.rows]
        self.table.value = _table("Entretiens à venir / Upcoming interviews",
                                  ("N°", "Participant", f"Début / Start ({self.zone})", "Durée / Length",
                                   "Enquêteur·rice / Interviewer", "Visio / Video"), lines) if lines else (
            '<p role="status">Aucun entretien prévu / No interview booked.</p>')
        self.selected.options = [CHOOSE] + [(f'{r["id"]} — {r["participant"]}', str(r["id"])) for r in self.rows]

    def book_one(self) -> None:
        base = self.desk.settings.video_base_url
        if not base:
            raise ConfigError("aucun service de visioconférence configuré (WESHARE_VIDEO_BASE_URL) / "
                              "no videoconference service configured (WESHARE_VIDEO_BASE_URL)")
        pseudonym = self.participant.value
        if pseudonym in (None, "—"):
            raise ValidationError("choisissez un participant / choose a participant")
        starts = _start(self.day.value, self.hour.value, self.zone)
        interviewer, minutes = self.interviewer.value.strip(), self.minutes.value
        if not interviewer:
            raise ValidationError("qui mène l'entretien ? / who conducts the interview?", where="interviewer")
        link = self.desk.run(self.study_code, "clinical", lambda s, u: book_appointment(
            s, participant_in(s, self.study_code, pseudonym), interviewer=interviewer, starts_at=starts,
            minutes=minutes, video_base_url=base, actor=u.username).video_url)
        self.refresh()
        show_message(self.status, f"Entretien planifié / Interview booked: {link}")

    def cancel_one(self) -> None:
        if self.selected.value in (None, "—"):
            raise ValidationError("choisissez un entretien / choose an interview")
        appointment, reason = int(self.selected.value), self.reason.value
        self.desk.run(self.study_code, "clinical", lambda s, u: cancel_appointment(
            s, appointment, actor=u.username, reason=reason))
        self.reason.value = ""
        self.refresh()
        show_message(self.status, f"Entretien {appointment} annulé / Interview {appointment} cancelled")

    def reminders(self) -> None:
        queued = self.desk.run(self.study_code, "clinical", lambda s, _u: queue_appointment_reminders(s))
        show_message(self.status, f"{queued} rappel(s) en file d'envoi / reminder(s) queued")
