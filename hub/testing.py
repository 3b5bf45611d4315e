"""Helpers to run a real hub on free loopback ports with a throwaway instance home.

Used by the hub tests, the browser tests and the benchmark, so all three start the hub the way
``make up`` does (``hub.ops.start_hub``) and stop it the way ``make down`` does.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from hub.ops import HubProcess, start_hub, stop_hub
from workbench import accounts
from workbench.accounts import totp
from workbench.keys import load_or_create_key
from workbench.participants.models import Participant
from workbench.participants.service import issue_access_token, participant_link
from workbench.settings import Settings
from workbench.storage import connect, session_scope, upgrade, utcnow
from workbench.studies import service as studies
from workbench.studies.service import add_event, set_status

__all__ = ["PASSWORD", "Fixture", "free_ports", "instance_settings", "live_hub", "seed", "totp_code"]

PASSWORD = "Correct-Horse-Battery-9"
ACTOR = "test-seed"


@dataclass(frozen=True)
class Fixture:
    """What a test needs to log in and open pages."""

    settings: Settings
    secrets: dict[str, str]  # username -> TOTP secret
    participant_token: str
    participant_pseudonym: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.hub_port}"

    def participant_url(self, token: str | None = None) -> str:
        return participant_link(self.base_url, self.participant_token if token is None else token)


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free right now on loopback (the OS picks them)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            with closing(s):
                pass


def totp_code(secret: str, step_offset: int = 0) -> str:
    """The code an authenticator app shows now (or ``step_offset`` 30-second steps later)."""
    return totp.current_code(secret, utcnow() + timedelta(seconds=30 * step_offset))


def seed(settings: Settings) -> Fixture:
    """A migrated store with one account per kind the hub cares about, two studies, one participant."""
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.database_url)
    upgrade(engine)
    secrets: dict[str, str] = {}
    with session_scope(engine) as session:
        for username, roles in [
            ("manager.one", ["study_manager:study:HUB-A"]),
            ("admin.one", ["administrator"]),
            ("researcher.one", ["researcher"]),
            ("patient.one", ["participant:study:HUB-A"]),
        ]:
            staff = not roles[0].startswith("participant")
            user = accounts.add_user(session, username, actor=ACTOR, password=PASSWORD, roles=roles,
                                     enrol_totp=staff, email=f"{username}@example.org")
            if user.totp_secret:
                secrets[username] = user.totp_secret
        study = studies.create_study(session, "HUB-A", "Hub test study A", actor=ACTOR, sponsor="Test")
        studies.create_study(session, "HUB-B", "Hub test study B", actor=ACTOR)
        add_event(session, study, "M0", "Inclusion", 0, actor=ACTOR, window_after=30, instruments=["phq-9"])
        set_status(session, "HUB-A", "active", actor=ACTOR)
        person = Participant(study_id=study.id, pseudonym="P-HUBTEST1", inclusion_date=date.today(),
                             language="fr")
        session.add(person)
        session.flush()
        # Derived from the instance key as the app's own links are, so the portal and reminders
        # re-derive this same link instead of replacing it.
        token = issue_access_token(session, person, actor=ACTOR, key=load_or_create_key(settings.secret_key_file))
    engine.dispose()
    return Fixture(settings, secrets, token, "P-HUBTEST1")


def instance_settings(home: Path) -> Settings:
    hub, proxy, api, forms, dashboards, gateway = free_ports(6)
    return Settings(home=home, hub_port=hub, proxy_api_port=proxy, hub_api_port=api, forms_port=forms,
                    dashboards_port=dashboards, gateway_port=gateway, public_url=f"http://127.0.0.1:{hub}", demo=True,
                    lockout_base_seconds=1)


@contextmanager
def live_hub(home: Path) -> Iterator[tuple[Fixture, HubProcess]]:
    """Seed a store under ``home``, start the hub, and always stop it (checking nothing is left)."""
    fixture = seed(instance_settings(home))
    process = start_hub(fixture.settings, timeout=180)
    try:
        yield fixture, process
    finally:
        left = stop_hub(fixture.settings)
        if left:
            raise RuntimeError(f"hub left processes behind: {left}")
