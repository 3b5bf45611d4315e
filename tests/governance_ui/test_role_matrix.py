"""Every role × every governance action: allowed cells succeed, refused ones raise PermissionDenied,
are audited (``governance.refused``) and write nothing else.

Actions run through ``secure_bubble.governed`` with the dashboards' own session runner, so the
refusal audit is checked the way a user's refusal is committed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from secure_bubble import access, airlock, committee, desk
from secure_bubble.governed import REFUSED, governed
from workbench import audit
from workbench.accounts import get_user
from workbench.errors import PermissionDenied
from workbench.governance.models import AccessRequest, Project

from ._world import ITEM_B, ROLE_USERS, World

Action = Callable[[World, str], tuple[str, str, object, Callable[[Session], object]]]


def file_request(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> str:
        rid = access.draft_request(
            s, get_user(s, name), title="Sleep after surgery", purpose="research",
            regulatory_ref="MR-004 n°1", funder="public", requester_status="academic", team=[],
            duration_months=6, items=[ITEM_B]).id
        return access.submit_request(s, rid, get_user(s, name)).status
    return "access.file", "access_request", "new", work


def oppose(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> str:
        request = access.sponsor_answer(s, w.window, "S-A", get_user(s, name), opposed=True,
                                        reason="our own paper comes first")
        return next(i.sponsor_decision for i in request.items if i.study_code == "S-A")
    return "access.oppose", "access_request", w.window, work


def vote(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> int:
        return len(committee.vote(s, w.to_vote, get_user(s, name), "approve", comment="sound design",
                                  conditions="no linkage").votes)
    return "access.vote", "access_request", w.to_vote, work


def approve_project(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> str:
        committee.vote(s, w.deciding, get_user(s, name), "approve", comment="sound design")
        return s.execute(select(Project.code).where(Project.request_id == w.deciding)).scalar_one()
    return "access.approve_project", "access_request", w.deciding, work


def request_release(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> str:
        user = get_user(s, name)
        req = airlock.create_request(s, user, w.project, "Figure 2", "Mean scores by arm, n ≥ 11 per cell")
        airlock.add_file(s, w.store, req.id, user, "fig2.csv", b"arm,n\ncontrol,40\nintervention,41\n")
        return airlock.submit(s, req.id, user).status
    return "airlock.request", "project", w.project, work


def review_release(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> int:
        return len(airlock.review(s, w.submitted_release, get_user(s, name), "approve").reviews)
    return "airlock.review", "release", w.submitted_release, work


def download_release(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> bytes:
        return airlock.download(s, w.store, w.released, "table1.csv", get_user(s, name))
    return "airlock.download", "release", w.released, work


def list_access(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> int:
        requests, projects = desk.steward_list(s, get_user(s, name))
        return len(requests) + len(projects)
    return "access.list", "access_request", "*", work


def show_access(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> str:
        return desk.steward_show(s, get_user(s, name), w.to_vote).status
    return "access.show", "access_request", w.to_vote, work


def review_access(w: World, name: str):  # type: ignore[no-untyped-def]
    def work(s: Session) -> int:
        return len(desk.steward_review(s, get_user(s, name)))
    return "access.review", "project", "*", work


# (action, the roles allowed to do it, what a success returns)
MATRIX: dict[str, tuple[Action, set[str], object]] = {
    "file request": (file_request, {"researcher"}, "sponsor_window"),
    "oppose": (oppose, {"study_manager"}, "opposed"),
    "vote": (vote, {"committee_member"}, 1),
    "approve project": (approve_project, {"committee_member"}, None),
    "request release": (request_release, {"researcher"}, "submitted"),
    "review release": (review_release, {"output_checker"}, 1),
    "download release": (download_release, {"researcher", "output_checker"}, b"arm,n\ncontrol,120\nintervention,118\n"),
    "list access": (list_access, {"data_steward", "administrator"}, None),
    "show access": (show_access, {"data_steward", "administrator"}, "committee_review"),
    "review access": (review_access, {"data_steward", "administrator"}, 0),
}
CELLS = [pytest.param(role, action, id=f"{role}-{action.replace(' ', '_')}")
         for action in MATRIX for role in ROLE_USERS]


def _audit_count(w: World) -> int:
    return w.run(lambda s: s.execute(select(func.count()).select_from(audit.AuditEntry)).scalar_one())


@pytest.mark.parametrize(("role", "action"), CELLS)
def test_role_action_cell(world: World, role: str, action: str) -> None:
    build, allowed, expected = MATRIX[action]
    name = ROLE_USERS[role][0]
    name_of_action, object_type, object_id, work = build(world, name)
    before = _audit_count(world)
    kwargs = dict(actor=name, action=name_of_action, object_type=object_type, object_id=object_id)
    if role in allowed:
        result = governed(world.runner, work, **kwargs)  # type: ignore[arg-type]
        if expected is not None:
            assert result == expected
        refused = world.run(lambda s: s.execute(select(audit.AuditEntry).where(
            audit.AuditEntry.action == REFUSED)).scalars().all())
        assert refused == [] and _audit_count(world) > before
        return
    with pytest.raises(PermissionDenied):
        governed(world.runner, work, **kwargs)  # type: ignore[arg-type]
    entries = world.run(lambda s: [(e.actor, e.action, e.object_type, e.object_id, e.after, e.reason)
                                   for e in s.execute(select(audit.AuditEntry).where(
                                       audit.AuditEntry.seq > before)).scalars()])
    # Exactly one new entry, the refusal: nothing of the attempt was written.
    assert len(entries) == 1
    actor, logged, otype, oid, after, reason = entries[0]
    assert (actor, logged, otype, oid) == (name, REFUSED, object_type, str(object_id))
    assert after == {"action": name_of_action} and reason
    assert world.run(lambda s: audit.verify_chain(s).ok)
    # And the objects kept their state.
    statuses = world.run(lambda s: dict(s.execute(select(AccessRequest.id, AccessRequest.status)).all()))
    assert statuses[world.window] == "sponsor_window" and statuses[world.to_vote] == "committee_review"
    assert statuses[world.deciding] == "committee_review"


def test_matrix_covers_every_role_and_action() -> None:
    from workbench.accounts.models import Role

    assert set(ROLE_USERS) == {r.value for r in Role}
    assert len(CELLS) == len(Role) * len(MATRIX)


def test_unscoped_researcher_cannot_act_in_a_project_they_were_not_approved_for(world: World) -> None:
    """Found by the matrix: an unscoped researcher role (needed to file requests) used to count as
    membership of every project in the airlock."""
    from workbench.accounts import add_user

    # rita asked for the project, so she is on its team; an outsider holds the same unscoped role.
    world.run(lambda s: add_user(s, "outsider.u", actor="admin", roles=["researcher"]))
    with pytest.raises(PermissionDenied, match="not a researcher of project"):
        world.run(lambda s: airlock.create_request(s, get_user(s, "outsider.u"), world.project, "T", "note"))
