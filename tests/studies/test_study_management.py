"""Study set-up with its tariff, alerts with acknowledgement and follow-up, compliance rates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select

from workbench import audit
from workbench.consent import withdraw
from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.storage.engine import session_scope
from workbench.studies import alerts
from workbench.studies import service as studies
from workbench.studies.compliance import study_compliance
from workbench.studies.setup import add_arm, add_site, configure_study


def test_configure_study_and_quote(engine: Engine) -> None:
    with session_scope(engine) as s:
        studies.create_study(s, "CFG", "Configured", actor="sm")
        study = configure_study(
            s, "CFG", actor="sm", sponsor="Ligue", sponsor_status="collaborator", sponsor_sector="private",
            design="interventional", timing="prospective", modules=["epro", "consent", "randomisation"],
            deposit_plan=["qlq-c30.*", "phq-9.TOTAL"],
            contract={"needs": "ePRO at 5 time points", "development_days": 4, "projects_per_year": 6,
                      "deadlines": [{"what": "database lock", "date": "2027-06-30"}],
                      "publication_rules": "acknowledge ANR-21-ESRE-0017"},
        )
        assert study.tariff["total"] == 15600.0
        add_site(s, "CFG", "IGR", "Gustave Roussy", actor="sm")
        add_arm(s, "CFG", "A", "Usual care", actor="sm")
        add_arm(s, "CFG", "B", "ePRO follow-up", actor="sm", ratio=2)
        with pytest.raises(ValidationError, match="design"):
            configure_study(s, "CFG", actor="sm", design="anecdotal")
        with pytest.raises(ValidationError, match="contract deadline 1"):
            configure_study(s, "CFG", actor="sm", contract={"deadlines": [{"what": "x", "date": "soon"}]})
        studies.set_status(s, "CFG", "active", actor="sm")
        with pytest.raises(ConflictError, match="can no longer change"):
            configure_study(s, "CFG", actor="sm", modules=["epro"])
        change = s.execute(select(audit.AuditEntry).where(audit.AuditEntry.action == "study.configure")).scalar_one()
        assert change.before["design"] == "observational" and change.after["design"] == "interventional"


@pytest.fixture
def running(engine: Engine) -> list[int]:
    with session_scope(engine) as s:
        st = studies.create_study(s, "RUN", "Running", actor="sm")
        studies.add_event(s, st, "BL", "Baseline", 0, actor="sm", window_after=7, instruments=["phq-9"])
        studies.add_event(s, st, "W06", "Week 6", 42, actor="sm", window_after=7, instruments=["phq-9"])
        people = [Participant(study_id=st.id, pseudonym=f"P-RUN0000{i}", inclusion_date=date(2026, 1, 1))
                  for i in range(4)]
        s.add_all(people)
        s.flush()
        return [p.id for p in people]


def _respond(s, pid: int, event: str, answers: dict[str, object], day: int = 0) -> Response:  # type: ignore[no-untyped-def]
    r = Response(participant_id=pid, event_code=event, instrument_id="phq-9",
                 submission_key=f"{pid}-{event}-key-000000", answers=answers)
    s.add(r)
    s.flush()
    return r


def test_alerts_fire_and_are_followed_up(engine: Engine, running: list[int]) -> None:
    with session_scope(engine) as s:
        alerts.add_rule(s, "RUN", instrument_id="phq-9", variable="q9", kind="above", threshold=0,
                        label="PHQ-9 item 9 > 0: suicidal thoughts", actor="sm")
        alerts.add_rule(s, "RUN", instrument_id="phq-9", variable="TOTAL", kind="worsening", threshold=5,
                        label="PHQ-9 worsened by ≥ 5 points", actor="sm", severity="medium")
        r1 = _respond(s, running[0], "BL", {"q9": 0, "_scores": {"TOTAL": 4}})
        assert alerts.evaluate(s, r1, {"q9": 0, "TOTAL": 4}) == []
        r2 = _respond(s, running[0], "W06", {"q9": 2, "_scores": {"TOTAL": 12}})
        fired = alerts.evaluate(s, r2, {"q9": 2, "TOTAL": 12})
        assert len(fired) == 2
        queue = alerts.open_alerts(s, "RUN")
        assert queue[0][1].severity == "high" and queue[0][2] == "P-RUN00000"
        with pytest.raises(ConflictError, match="acknowledge"):
            alerts.add_follow_up(s, fired[0].id, clinician="dr", note="called")
        alerts.acknowledge(s, fired[0].id, clinician="dr")
        with pytest.raises(ValidationError):
            alerts.add_follow_up(s, fired[0].id, clinician="dr", note=" ")
        alerts.add_follow_up(s, fired[0].id, clinician="dr", note="Called the patient; referred", close=True)
        assert len(alerts.open_alerts(s, "RUN")) == 1


def test_compliance_counts_only_closed_windows(engine: Engine, running: list[int]) -> None:
    with session_scope(engine) as s:
        for pid in running[:3]:
            _respond(s, pid, "BL", {"q1": 1})
        withdraw(s, s.get(Participant, running[3]), "questionnaires", reason="tired", actor="sm")
        _respond(s, running[0], "W06", {"q1": 1})
        early = study_compliance(s, "RUN", "phq-9", today=date(2026, 1, 20))
        assert list(early["timepoint"]) == ["BL"]
        table = study_compliance(s, "RUN", "phq-9", today=date(2026, 3, 1))
        bl = table[table["timepoint"] == "BL"].iloc[0]
        w6 = table[table["timepoint"] == "W06"].iloc[0]
        # The withdrawal happened today (after BL was due): BL counts as missing, W06 too.
        assert (bl["completion"], bl["available"]) == ("3/4", "3/4")
        assert (w6["completion"], w6["available"]) == ("1/4", "1/4")
        later = study_compliance(s, "RUN", "phq-9", today=date.today() + timedelta(days=400))
        assert len(later) == 2
        dead = s.get(Participant, running[2])
        dead.status, dead.status_since = "deceased", date(2026, 1, 20)
        s.flush()
        w6 = study_compliance(s, "RUN", "phq-9", today=date(2026, 3, 1)).iloc[-1]
        # Died before week 6 was due: not expected (completion) but still randomised (available).
        assert (w6["completion"], w6["available"], w6["died"]) == ("1/3", "1/4", 1)
