"""What each governance dashboard may show, decided here rather than in the widgets.

A researcher sees the requests they filed or belong to; a sponsor the open requests touching their
studies; a data steward (or an administrator) every request and runs the access review. Each
function checks the viewer's role first, so a dashboard can never show more than the domain allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from secure_bubble import airlock
from secure_bubble.access import get_request, study_managers
from secure_bubble.committee import Expired, access_review
from workbench import audit
from workbench.accounts.models import Role, User
from workbench.errors import PermissionDenied, ValidationError
from workbench.governance.models import AccessRequest, Project, ReleaseRequest
from workbench.settings import Settings
from workbench.storage.base import utcnow
from workbench.studies.models import Study
from workbench.trusted_party import TrustedParty

__all__ = [
    "HistoryLine",
    "RequestableStudy",
    "airlock_store",
    "checker_queue",
    "checker_request",
    "checker_waiting",
    "committee_decisions",
    "history",
    "my_projects",
    "my_releases",
    "my_requests",
    "project_files",
    "project_space_dir",
    "requestable_studies",
    "sponsor_queue",
    "stage_release",
    "steward_list",
    "steward_review",
    "steward_show",
    "visible_request",
]

STEWARDS = {Role.DATA_STEWARD, Role.ADMINISTRATOR}


@dataclass(frozen=True)
class HistoryLine:
    at: str
    actor: str
    action: str
    reason: str


def airlock_store(settings: Settings) -> Path:
    """Where release files are kept (by request and checksum), inside the instance home."""
    return settings.home / "airlock"


def _steward(user: User) -> None:
    if not (user.role_names & STEWARDS) or not user.active:
        raise PermissionDenied(f"{user.username} is not a data steward")


def _sits_on_any_committee(user: User) -> bool:
    return Role.COMMITTEE_MEMBER in user.role_names


def _sponsor_studies(session: Session, user: User) -> set[str]:
    return {a.scope_id for a in user.roles
            if a.role == Role.STUDY_MANAGER and a.scope_type == "study" and a.scope_id}


def my_requests(session: Session, user: User) -> list[AccessRequest]:
    """Requests the viewer filed or is a team member of, newest first."""
    rows = session.execute(select(AccessRequest).order_by(AccessRequest.id.desc())).scalars()
    return [r for r in rows if r.requester == user.username or user.username in r.team]


def sponsor_queue(session: Session, user: User) -> list[AccessRequest]:
    """Requests in their opposition window that touch a study this viewer speaks for."""
    studies = _sponsor_studies(session, user)
    if not studies:
        raise PermissionDenied(f"{user.username} speaks for no study's sponsor")
    rows = session.execute(select(AccessRequest).where(AccessRequest.status == "sponsor_window")
                           .order_by(AccessRequest.id)).scalars()
    return [r for r in rows if {i.study_code for i in r.items} & studies
            and any(user.username in {m.username for m in study_managers(session, i.study_code)}
                    for i in r.items)]


def visible_request(session: Session, user: User, request_id: int) -> AccessRequest:
    """One request, for its team, its studies' sponsors, committee members and stewards."""
    request = get_request(session, request_id)
    allowed = (
        bool(user.role_names & STEWARDS) or _sits_on_any_committee(user)
        or request.requester == user.username or user.username in request.team
        or bool({i.study_code for i in request.items} & _sponsor_studies(session, user))
    )
    if not allowed or not user.active:
        raise PermissionDenied(f"{user.username} may not see access request {request_id}")
    return request


def history(session: Session, user: User, request_id: int) -> list[HistoryLine]:
    """The audited steps of one request (who did what, when, why), for those who may see it."""
    visible_request(session, user, request_id)
    rows = session.execute(
        select(audit.AuditEntry).where(audit.AuditEntry.object_type == "access_request",
                                       audit.AuditEntry.object_id == str(request_id),
                                       audit.AuditEntry.action != "governance.refused")
        .order_by(audit.AuditEntry.seq)
    ).scalars()
    return [HistoryLine(f"{e.at:%Y-%m-%d %H:%M}", e.actor, e.action, e.reason or "") for e in rows]


def my_releases(session: Session, user: User) -> list[ReleaseRequest]:
    """Release requests this viewer authored, newest first."""
    return list(session.execute(select(ReleaseRequest).where(ReleaseRequest.author == user.username)
                                .order_by(ReleaseRequest.id.desc())).scalars())


def checker_queue(session: Session, user: User) -> tuple[list[ReleaseRequest], list[ReleaseRequest]]:
    """(to review now, decided or released ones this checker may see) for the output checker."""
    if Role.OUTPUT_CHECKER not in user.role_names:
        raise PermissionDenied(f"{user.username} is not an output checker")
    pending = airlock.pending_for(session, user)
    done = [r for r in session.execute(select(ReleaseRequest).where(
        ReleaseRequest.status.in_(["approved", "rejected", "released"])).order_by(ReleaseRequest.id.desc())
    ).scalars() if r.author != user.username and airlock.may_check(user, r.project)]
    return pending, done


def steward_list(session: Session, user: User) -> tuple[list[AccessRequest], list[Project]]:
    """Every access request and project (``weshare access list`` for a signed-in steward)."""
    _steward(user)
    audit.record(session, actor=user.username, action="access.list", object_type="access_request",
                 object_id="*")
    return (list(session.execute(select(AccessRequest).order_by(AccessRequest.id)).scalars()),
            list(session.execute(select(Project).order_by(Project.code)).scalars()))


def steward_show(session: Session, user: User, request_id: int) -> AccessRequest:
    _steward(user)
    request = get_request(session, request_id)
    audit.record(session, actor=user.username, action="access.show", object_type="access_request",
                 object_id=request_id)
    return request


def steward_review(session: Session, user: User, *, now: datetime | None = None,
                   trusted_party: TrustedParty | None = None) -> list[Expired]:
    """Expire projects past their date and revoke their roles, as the signed-in steward."""
    _steward(user)
    expired = access_review(session, actor=user.username, now=now, trusted_party=trusted_party)
    audit.record(session, actor=user.username, action="access.review", object_type="project",
                 object_id="*", after={"expired": [e.project for e in expired]})
    return expired


def committee_decisions(session: Session, user: User) -> list[AccessRequest]:
    """Decided requests (approved or rejected), newest first, for committee members and stewards:
    the committee's own history of decisions with their reasons."""
    if not (_sits_on_any_committee(user) or user.role_names & STEWARDS) or not user.active:
        raise PermissionDenied(f"{user.username} sits on no committee")
    return list(session.execute(select(AccessRequest).where(
        AccessRequest.status.in_(["approved", "rejected"])).order_by(AccessRequest.id.desc())).scalars())


def my_projects(session: Session, user: User, *, now: datetime | None = None) -> list[Project]:
    """Active, unexpired projects this viewer was approved for (a role scoped to the project)."""
    at = now or utcnow()
    codes = {a.scope_id for a in user.roles
             if a.role == Role.RESEARCHER and a.scope_type == "project" and a.scope_id}
    if not codes or not user.active:
        return []
    rows = session.execute(select(Project).where(Project.code.in_(sorted(codes)), Project.status == "active")
                           .order_by(Project.code)).scalars()
    return [p for p in rows if p.expires_at > at]


def project_space_dir(settings: Settings, username: str, project: str) -> Path:
    """The home of ``username``'s named server for ``project`` on the embedded hub (the layout
    ``hub.spawn.ProjectSpawner`` gives a project space: one folder per user and project)."""
    return settings.home / "hub" / "home" / username / "projects" / project.lower()


MAX_LISTED_FILES = 200


def project_files(settings: Settings, session: Session, user: User, project: str) -> list[str]:
    """Files of the viewer's own project space that could be asked to leave through the airlock
    (relative paths, hidden folders and checkpoints skipped). Only for a member of the project."""
    if project not in {p.code for p in my_projects(session, user)}:
        raise PermissionDenied(f"{user.username} is not a researcher of project {project}")
    root = project_space_dir(settings, user.username, project)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        # Symbolic links are skipped: only what the project space itself holds may be asked out.
        if path.is_file() and not path.is_symlink() and not any(part.startswith(".") for part in rel.parts) \
                and path.resolve().is_relative_to(root.resolve()):
            found.append(rel.as_posix())
            if len(found) >= MAX_LISTED_FILES:
                break
    return found


@dataclass(frozen=True)
class RequestableStudy:
    code: str
    title: str
    variables: tuple[str, ...]  # the deposit plan, when the study has one


def requestable_studies(session: Session, user: User) -> list[RequestableStudy]:
    """Deposited studies a researcher may ask for (the access form's choices)."""
    if Role.RESEARCHER not in user.role_names or not user.active:
        raise PermissionDenied("only researchers can ask for access")
    rows = session.execute(select(Study).where(Study.status == "deposited").order_by(Study.code)).scalars()
    return [RequestableStudy(s.code, s.title, tuple(s.deposit_plan or ())) for s in rows]


def stage_release(settings: Settings, session: Session, user: User, project: str, paths: list[str], *,
                  title: str, context: str, request_id: int | None = None) -> ReleaseRequest:
    """Put files of the viewer's project space into a release request (a new one, or their draft
    ``request_id`` again after fixing them): each file is checked automatically on the way in."""
    listed = set(project_files(settings, session, user, project))
    if not paths:
        raise ValidationError("choose at least one file of your project space", where="files")
    names = [PurePosixPath(p).name for p in paths]
    if len(set(names)) != len(names):
        raise ValidationError("two chosen files have the same name; rename one", where="files")
    for path in paths:
        if path not in listed:
            raise ValidationError(f"{path} is not a file of your project space", where="files")
    if request_id is None:
        request = airlock.create_request(session, user, project, title, context)
    else:
        request = session.get(ReleaseRequest, request_id)
        if request is None or request.project != project:
            raise ValidationError(f"no release request {request_id} in project {project}", where="request")
        if context.strip() and request.status == "draft":
            request.context = context
    root = project_space_dir(settings, user.username, project)
    for path, name in zip(paths, names, strict=True):
        airlock.add_file(session, airlock_store(settings), request.id, user, name, (root / path).read_bytes())
    return request


def checker_request(session: Session, user: User, request_id: int) -> ReleaseRequest:
    """One release request as an output checker may see it (never one they authored)."""
    request = session.get(ReleaseRequest, request_id)
    if request is None or request.author == user.username or not airlock.may_check(user, request.project):
        raise PermissionDenied(f"{user.username} may not check release request {request_id}")
    return request


def checker_waiting(session: Session, user: User) -> list[ReleaseRequest]:
    """Submitted requests this checker has already reviewed, awaiting the other checker."""
    pending = {r.id for r in checker_queue(session, user)[0]}
    return [r for r in session.execute(select(ReleaseRequest).where(ReleaseRequest.status == "submitted")
                                       .order_by(ReleaseRequest.id)).scalars()
            if r.id not in pending and r.author != user.username and airlock.may_check(user, r.project)]
