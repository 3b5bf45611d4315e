"""A qualitative study in a migrated store: two coders, a lead, a coder of another study."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from widgets._store import in_session
from widgets.coding import CodingWidget, StoreBackend
from workbench.accounts import add_user
from workbench.qualitative import build_transcript, load_starter_codebook, store
from workbench.settings import Settings
from workbench.studies import service as studies

STUDY = "QUAL-UI"
TURNS = [
    ("Enquêtrice", "Comment s'est passé le retour au travail ?", 0, 4000),
    ("P-QUAL0001", "Difficile. J'avais peur que ça revienne 😟, la récidive, tout le temps.", 4000, 9000),
    ("Enquêtrice", "Et la fatigue ?", 9000, 11000),
    ("P-QUAL0001", "Épuisée 🙂‍↕️ mais mon mari 👨‍👩‍👧 m'aide beaucoup.", 11000, 16000),
]
USERS = {
    "coder.a": [f"coder:study:{STUDY}"],
    "coder.b": [f"coder:study:{STUDY}"],
    "lead.one": [f"study_manager:study:{STUDY}"],
    "coder.other": ["coder:study:ELSEWHERE"],
}


@dataclass
class World:
    settings: Settings
    version_id: int

    def backend(self, viewer: str) -> StoreBackend:
        return StoreBackend(self.settings, viewer)

    def widget(self, viewer: str, **kwargs: object) -> CodingWidget:
        backend = self.backend(viewer)
        study, transcript, book = backend.open(self.version_id)
        assert study == STUDY
        return CodingWidget(transcript, book, backend=backend, version_id=self.version_id, coder=viewer,
                            **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world(settings: Settings) -> World:
    def work(s):  # type: ignore[no-untyped-def]
        studies.create_study(s, STUDY, "Interviews", actor="sm", design="qualitative")
        studies.create_study(s, "ELSEWHERE", "Other", actor="sm", design="qualitative")
        for name, roles in USERS.items():
            add_user(s, name, actor="test", roles=roles)
        store.save_codebook(s, STUDY, load_starter_codebook("en"), actor="sm")
        return store.add_document(s, STUDY, build_transcript("interview-01", TURNS), actor="sm",
                                  participant="P-QUAL0001", attributes={"arm": "A"}).id

    return World(settings, in_session(settings, work))
