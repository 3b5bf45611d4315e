"""A study scheduling both cognitive tasks at inclusion, with one participant, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from workbench.participants.models import Participant
from workbench.participants.service import issue_access_token
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

ACTOR = "psychometrics-test"


@dataclass(frozen=True)
class World:
    settings: Settings
    token: str
    participant_id: int


@pytest.fixture
def world(settings: Settings) -> World:
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = open_operational(settings)
    with session_scope(engine) as session:
        study = studies.create_study(session, "COGNI", "Cognition study", actor=ACTOR)
        studies.add_event(session, study, "M0", "Inclusion", 0, actor=ACTOR, window_after=30,
                          instruments=["symbol-digit", "verbal-fluency"])
        studies.set_status(session, "COGNI", "active", actor=ACTOR)
        person = Participant(study_id=study.id, pseudonym="P-COGNI001", inclusion_date=date.today(), language="fr")
        session.add(person)
        session.flush()
        token = issue_access_token(session, person, actor=ACTOR)
        pid = person.id
    engine.dispose()
    return World(settings, token, pid)
