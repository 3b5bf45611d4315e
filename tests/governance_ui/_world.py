"""A governance world seeded once per run, copied for each test (SQLite file copy: milliseconds).

One account per role, plus the supporting cast; requests in every stage a governance action needs:
one in its sponsors' opposition window, one awaiting votes, one a vote away from approval, an
approved project with a submitted and a released output.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from secure_bubble import access, airlock, committee
from secure_bubble.desk import airlock_store
from widgets._store import in_session
from workbench import accounts
from workbench.governance.models import Project
from workbench.settings import Settings
from workbench.storage.base import utcnow
from workbench.studies import service as studies

# One account per role of workbench.accounts.Role (the sponsor side is a study-scoped study_manager).
ROLE_USERS = {
    "administrator": ("admin.u", ["administrator"]),
    "study_manager": ("sponsor.u", ["study_manager:study:S-A"]),
    "researcher": ("researcher.u", ["researcher"]),
    "coder": ("coder.u", ["coder:study:S-A"]),
    "committee_member": ("committee.u", ["committee_member"]),
    "output_checker": ("checker.u", ["output_checker"]),
    "data_steward": ("steward.u", ["data_steward"]),
    "participant": ("participant.u", ["participant:study:S-A"]),
}
SUPPORT = {
    "rita": ["researcher"], "author.u": ["researcher"], "spb": ["study_manager:study:S-B"],
    "c1": ["committee_member"], "c2": ["committee_member"], "c3": ["committee_member"],
    "d1": ["committee_member:committee:deontology"], "d2": ["committee_member:committee:deontology"],
    "chk1": ["output_checker"], "chk2": ["output_checker"],
}
SAFE = b"arm,n\ncontrol,120\nintervention,118\n"
JUSTIFY = "Fatigue and global health by cancer site over the first year."
ITEM_A = {"study": "S-A", "variables": ["qlq-c30.QL2", "qlq-c30.FA"], "justification": JUSTIFY}
ITEM_B = {"study": "S-B", "variables": ["phq-9.TOTAL"], "justification": JUSTIFY}


@dataclass(frozen=True)
class World:
    settings: Settings
    project: str
    window: int  # request in its opposition window (S-A, S-B)
    to_vote: int  # request awaiting committee votes, none cast
    deciding: int  # request with two approvals: the next approval creates its project
    submitted_release: int  # by author.u, awaiting checkers
    released: int  # by researcher.u, released

    def run(self, work):  # type: ignore[no-untyped-def]
        return in_session(self.settings, work)

    @property
    def runner(self):  # type: ignore[no-untyped-def]
        return functools.partial(in_session, self.settings)

    @property
    def store(self) -> Path:
        return airlock_store(self.settings)


def _request(s, requester: str, team: list[str], items: list[dict], **kw: object) -> int:  # type: ignore[no-untyped-def, type-arg]
    args: dict[str, object] = dict(title="Fatigue trajectories", purpose="quality_of_life",
                                   regulatory_ref="MR-004 n°2226789", funder="public",
                                   requester_status="academic", team=team, duration_months=12, items=items)
    args.update(kw)
    return access.draft_request(s, accounts.get_user(s, requester), **args).id  # type: ignore[arg-type]


def seed(settings: Settings) -> World:
    u = accounts.get_user
    now = utcnow()

    def people(s):  # type: ignore[no-untyped-def]
        for code in ("S-A", "S-B"):
            studies.create_study(s, code, f"Study {code}", actor="admin")
            for status in ("active", "closed", "deposited"):
                studies.set_status(s, code, status, actor="admin")
        for name, roles in [*ROLE_USERS.values(), *SUPPORT.items()]:
            accounts.add_user(s, name, actor="admin", roles=roles, email=f"{name}@example.org")

    def requests(s):  # type: ignore[no-untyped-def]
        base = _request(s, "rita", ["researcher.u", "author.u"], [ITEM_A])
        access.submit_request(s, base, u(s, "rita"), now=now - timedelta(days=20))
        access.advance(s, base, now=now)
        for name in ("c1", "c2", "c3"):
            committee.vote(s, base, u(s, name), "approve", comment="sound design")
        window = _request(s, "rita", [], [ITEM_A, ITEM_B])
        access.submit_request(s, window, u(s, "rita"), now=now)
        ids = []
        for _ in range(2):
            rid = _request(s, "rita", [], [ITEM_B])
            access.submit_request(s, rid, u(s, "rita"), now=now)
            access.sponsor_answer(s, rid, "S-B", u(s, "spb"), opposed=False, now=now)
            ids.append(rid)
        for name in ("c1", "c2"):
            committee.vote(s, ids[1], u(s, name), "approve", comment="sound design")
        project = s.execute(select(Project.code).where(Project.request_id == base)).scalar_one()
        return project, window, ids[0], ids[1]

    def releases(s, project: str):  # type: ignore[no-untyped-def]
        store = airlock_store(settings)
        made = []
        for author in ("author.u", "researcher.u"):
            req = airlock.create_request(s, u(s, author), project, "Table 1", "Counts by arm, all cells ≥ 11")
            airlock.add_file(s, store, req.id, u(s, author), "table1.csv", SAFE)
            airlock.submit(s, req.id, u(s, author))
            made.append(req.id)
        for name in ("chk1", "chk2"):
            airlock.review(s, made[1], u(s, name), "approve")
        airlock.release(s, made[1], u(s, "researcher.u"))
        return made

    in_session(settings, people)
    project, window, to_vote, deciding = in_session(settings, requests)
    submitted, released = in_session(settings, lambda s: releases(s, project))
    return World(settings, project, window, to_vote, deciding, submitted, released)


