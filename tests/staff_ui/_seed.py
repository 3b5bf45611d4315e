"""A running study with four participants, responses and fired alerts (domain calls only)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from widgets._store import in_session
from workbench.participants.models import Participant, Response
from workbench.settings import Settings
from workbench.studies import alerts
from workbench.studies import service as studies
from workbench.studies.setup import add_arm, add_site, configure_study

STUDY = "RUN-1"


def _respond(s: Session, pid: int, event: str, answers: dict[str, object]) -> Response:
    r = Response(participant_id=pid, event_code=event, instrument_id="phq-9",
                 submission_key=f"{pid}-{event}-key-000000", answers=answers)
    s.add(r)
    s.flush()
    return r


def seed_running(settings: Settings, *, arms: bool = False) -> list[int]:
    def work(s: Session) -> list[int]:
        st = studies.create_study(s, STUDY, "Running", actor="sm")
        if arms:
            configure_study(s, STUDY, actor="sm", design="interventional")
            add_arm(s, STUDY, "A", "Usual care", actor="sm")
            add_arm(s, STUDY, "B", "ePRO", actor="sm")
        add_site(s, STUDY, "IGR", "Gustave Roussy", actor="sm", investigator="dr.site")
        studies.add_event(s, st, "BL", "Baseline", 0, actor="sm", window_after=7, instruments=["phq-9"])
        studies.add_event(s, st, "W06", "Week 6", 42, actor="sm", window_after=7, instruments=["phq-9"])
        people = [Participant(study_id=st.id, pseudonym=f"P-RUN0000{i}", inclusion_date=date(2026, 1, 1),
                              arm=("A" if i % 2 else "B") if arms else None) for i in range(4)]
        s.add_all(people)
        s.flush()
        return [p.id for p in people]

    return in_session(settings, work)


def fire_alerts(settings: Settings, pids: list[int]) -> None:
    def work(s: Session) -> None:
        alerts.add_rule(s, STUDY, instrument_id="phq-9", variable="q9", kind="above", threshold=0,
                        label="PHQ-9 item 9 > 0", actor="sm")
        r1 = _respond(s, pids[0], "BL", {"q9": 2, "_scores": {"TOTAL": 14}})
        alerts.evaluate(s, r1, {"q9": 2, "TOTAL": 14})
        r2 = _respond(s, pids[1], "BL", {"q9": 1, "_scores": {"TOTAL": 9}})
        alerts.evaluate(s, r2, {"q9": 1, "TOTAL": 9})

    in_session(settings, work)
