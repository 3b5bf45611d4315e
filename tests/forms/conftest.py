"""A study with questionnaires due today for one participant, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from widgets.questionnaire_store import FormStore, FormTarget
from workbench.instruments.model import Choice, Instrument, Item
from workbench.instruments.store import save_instrument
from workbench.participants.models import Participant
from workbench.participants.service import issue_access_token
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

ACTOR = "forms-test"

# Every answered kind the form draws, with a skip (q_reason only if q_pain is yes) and limits.
MIXED = Instrument(
    "mixed-demo", {"fr": "Questionnaire d'essai", "en": "Test questionnaire"},
    (
        Item("intro", "display", {"fr": "Quelques questions.", "en": "A few questions."}),
        Item("q_pain", "yesno", {"fr": "Avez-vous mal ?", "en": "Are you in pain?"}, required=True),
        Item("q_reason", "text", {"fr": "Où avez-vous mal ?", "en": "Where does it hurt?"},
             required=True, branching="[q_pain] = '1'"),
        Item("q_hours", "integer", {"fr": "Heures de sommeil", "en": "Hours of sleep"},
             required=True, minimum="0", maximum="24"),
        Item("q_mood", "single", {"fr": "Humeur", "en": "Mood"},
             choices=(Choice("1", {"fr": "Bonne", "en": "Good"}), Choice("2", {"fr": "Mauvaise", "en": "Bad"}))),
        Item("q_aids", "multiple", {"fr": "Aides", "en": "Aids"},
             choices=(Choice("a", {"fr": "Canne", "en": "Cane"}), Choice("b", {"fr": "Fauteuil", "en": "Wheelchair"}))),
        Item("q_day", "date", {"fr": "Date du dernier soin", "en": "Date of last care"}),
        Item("q_score", "slider", {"fr": "Note", "en": "Score"}, minimum="0", maximum="10"),
        Item("q_notes", "notes", {"fr": "Remarques", "en": "Remarks"}),
    ),
)


@dataclass(frozen=True)
class World:
    settings: Settings
    token: str
    participant_id: int

    def target(self, instrument: str = "phq-9", event: str = "M0") -> FormTarget:
        return FormTarget(self.participant_id, event, instrument)


@pytest.fixture
def world(settings: Settings) -> World:
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = open_operational(settings)
    with session_scope(engine) as session:
        save_instrument(session, MIXED, actor=ACTOR)
        study = studies.create_study(session, "FORMS", "Forms study", actor=ACTOR)
        studies.add_event(session, study, "M0", "Inclusion", 0, actor=ACTOR, window_after=30,
                          instruments=["phq-9", "mixed-demo", "qlq-c30"])
        studies.set_status(session, "FORMS", "active", actor=ACTOR)
        person = Participant(study_id=study.id, pseudonym="P-FORMS001", inclusion_date=date.today(),
                             language="fr")
        session.add(person)
        session.flush()
        token = issue_access_token(session, person, actor=ACTOR)
        pid = person.id
    engine.dispose()
    return World(settings, token, pid)


@pytest.fixture
def store(world: World):  # type: ignore[no-untyped-def]
    form_store = FormStore(world.settings)
    yield form_store
    form_store.close()


def shown(widget: object) -> str:
    """An HTML widget's text as the participant reads it (entities decoded)."""
    from html import unescape

    return unescape(str(getattr(widget, "value", "")))
