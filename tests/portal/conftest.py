"""A local SMTP server (aiosmtpd) and a small world: a trusted party, a study, one participant."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from workbench.contact import trusted_party_resolver
from workbench.keys import load_or_create_key
from workbench.mail import send_pending
from workbench.participants.models import Participant
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies
from workbench.trusted_party import ContactPreferences, Identity, init_store, open_trusted_party


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, str]] = []  # recipients, subject, body

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), str(mail["Subject"]), mail.get_content()))
        return "250 OK"

    def last_match(self, pattern: str) -> str:
        found = re.search(pattern, self.messages[-1][2])
        assert found, self.messages[-1][2]
        return found.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@dataclass
class World:
    settings: Settings
    inbox: Inbox
    key: bytes
    email: str
    pseudonym: str

    @contextmanager
    def session(self) -> Iterator[Session]:
        engine = open_operational(self.settings)
        try:
            with session_scope(engine) as s:
                yield s
        finally:
            engine.dispose()

    def deliver(self) -> int:
        """One pass of the mail worker: addresses come from the trusted party, in memory."""
        with open_trusted_party(self.settings) as tp, self.session() as s:
            return send_pending(s, self.settings, resolve=trusted_party_resolver(tp, actor="mail-worker"))


@pytest.fixture
def world(settings: Settings, smtp: tuple[Inbox, int]) -> World:
    inbox, port = smtp
    cfg = settings.with_overrides(smtp_port=port, public_url="https://weshare.example.org")
    init_store(cfg, actor="ops")
    with open_trusted_party(cfg) as tp:
        reg = tp.register_person(Identity("Marie", "Dupont", date(1956, 2, 14), "F",
                                          email="marie.dupont@example.org", language="fr",
                                          contact=ContactPreferences(email=True)), actor="ops")
        code = tp.pseudonym(reg.person, "study:ACC-1", actor="ops")
    engine = open_operational(cfg)
    with session_scope(engine) as s:
        st = studies.create_study(s, "ACC-1", "Fatigue et sommeil", actor="sm")
        s.add(Participant(study_id=st.id, pseudonym=code, inclusion_date=date.today(), language="fr"))
    engine.dispose()
    return World(cfg, inbox, load_or_create_key(cfg.secret_key_file), "marie.dupont@example.org", code)
