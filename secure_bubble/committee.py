"""Committee votes on access requests, the approved project they create, and access review.

The scientific and ethics committee reviews every request; requests with private money or a
private requester then also go to the deontology committee. A member never votes on a request they
belong to. An approved request becomes a project whose team gets project-scoped researcher roles;
when it expires, those roles are revoked.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from secure_bubble.access import get_request, study_managers
from workbench import audit
from workbench.accounts import grant_role, revoke_role
from workbench.accounts.models import Role, User
from workbench.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from workbench.governance.models import AccessRequest, CommitteeVote, Project
from workbench.mail import queue_email
from workbench.storage.base import utcnow
from workbench.trusted_party import TrustedParty

__all__ = ["QUORUM", "Expired", "access_review", "pending_for_member", "vote"]

QUORUM = {"scientific_ethics": 3, "deontology": 2}
STAGE = {"committee_review": "scientific_ethics", "deontology_review": "deontology"}


def _sits_on(member: User, committee: str) -> bool:
    for a in member.roles:
        if a.role != Role.COMMITTEE_MEMBER:
            continue
        scope = a.scope_id or "scientific_ethics"
        if scope == committee:
            return True
    return False


def pending_for_member(session: Session, member: User) -> list[AccessRequest]:
    """Requests waiting for this member's vote (the committee dashboard's queue)."""
    rows = session.execute(
        select(AccessRequest).where(AccessRequest.status.in_(list(STAGE)))
    ).scalars()
    return [
        r for r in rows
        if _sits_on(member, STAGE[r.status]) and member.username not in r.team
        and not any(v.member == member.username and v.committee == STAGE[r.status] for v in r.votes)
    ]


def vote(session: Session, request_id: int, member: User, decision: str, *, comment: str,
         conditions: str = "", now: datetime | None = None,
         trusted_party: TrustedParty | None = None) -> AccessRequest:
    """Record a vote; the deciding vote of an approval opens the project's pseudonym domain at the
    trusted party (pass it), so the gateway can serve the project its own pseudonyms."""
    request = get_request(session, request_id)
    committee = STAGE.get(request.status)
    if committee is None:
        raise ConflictError(f"the request is {request.status}, not awaiting a committee")
    if not _sits_on(member, committee):
        raise PermissionDenied(f"{member.username} does not sit on the {committee.replace('_', ' ')} committee")
    if member.username in request.team:
        raise PermissionDenied("members of the requesting team cannot vote on it")
    if decision not in {"approve", "reject", "abstain"}:
        raise ValidationError("approve, reject or abstain", where="vote")
    if decision != "abstain" and not comment.strip():
        raise ValidationError("a reasoned comment is required", where="comment")
    if any(v.member == member.username and v.committee == committee for v in request.votes):
        raise ConflictError("you have already voted on this request")
    request.votes.append(CommitteeVote(committee=committee, member=member.username, vote=decision,
                                       conditions=conditions.strip(), comment=comment.strip()))
    session.flush()
    audit.record(session, actor=member.username, action="access.vote", object_type="access_request",
                 object_id=request.id, reason=comment or None,
                 after={"committee": committee, "vote": decision, "conditions": conditions})
    _decide(session, request, committee, now or utcnow(), trusted_party)
    return request


def _decide(session: Session, request: AccessRequest, committee: str, at: datetime,
            trusted_party: TrustedParty | None) -> None:
    votes = [v for v in request.votes if v.committee == committee]
    if len(votes) < QUORUM[committee]:
        return
    yes = sum(v.vote == "approve" for v in votes)
    no = sum(v.vote == "reject" for v in votes)
    reasons = "; ".join(f"{v.member}: {v.comment}" for v in votes if v.comment)
    if yes <= no:
        request.status, request.decided_at = "rejected", at
        request.decision_reason = f"{committee.replace('_', ' ')} committee: {reasons}"
    elif committee == "scientific_ethics" and (request.funder == "private" or request.requester_status != "academic"):
        request.status = "deontology_review"
    else:
        request.status, request.decided_at = "approved", at
        request.decision_reason = reasons
        project = _create_project(session, request, at)
        if trusted_party is not None:
            trusted_party.open_domain(f"project:{project.code}", actor="committee")
    audit.record(session, actor="system", action="access.decision", object_type="access_request",
                 object_id=request.id, reason=request.decision_reason,
                 after={"committee": committee, "status": request.status, "approve": yes, "reject": no})


def _create_project(session: Session, request: AccessRequest, at: datetime) -> Project:
    approved = {i.study_code: i.variables for i in request.items if i.sponsor_decision != "opposed"}
    conditions = "; ".join(v.conditions for v in request.votes if v.conditions)
    project = Project(
        code=f"P{at:%Y}-{request.id:04d}", request_id=request.id, title=request.title,
        purpose=request.purpose, team=request.team, approved=approved, conditions=conditions,
        committee_date=at, expires_at=at + timedelta(days=30 * request.duration_months),
    )
    session.add(project)
    session.flush()
    for username in request.team:
        grant_role(session, username, f"researcher:project:{project.code}", actor="committee")
    for study, variables in approved.items():
        for manager in study_managers(session, study):
            if manager.email:
                queue_email(session, to=manager.email, dedupe_key=f"reuse:{project.code}:{study}:{manager.username}",
                            subject=f"[WeShare] Data of {study} reused by project {project.code}",
                            body=(f"Project {project.code} ({request.title}) was approved on {at:%Y-%m-%d} "
                                  f"and may use {len(variables)} variable(s) of {study} until "
                                  f"{project.expires_at:%Y-%m-%d}."))
    audit.record(session, actor="committee", action="project.create", object_type="project",
                 object_id=project.code, after={"request": request.id, "studies": sorted(approved),
                                                "expires": project.expires_at.isoformat()})
    return project


@dataclass(frozen=True)
class Expired:
    project: str
    members: list[str]


def access_review(session: Session, *, actor: str, now: datetime | None = None,
                  trusted_party: TrustedParty | None = None) -> list[Expired]:
    """Expire projects past their date, revoke their members' project roles and, given the trusted
    party, close the project's pseudonym domain (its key is destroyed: the extract is unlinkable)."""
    at = now or utcnow()
    expired = []
    for project in session.execute(
        select(Project).where(Project.status == "active", Project.expires_at <= at)
    ).scalars():
        project.status = "expired"
        revoked = []
        for username in project.team:
            try:
                revoke_role(session, username, f"researcher:project:{project.code}", actor=actor,
                            reason=f"project {project.code} expired")
                revoked.append(username)
            except NotFoundError:  # the role was already revoked by hand
                continue
        if trusted_party is not None:
            with suppress(NotFoundError):  # never opened: nothing was extracted
                trusted_party.close_domain(f"project:{project.code}", actor=actor,
                                           reason=f"project {project.code} expired")
        audit.record(session, actor=actor, action="project.expire", object_type="project",
                     object_id=project.code, after={"revoked": revoked})
        expired.append(Expired(project.code, revoked))
    return expired
