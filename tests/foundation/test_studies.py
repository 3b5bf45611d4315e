"""Study life cycle, role-scoped study list, personal links and what is due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select

from workbench import accounts, audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.participants.service import due_items, issue_access_token, participant_by_token
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.studies import service as studies


def _setup(engine: Engine) -> None:
    with session_scope(engine) as s:
        a = studies.create_study(s, "s-one", "Study one", actor="admin")
        studies.add_event(s, a, "BL", "Baseline", 0, actor="admin", window_after=14,
                          instruments=["qlq-c30", "phq-9"])
        studies.add_event(s, a, "W06", "Week 6", 42, actor="admin", window_before=7, window_after=7,
                          instruments=["qlq-c30"])
        studies.add_event(s, a, "C-BL", "Carer", 0, actor="admin", instruments=["who-5"],
                          respondent_type="carer")
        studies.create_study(s, "S-TWO", "Study two", actor="admin")
        accounts.add_user(s, "sm", actor="admin", roles=["study_manager:study:S-ONE"])
        accounts.add_user(s, "boss", actor="admin", roles=["administrator"])
        accounts.add_user(s, "platform", actor="admin", roles=["study_manager"])


def test_status_moves_forward_only_and_is_audited(engine: Engine) -> None:
    _setup(engine)
    with session_scope(engine) as s:
        with pytest.raises(ConflictError, match="can move to: active"):
            studies.set_status(s, "S-ONE", "closed", actor="sm")
        for status in ("active", "closed", "deposited"):
            studies.set_status(s, "S-ONE", status, actor="sm")
        with pytest.raises(ConflictError, match="can move to: none"):
            studies.set_status(s, "S-ONE", "active", actor="sm")
        with pytest.raises(ValidationError, match="unknown status"):
            studies.set_status(s, "S-TWO", "paused", actor="sm")
        changes = s.execute(select(audit.AuditEntry).where(audit.AuditEntry.action == "study.status")).scalars().all()
        assert [(c.before["status"], c.after["status"]) for c in changes] == [
            ("draft", "active"), ("active", "closed"), ("closed", "deposited")]
        with pytest.raises(ConflictError):
            studies.create_study(s, "S-ONE", "dup", actor="sm")


def test_study_list_is_scoped_by_role(engine: Engine) -> None:
    _setup(engine)
    with session_scope(engine) as s:
        def codes(name: str) -> list[str]:
            return [r.code for r in studies.visible_studies(s, accounts.get_user(s, name))]
        assert codes("sm") == ["S-ONE"]
        assert codes("boss") == ["S-ONE", "S-TWO"]
        assert codes("platform") == ["S-ONE", "S-TWO"]
        views = s.execute(select(audit.AuditEntry).where(audit.AuditEntry.action == "data.view")).scalars().all()
        assert [v.actor for v in views] == ["sm", "boss", "platform"]


def test_personal_link_and_due_questionnaires(engine: Engine) -> None:
    _setup(engine)
    today = date(2026, 3, 1)
    with session_scope(engine) as s:
        study = studies.get_study(s, "S-ONE")
        p = Participant(study_id=study.id, pseudonym="P-TESTAAAA", inclusion_date=today - timedelta(days=40))
        s.add(p)
        s.flush()
        token = issue_access_token(s, p, actor="sm")
    with session_scope(engine) as s:
        p = participant_by_token(s, token)
        due = due_items(s, p, today=today)
        assert [(d.event_code, d.instrument_id, d.overdue) for d in due] == [
            ("BL", "qlq-c30", True), ("BL", "phq-9", True), ("W06", "qlq-c30", False)]
        s.add(Response(participant_id=p.id, event_code="BL", instrument_id="qlq-c30",
                       submission_key="k1", answers={"q1": 1}))
        s.flush()
        assert [d.instrument_id for d in due_items(s, p, today=today)] == ["phq-9", "qlq-c30"]
        assert due_items(s, p, today=today - timedelta(days=40)) != []
        p.status = "withdrawn"
        assert due_items(s, p, today=today) == []


def test_unknown_and_expired_links_are_refused_and_audited(engine: Engine) -> None:
    _setup(engine)
    with session_scope(engine) as s:
        study = studies.get_study(s, "S-ONE")
        p = Participant(study_id=study.id, pseudonym="P-TESTBBBB", inclusion_date=date(2026, 1, 1))
        s.add(p)
        s.flush()
        token = issue_access_token(s, p, actor="sm")
        p.access_token_expires = utcnow() - timedelta(seconds=1)
    for bad in (token, "not-a-token", ""):
        with session_scope(engine) as s, pytest.raises(NotFoundError, match="unknown or has expired"):
            participant_by_token(s, bad)
    with session_scope(engine) as s:
        refused = s.execute(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "participant.link.refused")).scalars().all()
        assert [r.reason for r in refused] == ["expired link", "unknown link", "unknown link"]
