"""What the questionnaire form asks of the store: open, save a draft, submit (glue, no rules).

One engine per open form page, not one per click: a Next saves a draft, and opening a database
engine (and checking its schema) on every tap would cost more than the save itself. The submit
path is imported on first use because it pulls in the scoring code (pandas); the forms kernel
stays light until a participant actually sends a questionnaire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from workbench.instruments.library import require_texts
from workbench.instruments.model import Instrument
from workbench.instruments.store import get_instrument
from workbench.participants.drafts import Draft, load_draft, save_draft
from workbench.participants.models import Participant
from workbench.participants.service import collection_blocked
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope

if TYPE_CHECKING:
    from workbench.participants.submit import Receipt

__all__ = ["FormBackend", "FormStore", "FormTarget", "blocked_reason"]


@dataclass(frozen=True)
class FormTarget:
    """One questionnaire due for one participant at one time point."""

    participant_id: int
    event_code: str
    instrument_id: str


class FormBackend(Protocol):
    """The four calls a form makes; tests may wrap them to simulate failures."""

    def open(self, target: FormTarget) -> tuple[Instrument, Draft | None]: ...

    def save(self, target: FormTarget, answers: dict[str, Any], position: int, key: str) -> None: ...

    def submit(self, target: FormTarget, answers: dict[str, Any], key: str) -> Receipt: ...

    def blocked(self, target: FormTarget) -> str | None: ...


def blocked_reason(participant: Participant | None) -> str | None:
    """A key into the form's texts for why collection is refused (withdrawn, stopped, reconsent)."""
    if participant is None:
        return "withdrawn"
    reason = collection_blocked(participant)
    if reason is None:
        return None
    if "withdrawn" in reason:
        return "withdrawn"
    if "stop" in reason:
        return "stopped"
    return "reconsent"


class FormStore:
    """The operational store behind one participant's forms page."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_operational(self._settings)
        return self._engine

    def open(self, target: FormTarget) -> tuple[Instrument, Draft | None]:
        """The instrument to show (refused if licensed texts are missing) and any saved draft."""
        with session_scope(self.engine) as session:
            instrument = get_instrument(session, target.instrument_id)
            require_texts(instrument)
            draft = load_draft(session, target.participant_id, target.event_code, target.instrument_id)
            return instrument, draft

    def save(self, target: FormTarget, answers: dict[str, Any], position: int, key: str) -> None:
        with session_scope(self.engine) as session:
            save_draft(session, target.participant_id, target.event_code, target.instrument_id,
                       answers, position, key)

    def submit(self, target: FormTarget, answers: dict[str, Any], key: str) -> Receipt:
        """Returns only once the response is committed (or found already committed for ``key``)."""
        from workbench.participants.submit import submit_response

        return submit_response(self.engine, target.participant_id, target.event_code,
                               target.instrument_id, answers, key)

    def blocked(self, target: FormTarget) -> str | None:
        with session_scope(self.engine) as session:
            return blocked_reason(session.get(Participant, target.participant_id))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
