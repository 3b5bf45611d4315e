"""Study-team desks without a browser: portal invitations, interviews with reminders, the rights queue."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, timedelta

from sqlalchemy import select

from widgets.participant_tabs import ParticipantTabs
from widgets.study_setup import StaffDesk
from widgets.study_workspace import StudyWorkspace
from widgets.team_desks import InterviewsDesk, InvitationsDesk, RightsQueue
from workbench import accounts
from workbench.participants.models import Participant
from workbench.participants.rights import file_request
from workbench.portal.models import Appointment
from workbench.storage.base import utcnow


def _staff(world) -> None:  # type: ignore[no-untyped-def]
    with world.session() as s:
        accounts.add_user(s, "manager", actor="admin", roles=["study_manager:study:ACC-1"],
                          email="manager@centre.example.org")
        accounts.add_user(s, "stranger", actor="admin", roles=["study_manager:study:OTHER"])


def test_invitation_desk_sends_through_the_trusted_party(world) -> None:  # type: ignore[no-untyped-def]
    _staff(world)
    desk = InvitationsDesk(StaffDesk(world.settings, "manager"), "ACC-1")
    assert "Pas de compte / No account" in desk.table.value
    desk.participant.value = world.pseudonym
    desk.send.click()
    assert "Invitation envoyée" in desk.status.value and "Invitation pending" in desk.table.value
    assert world.deliver() == 1
    rcpt, _subject, body = world.inbox.messages[-1]
    assert rcpt == [world.email] and "account.ipynb?invite=" in body
    refused = InvitationsDesk(StaffDesk(world.settings, "stranger"), "ACC-1")
    assert "no role on study ACC-1" in refused.status.value


def test_interviews_are_booked_listed_reminded_and_cancelled(world) -> None:  # type: ignore[no-untyped-def]
    _staff(world)
    settings = world.settings.with_overrides(video_base_url="https://visio.example.org/")
    desk = InterviewsDesk(StaffDesk(world.settings, "manager"), "ACC-1")
    desk.participant.value, desk.hour.value = world.pseudonym, "10:00"
    desk.day.value = date.today() + timedelta(days=1)
    desk.book.click()
    assert "WESHARE_VIDEO_BASE_URL" in desk.status.value  # no service configured: nothing booked
    desk = InterviewsDesk(StaffDesk(settings, "manager"), "ACC-1")
    desk.participant.value, desk.hour.value, desk.minutes.value = world.pseudonym, "25:00", 45
    desk.day.value = date.today() + timedelta(days=1)
    desk.book.click()
    assert "HH:MM" in desk.status.value
    start = utcnow() + timedelta(hours=3)
    desk.day.value, desk.hour.value = start.date(), f"{start:%H:%M}"
    desk.zone = "UTC"
    desk.book.click()
    assert "Interview booked: https://visio.example.org/weshare-" in desk.status.value
    room = re.search(r"https://visio\.example\.org/weshare-\w+", desk.table.value)
    assert room is not None
    desk.remind.click()
    assert "2 rappel(s)" in desk.status.value
    assert world.deliver() == 2
    recipients = sorted(r[0][0] for r in world.inbox.messages)
    assert recipients == ["manager@centre.example.org", world.email]
    assert all(room.group(0) in body for _r, _s, body in world.inbox.messages)
    desk.selected.value = desk.selected.options[1][1]
    desk.cancel.click()
    assert "say why" in desk.status.value
    desk.reason.value = "participant asked to move it"
    desk.cancel.click()
    assert "No interview booked" in desk.table.value
    with world.session() as s:
        assert s.execute(select(Appointment.status)).scalar_one() == "cancelled"


def test_rights_queue_shows_deadlines_and_answers(world) -> None:  # type: ignore[no-untyped-def]
    _staff(world)
    with world.session() as s:
        person = s.execute(select(Participant).where(Participant.pseudonym == world.pseudonym)).scalar_one()
        file_request(s, person, "portability", now=utcnow() - timedelta(days=40))
        file_request(s, person, "rectification", "birth year is wrong")
    queue = RightsQueue(StaffDesk(world.settings, "manager"), "ACC-1")
    assert queue.table.value.count("<tr") == 3  # header + two requests
    assert "overdue (10 j)" in queue.table.value and "birth year is wrong" in queue.table.value
    first = queue.selected.options[1][1]
    queue.selected.value = first
    queue.prepare.click()
    data = re.search(r"base64,([^\"]+)", queue.copy.value)
    bundle = json.loads(base64.b64decode(data.group(1))) if data else {}
    # The oldest request is the portability one: it is answered with a FHIR R4 Bundle (art. 20).
    assert bundle.get("resourceType") == "Bundle"
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["id"] == world.pseudonym
    queue.done.click()
    assert "write the answer" in queue.status.value
    queue.answer.value = "Copie envoyée par courrier sécurisé."
    queue.done.click()
    assert "overdue" not in queue.table.value and queue.table.value.count("<tr") == 2
    queue.selected.value = queue.selected.options[1][1]
    queue.prepare.click()
    assert "not a copy of the data" in queue.status.value


def test_study_workspace_has_the_participant_desks(world) -> None:  # type: ignore[no-untyped-def]
    _staff(world)
    space = StudyWorkspace(StaffDesk(world.settings, "manager"))
    space.study.value = "ACC-1"
    tabs = space.view("participants")
    assert isinstance(tabs, ParticipantTabs)
    assert isinstance(tabs.view("rights"), RightsQueue) and isinstance(tabs.view("interviews"), InterviewsDesk)
    assert "no randomisation set up" in tabs.view("randomisation").status.value


def test_the_mail_worker_sends_interview_reminders_by_itself(world) -> None:  # type: ignore[no-untyped-def]
    from workbench.contact import trusted_party_resolver
    from workbench.mail_worker import deliver_once
    from workbench.portal import book_appointment
    from workbench.trusted_party import open_trusted_party

    _staff(world)
    with world.session() as s:
        person = s.execute(select(Participant).where(Participant.pseudonym == world.pseudonym)).scalar_one()
        book_appointment(s, person, interviewer="manager", starts_at=utcnow() + timedelta(hours=5), minutes=30,
                         video_base_url="https://visio.example.org", actor="manager")
        book_appointment(s, person, interviewer="manager", starts_at=utcnow() + timedelta(days=3), minutes=30,
                         video_base_url="https://visio.example.org", actor="manager")
    with open_trusted_party(world.settings) as tp:
        resolve = trusted_party_resolver(tp, actor="mail-worker")
        assert deliver_once(world.settings, resolve=resolve, key=None, today=None) == (0, 2)
        assert deliver_once(world.settings, resolve=resolve, key=None, today=None) == (0, 0)  # never twice
    assert sorted(r[0][0] for r in world.inbox.messages) == ["manager@centre.example.org", world.email]
    assert all("Rappel" in subject or "Interview" in subject for _r, subject, _b in world.inbox.messages)
