"""Access governance end to end: request, sponsor opposition, committees, project, register, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from secure_bubble import access, committee, transparency
from workbench import accounts, audit
from workbench.errors import ConflictError, PermissionDenied, ValidationError
from workbench.governance.models import Project
from workbench.mail import OutboxMessage
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

ITEMS = [
    {"study": "S-A", "variables": ["qlq-c30.QL2", "qlq-c30.FA", "condition.site"],
     "justification": "Fatigue and global health by cancer site over the first year."},
    {"study": "S-B", "variables": ["phq-9.TOTAL"], "justification": "Depression scores for the same question."},
]


@pytest.fixture
def world(engine: Engine) -> None:
    with session_scope(engine) as s:
        for code in ("S-A", "S-B", "S-C"):
            studies.create_study(s, code, f"Study {code}", actor="admin")
            for status in ("active", "closed", "deposited") if code != "S-C" else ("active",):
                studies.set_status(s, code, status, actor="admin")
        mk = accounts.add_user
        mk(s, "rita", actor="admin", roles=["researcher"], email="rita@x.fr")
        mk(s, "tom", actor="admin", roles=["researcher"])
        mk(s, "spa", actor="admin", roles=["study_manager:study:S-A"], email="spa@sponsor.fr")
        mk(s, "spb", actor="admin", roles=["study_manager:study:S-B"], email="spb@sponsor.fr")
        for name in ("c1", "c2", "c3"):
            mk(s, name, actor="admin", roles=["committee_member"])
        mk(s, "d1", actor="admin", roles=["committee_member:committee:deontology"])
        mk(s, "d2", actor="admin", roles=["committee_member:committee:deontology"])


def _u(s, name: str) -> accounts.User:  # type: ignore[no-untyped-def]
    return accounts.get_user(s, name)


def _draft(s, **changes: object) -> int:  # type: ignore[no-untyped-def]
    args: dict[str, object] = dict(title="Fatigue trajectories", purpose="quality_of_life",
                                   regulatory_ref="MR-004 n°2226789", funder="public",
                                   requester_status="academic", team=["tom"], duration_months=12,
                                   items=ITEMS)
    args.update(changes)
    return access.draft_request(s, _u(s, "rita"), **args).id  # type: ignore[arg-type]


def test_full_path_to_an_approved_project(engine: Engine, world: None) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        rid = _draft(s)
        request = access.get_request(s, rid)
        assert request.tariff["total"] == 400.0  # academic: 0 + volume 0 + 2 studies × 200
        access.submit_request(s, rid, _u(s, "rita"), now=now)
        mails = s.execute(select(OutboxMessage.to_address)).scalars().all()
        assert sorted(mails) == ["spa@sponsor.fr", "spb@sponsor.fr"]
        access.sponsor_answer(s, rid, "S-B", _u(s, "spb"), opposed=True, reason="own paper first", now=now)
        assert access.get_request(s, rid).status == "sponsor_window"
        assert access.advance(s, rid, now=now + timedelta(days=16)).status == "committee_review"
        assert [r.id for r in committee.pending_for_member(s, _u(s, "c1"))] == [rid]
        for name in ("c1", "c2"):
            committee.vote(s, rid, _u(s, name), "approve", comment="sound design", conditions="no linkage")
        committee.vote(s, rid, _u(s, "c3"), "reject", comment="too broad")
        assert access.get_request(s, rid).status == "approved"
        project = s.execute(select(Project)).scalar_one()
        assert project.approved == {"S-A": sorted(ITEMS[0]["variables"])}  # S-B removed by its sponsor
        assert project.conditions == "no linkage; no linkage"
        assert "researcher:project:" + project.code in {a.label() for a in _u(s, "tom").roles}
        entry = transparency.register(s)[0]
        assert entry.studies == ["S-A"] and entry.data_categories == ["condition", "qlq-c30"]
        assert "Quality-of-life" in entry.purpose
        reuse = [m for m in s.execute(select(OutboxMessage)).scalars() if "reused" in m.subject]
        assert [m.to_address for m in reuse] == ["spa@sponsor.fr"]
        # Access review after expiry revokes the project roles.
        expired = committee.access_review(s, actor="steward", now=project.expires_at + timedelta(seconds=1))
        assert expired[0].project == project.code and sorted(expired[0].members) == ["rita", "tom"]
        assert not any(a.scope_id == project.code for a in _u(s, "tom").roles)
        actions = {e.action for e in s.execute(select(audit.AuditEntry)).scalars()}
    assert {"access.draft", "access.submit", "access.sponsor", "access.vote", "access.decision",
            "project.create", "project.expire", "role.revoke"} <= actions


def test_private_money_also_needs_the_deontology_committee(engine: Engine, world: None) -> None:
    with session_scope(engine) as s:
        rid = _draft(s, funder="private", requester_status="partner_private")
        assert access.get_request(s, rid).tariff["total"] == 5000 + 1000 + 2 * 800
        access.submit_request(s, rid, _u(s, "rita"))
        access.sponsor_answer(s, rid, "S-A", _u(s, "spa"), opposed=False)
        access.sponsor_answer(s, rid, "S-B", _u(s, "spb"), opposed=False)
        for name in ("c1", "c2", "c3"):
            committee.vote(s, rid, _u(s, name), "approve", comment="ok")
        assert access.get_request(s, rid).status == "deontology_review"
        with pytest.raises(PermissionDenied, match="deontology"):
            committee.vote(s, rid, _u(s, "c1"), "approve", comment="again")
        committee.vote(s, rid, _u(s, "d1"), "approve", comment="no conflict of interest")
        committee.vote(s, rid, _u(s, "d2"), "reject", comment="commercial use unclear")
        request = access.get_request(s, rid)
        assert request.status == "rejected" and "commercial use unclear" in request.decision_reason
        assert transparency.register(s) == []


def test_every_sponsor_opposing_rejects_the_request(engine: Engine, world: None) -> None:
    with session_scope(engine) as s:
        rid = _draft(s)
        access.submit_request(s, rid, _u(s, "rita"))
        access.sponsor_answer(s, rid, "S-A", _u(s, "spa"), opposed=True, reason="consent does not cover it")
        request = access.sponsor_answer(s, rid, "S-B", _u(s, "spb"), opposed=True, reason="same")
        assert request.status == "rejected" and "opposed" in request.decision_reason


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"purpose": "insurance_pricing"}, "purpose"),
        ({"regulatory_ref": " "}, "regulatory reference"),
        ({"funder": "crowd"}, "funder"),
        ({"duration_months": 0}, "duration"),
        ({"team": ["ghost"]}, "team"),
        ({"items": []}, "studies"),
        ({"items": [{"study": "S-C", "variables": ["x"], "justification": "j" * 30}]}, "no data in the warehouse"),
        ({"items": [{"study": "S-Z", "variables": ["x"], "justification": "j" * 30}]}, "unknown study"),
        ({"items": [{"study": "S-A", "variables": [], "justification": "j" * 30}]}, "variables"),
        ({"items": [{"study": "S-A", "variables": ["x"], "justification": "because"}]}, "justification"),
    ],
)
def test_bad_requests_name_the_field(engine: Engine, world: None, changes: dict[str, object], where: str) -> None:
    with session_scope(engine) as s, pytest.raises(ValidationError, match=where):
        _draft(s, **changes)


def test_role_checks(engine: Engine, world: None) -> None:
    with session_scope(engine) as s:
        with pytest.raises(PermissionDenied, match="only researchers"):
            access.draft_request(s, _u(s, "c1"), title="t", purpose="research", regulatory_ref="r",
                                 funder="public", requester_status="academic", team=[],
                                 duration_months=1, items=ITEMS)
        rid = _draft(s)
        with pytest.raises(PermissionDenied, match="only the requester"):
            access.submit_request(s, rid, _u(s, "tom"))
        with pytest.raises(ConflictError, match="not awaiting a committee"):
            committee.vote(s, rid, _u(s, "c1"), "approve", comment="early")
        access.submit_request(s, rid, _u(s, "rita"))
        with pytest.raises(PermissionDenied, match="does not speak for the sponsor"):
            access.sponsor_answer(s, rid, "S-A", _u(s, "spb"), opposed=True, reason="x")
        with pytest.raises(ValidationError, match="reason"):
            access.sponsor_answer(s, rid, "S-A", _u(s, "spa"), opposed=True)
        access.advance(s, rid, now=utcnow() + timedelta(days=20))
        with pytest.raises(ConflictError, match="window is closed"):
            access.sponsor_answer(s, rid, "S-A", _u(s, "spa"), opposed=True, reason="late")
        accounts.grant_role(s, "tom", "committee_member", actor="admin")
        with pytest.raises(PermissionDenied, match="requesting team"):
            committee.vote(s, rid, _u(s, "tom"), "approve", comment="mine")
        with pytest.raises(ValidationError, match="reasoned comment"):
            committee.vote(s, rid, _u(s, "c1"), "reject", comment="")
        committee.vote(s, rid, _u(s, "c1"), "approve", comment="fine")
        with pytest.raises(ConflictError, match="already voted"):
            committee.vote(s, rid, _u(s, "c1"), "approve", comment="fine")
