"""The outbox goes out through a real SMTP server; nothing is lost when the server is down."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from workbench.errors import ValidationError
from workbench.mail import OutboxMessage, queue_email, send_pending
from workbench.settings import Settings
from workbench.storage.engine import session_scope


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_queued_mail_is_sent_once(engine: Engine, tmp_path: Path, smtp: tuple[_Inbox, int]) -> None:
    inbox, port = smtp
    cfg = Settings(home=tmp_path, smtp_port=port)
    with session_scope(engine) as s:
        queue_email(s, to="lea@example.org", subject="Réinitialisation", body="Lien : https://x/y")
        queue_email(s, pseudonym="P-ABCDEFGH", domain="study:S", purpose="study_reminder",
                    subject="Questionnaire", body="À remplir",
                    dedupe_key="remind:P-ABCDEFGH:W06:1")
        assert queue_email(s, pseudonym="P-ABCDEFGH", domain="study:S", purpose="study_reminder",
                           subject="again", body="x",
                           dedupe_key="remind:P-ABCDEFGH:W06:1") is None
    with session_scope(engine) as s:
        sent = send_pending(s, cfg, resolve=lambda rs: {(p, d): "patient@example.org" for p, d, _ in rs})
    assert sent == 2
    assert sorted(r[0][0] for r in inbox.messages) == ["lea@example.org", "patient@example.org"]
    subjects = {message_from_bytes(raw)["Subject"] for _, raw in inbox.messages}
    assert "Questionnaire" in subjects
    with session_scope(engine) as s:
        assert send_pending(s, cfg) == 0  # nothing twice


def test_unreachable_smtp_keeps_the_mail(engine: Engine, tmp_path: Path) -> None:
    cfg = Settings(home=tmp_path, smtp_port=_free_port())
    with session_scope(engine) as s:
        queue_email(s, to="lea@example.org", subject="s", body="b")
    with pytest.raises(OSError), session_scope(engine) as s:
        send_pending(s, cfg)
    with session_scope(engine) as s:
        pending = s.execute(select(OutboxMessage)).scalars().all()
        assert len(pending) == 1 and pending[0].sent_at is None


def test_recipient_must_be_address_or_pseudonym(engine: Engine) -> None:
    with session_scope(engine) as s, pytest.raises(ValidationError, match="exactly one"):
        queue_email(s, subject="s", body="b")


def test_participant_address_comes_from_the_trusted_party(engine: Engine, tmp_path: Path,
                                                           smtp: tuple[_Inbox, int]) -> None:
    from datetime import date

    from workbench.contact import trusted_party_resolver
    from workbench.trusted_party import ContactPreferences, Identity, init_store, open_trusted_party

    inbox, port = smtp
    cfg = Settings(home=tmp_path, smtp_port=port)
    assert init_store(cfg, actor="ops")
    tp = open_trusted_party(cfg)
    try:
        reg = tp.register_person(Identity("Marie", "Dupont", date(1956, 2, 14), "F",
                                          email="marie.dupont@example.org",
                                          contact=ContactPreferences(email=True)), actor="ops")
        opted_out = tp.register_person(Identity("Jean", "Martin", date(1950, 1, 1), "M",
                                                email="jean@example.org",
                                                contact=ContactPreferences(email=False)), actor="ops")
        code = tp.pseudonym(reg.person, "study:S1", actor="ops")
        silent = tp.pseudonym(opted_out.person, "study:S1", actor="ops")
        with session_scope(engine) as s:
            for p in (code, silent):
                queue_email(s, pseudonym=p, domain="study:S1", purpose="study_reminder",
                            subject="Rappel", body="Questionnaire")
            assert s.execute(select(OutboxMessage.to_address)).scalars().all() == [None, None]
        with session_scope(engine) as s:
            assert send_pending(s, cfg, resolve=trusted_party_resolver(tp, actor="mail")) == 1
        assert [r[0] for r in inbox.messages] == [["marie.dupont@example.org"]]
        with session_scope(engine) as s:
            left = s.execute(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))).scalar_one()
            assert left.recipient_pseudonym == silent and "no address" in (left.last_error or "")
    finally:
        tp.close()
