"""The hub's mail service delivers the outbox and the day's invitations without `weshare mail send`.

The first test runs the exact command ``hub.services.mail_service`` gives the hub, against a
local aiosmtpd server; the second drives the worker loop in-process through an SMTP outage.
"""

from __future__ import annotations

import email.policy
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hub.services import managed_services
from workbench.keys import load_or_create_key
from workbench.mail import OutboxMessage, queue_email
from workbench.mail_worker import run_worker
from workbench.participants.models import Participant
from workbench.settings import Settings
from workbench.storage.engine import make_engine, session_scope
from workbench.studies import service as studies


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def subjects(self) -> list[str]:
        return sorted(str(message_from_bytes(raw, policy=email.policy.default)["Subject"])
                      for _to, raw in self.messages)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Wait on a condition (the worker runs in another thread or process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield box
    controller.stop()


def _world(settings: Settings) -> None:
    """A staff message in the outbox, and a participant whose questionnaire window opens today."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as s:
            st = studies.create_study(s, "MAIL", "Mail", actor="sm")
            studies.add_event(s, st, "W06", "Semaine 6", 42, actor="sm", window_before=3, window_after=10,
                              instruments=["phq-9"])
            studies.set_status(s, "MAIL", "active", actor="sm")
            s.add(Participant(study_id=st.id, pseudonym="P-MAIL0001", language="fr",
                              inclusion_date=date.today() - timedelta(days=39)))
            queue_email(s, to="manager@example.org", subject="Nouvelle alerte / New alert", body="Voir le tableau.")
    finally:
        engine.dispose()


def _outbox(settings: Settings) -> list[OutboxMessage]:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as s:
            rows = list(s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())
            s.expunge_all()
            return rows
    finally:
        engine.dispose()


def test_the_hub_runs_a_worker_that_delivers_the_outbox(tmp_path: Path, store_url: str, smtp_port: int,
                                                        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WESHARE_TTP_MASTER_KEY", raising=False)
    settings = Settings(home=tmp_path / "var", database_url=store_url, smtp_port=smtp_port)
    settings.home.mkdir(parents=True)
    _world(settings)
    service = next(s for s in managed_services(settings, as_root=False) if s["name"] == "mail")
    assert "url" not in service  # nothing connects to it; the hub only keeps it running
    env = {**service["environment"], "PATH": os.environ.get("PATH", "")}
    proc = subprocess.Popen(service["command"], cwd=service["cwd"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert _until(lambda: bool(inbox.messages) or proc.poll() is not None), "no mail delivered"
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert _until(lambda: any(m.recipient_pseudonym for m in _outbox(settings)))
    finally:
        proc.send_signal(signal.SIGTERM)  # what stopping the hub sends to its services
        code = proc.wait(timeout=30)
    output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    assert [to for to, _raw in inbox.messages] == [["manager@example.org"]]
    assert inbox.subjects() == ["Nouvelle alerte / New alert"]
    staff, invitation = _outbox(settings)
    assert staff.sent_at is not None and staff.attempts == 1
    # the worker queued today's invitation; without the trusted party it waits, no attempt spent
    assert invitation.recipient_pseudonym == "P-MAIL0001" and invitation.dedupe_key.startswith("invite")
    assert invitation.sent_at is None and invitation.attempts == 0
    assert "participant mail stays queued" in output and "sent 1 message(s)" in output


def test_worker_rides_out_an_smtp_outage_and_sends_each_message_once(settings: Settings, tmp_path: Path) -> None:
    port = _free_port()  # nothing listens here yet
    settings = Settings(home=settings.home, database_url=settings.database_url, smtp_port=port)
    _world(settings)
    said: list[str] = []
    passes: list[date] = []

    def today() -> date:  # called once per pass
        passes.append(date.today())
        return passes[-1]

    stop = threading.Event()
    addresses = {("P-MAIL0001", "study:MAIL"): "patient@example.org"}
    worker = threading.Thread(target=run_worker, kwargs={
        "settings": settings, "key": load_or_create_key(tmp_path / "secret.key"), "interval": 0.05, "stop": stop,
        "resolve": lambda wanted: {(p, d): addresses[(p, d)] for p, d, _purpose in wanted if (p, d) in addresses},
        "say": said.append, "today": today})
    worker.start()
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    try:
        assert _until(lambda: any("SMTP unavailable" in s for s in said))
        assert all(m.sent_at is None and m.attempts == 0 for m in _outbox(settings))  # kept, not burnt
        controller.start()
        assert _until(lambda: len(box.messages) >= 2)
        seen = len(passes)
        assert _until(lambda: len(passes) > seen + 5)  # several more passes: nothing is sent twice
    finally:
        stop.set()
        worker.join(timeout=30)
        controller.stop()
    assert not worker.is_alive()
    assert sorted(to[0] for to, _raw in box.messages) == ["manager@example.org", "patient@example.org"]
    assert "Questionnaire à remplir : Semaine 6" in box.subjects()
    assert all(m.sent_at is not None for m in _outbox(settings))


def test_two_workers_never_send_the_same_message(engine, tmp_path: Path, inbox: Inbox,  # type: ignore[no-untyped-def]
                                                 smtp_port: int) -> None:
    from workbench.mail import send_pending

    settings = Settings(home=tmp_path, smtp_port=smtp_port)
    with session_scope(engine) as s:
        for i in range(3):
            queue_email(s, to=f"staff{i}@example.org", subject=f"m{i}", body="b")
    if engine.dialect.name == "postgresql":
        with session_scope(engine) as first:  # the hub's worker, in the middle of its pass
            locked = first.execute(select(OutboxMessage).with_for_update()).scalars().all()
            assert len(locked) == 3
            with session_scope(engine) as second:  # `weshare mail send` at the same moment
                assert send_pending(second, settings) == 0
    with session_scope(engine) as s:
        assert send_pending(s, settings) == 3
    with session_scope(engine) as s:
        assert send_pending(s, settings) == 0
    assert sorted(to[0] for to, _raw in inbox.messages) == [f"staff{i}@example.org" for i in range(3)]
