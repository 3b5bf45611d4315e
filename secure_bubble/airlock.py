"""The airlock: the only way a file leaves the bubble.

Automatic disclosure checks first; then two independent output checkers, blind to each other
until both have voted, approve or reject. Authors never review their own requests; a changed file
voids earlier votes. Every view, vote and download is audited.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from secure_bubble.disclosure import DisclosureRules, check_file
from workbench import audit
from workbench.accounts.models import Role, User
from workbench.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from workbench.governance.models import ReleaseFile, ReleaseRequest, ReleaseReview
from workbench.storage.base import utcnow

__all__ = [
    "REQUIRED_REVIEWS",
    "add_file",
    "create_request",
    "download",
    "file_set",
    "may_check",
    "pending_for",
    "release",
    "review",
    "review_content",
    "submit",
    "visible_reviews",
]

REQUIRED_REVIEWS = 2


def may_check(user: User, project: str) -> bool:
    """An output checker for this project (or for all projects, when the role is unscoped)."""
    return user.active and any(
        a.role == Role.OUTPUT_CHECKER and (not a.scope_id or (a.scope_type, a.scope_id) == ("project", project))
        for a in user.roles
    )


def _member(user: User, project: str) -> bool:
    """Only a role scoped to this project counts: an unscoped researcher role lets a person file
    access requests, never act inside a project they were not approved for."""
    return user.active and any(
        a.role == Role.RESEARCHER and (a.scope_type, a.scope_id) == ("project", project) for a in user.roles
    )


def _get(session: Session, request_id: int) -> ReleaseRequest:
    request = session.get(ReleaseRequest, request_id)
    if request is None:
        raise NotFoundError(f"no release request {request_id}")
    return request


def file_set(request: ReleaseRequest) -> str:
    """Fingerprint of the exact files under review; votes count only for the set they saw."""
    joined = "\n".join(f"{f.name}:{f.sha256}" for f in sorted(request.files, key=lambda f: f.name))
    return hashlib.sha256(joined.encode()).hexdigest()


def create_request(session: Session, author: User, project: str, title: str, context: str) -> ReleaseRequest:
    if not _member(author, project):
        raise PermissionDenied(f"{author.username} is not a researcher of project {project}")
    if not title.strip():
        raise ValidationError("is required", where="title")
    request = ReleaseRequest(project=project, author=author.username, title=title.strip(), context=context)
    session.add(request)
    session.flush()
    audit.record(session, actor=author.username, action="airlock.create", object_type="release",
                 object_id=request.id, after={"project": project, "title": request.title})
    return request


def add_file(session: Session, store: Path, request_id: int, author: User, name: str, content: bytes,
             rules: DisclosureRules | None = None) -> ReleaseFile:
    """Add or replace a file; replacing resets the review (the file set changes)."""
    request = _get(session, request_id)
    if request.author != author.username:
        raise PermissionDenied("only the author can change a release request")
    if request.status not in {"draft", "submitted", "rejected"}:
        raise ConflictError(f"the request is {request.status}; files can no longer change")
    if "/" in name or "\\" in name or name.startswith(".") or not name.strip():
        raise ValidationError("use a plain file name", where="file name")
    checked = check_file(name, content, rules)
    sha = hashlib.sha256(content).hexdigest()
    target = store / str(request.id) / sha
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    existing = next((f for f in request.files if f.name == name), None)
    before = existing.sha256 if existing else None
    if existing is not None:
        request.files.remove(existing)
        session.flush()
    entry = ReleaseFile(name=name, sha256=sha, size=len(content), check_status=checked.status,
                        check_report=checked.problems)
    request.files.append(entry)
    if request.status == "rejected":
        request.status = "submitted"
    session.flush()
    audit.record(session, actor=author.username, action="airlock.file", object_type="release",
                 object_id=request.id, before={"file": name, "sha256": before} if before else None,
                 after={"file": name, "sha256": sha, "check": checked.status})
    return entry


def submit(session: Session, request_id: int, author: User) -> ReleaseRequest:
    request = _get(session, request_id)
    if request.author != author.username:
        raise PermissionDenied("only the author can submit a release request")
    if request.status != "draft":
        raise ConflictError(f"the request is already {request.status}")
    if not request.files:
        raise ValidationError("add at least one file", where="release request")
    failing = [f.name for f in request.files if f.check_status == "fail"]
    if failing:
        raise ValidationError(f"automatic checks failed for {', '.join(failing)}; fix them first",
                              where="release request")
    if not request.context.strip():
        raise ValidationError("explain what the outputs are and why they are safe", where="context note")
    request.status, request.submitted_at = "submitted", utcnow()
    audit.record(session, actor=author.username, action="airlock.submit", object_type="release",
                 object_id=request.id, after={"file_set": file_set(request)})
    return request


def _current_votes(request: ReleaseRequest) -> list[ReleaseReview]:
    current = file_set(request)
    return [r for r in request.reviews if r.file_set == current]


def review(session: Session, request_id: int, checker: User, decision: str, comment: str = "") -> ReleaseRequest:
    request = _get(session, request_id)
    if checker.username == request.author:
        raise PermissionDenied("authors never review their own release requests")
    if not may_check(checker, request.project):
        raise PermissionDenied(f"{checker.username} is not an output checker for project {request.project}")
    if request.status != "submitted":
        raise ConflictError(f"the request is {request.status}, not awaiting review")
    if decision not in {"approve", "reject"}:
        raise ValidationError("decide 'approve' or 'reject'", where="decision")
    if decision == "reject" and not comment.strip():
        raise ValidationError("say why, so the author can fix it", where="comment")
    votes = _current_votes(request)
    if any(v.reviewer == checker.username for v in votes):
        raise ConflictError("you have already reviewed these files")
    request.reviews.append(ReleaseReview(reviewer=checker.username, decision=decision, comment=comment,
                                         file_set=file_set(request)))
    session.flush()
    votes = _current_votes(request)
    if len(votes) >= REQUIRED_REVIEWS:
        approved = all(v.decision == "approve" for v in votes)
        request.status, request.decided_at = ("approved" if approved else "rejected"), utcnow()
    audit.record(session, actor=checker.username, action="airlock.review", object_type="release",
                 object_id=request.id, reason=comment or None,
                 after={"decision": decision, "status": request.status, "file_set": file_set(request)})
    return request


def visible_reviews(session: Session, request_id: int, viewer: User) -> list[ReleaseReview]:
    """Checkers are blind to each other until both have voted; the view is audited."""
    request = _get(session, request_id)
    votes = _current_votes(request)
    if len(votes) >= REQUIRED_REVIEWS or request.status in {"approved", "rejected", "released"}:
        shown = list(request.reviews)
    elif viewer.username == request.author:
        shown = []
    else:
        shown = [v for v in request.reviews if v.reviewer == viewer.username]
    audit.record(session, actor=viewer.username, action="airlock.view", object_type="release",
                 object_id=request.id, after={"reviews_shown": len(shown)})
    return shown


def release(session: Session, request_id: int, actor: User) -> dict[str, str]:
    """Publish the approved files; returns the checksum manifest that travels with them."""
    request = _get(session, request_id)
    if request.status != "approved":
        raise ConflictError(f"the request is {request.status}; only approved requests are released")
    if actor.username != request.author and not may_check(actor, request.project):
        raise PermissionDenied("only the author or an output checker can release")
    request.status = "released"
    manifest = {f.name: f.sha256 for f in request.files}
    audit.record(session, actor=actor.username, action="airlock.release", object_type="release",
                 object_id=request.id, after={"files": manifest})
    return manifest


def download(session: Session, store: Path, request_id: int, name: str, user: User) -> bytes:
    """Only released files leave, byte-for-byte what was approved."""
    request = _get(session, request_id)
    if request.status != "released":
        raise PermissionDenied("only released outputs can be downloaded")
    if user.username != request.author and not may_check(user, request.project):
        raise PermissionDenied("only the project's author or its output checkers can download")
    entry = next((f for f in request.files if f.name == name), None)
    if entry is None:
        raise NotFoundError(f"no file {name!r} in release {request_id}")
    content = (store / str(request.id) / entry.sha256).read_bytes()
    if hashlib.sha256(content).hexdigest() != entry.sha256:
        raise ConflictError(f"{name} no longer matches its approved checksum; it will not be released")
    audit.record(session, actor=user.username, action="airlock.download", object_type="release",
                 object_id=request.id, after={"file": name, "sha256": entry.sha256})
    return content


def pending_for(session: Session, checker: User) -> list[ReleaseRequest]:
    """What this checker may review now (not their own, not already voted on)."""
    rows = session.execute(select(ReleaseRequest).where(ReleaseRequest.status == "submitted")).scalars()
    return [
        r for r in rows
        if r.author != checker.username and may_check(checker, r.project)
        and not any(v.reviewer == checker.username for v in _current_votes(r))
    ]


def review_content(session: Session, store: Path, request_id: int, name: str, checker: User) -> bytes:
    """A file of a submitted request, for an output checker to look at (never its author); audited."""
    request = _get(session, request_id)
    if checker.username == request.author:
        raise PermissionDenied("authors never review their own release requests")
    if not may_check(checker, request.project):
        raise PermissionDenied(f"{checker.username} is not an output checker for project {request.project}")
    entry = next((f for f in request.files if f.name == name), None)
    if entry is None:
        raise NotFoundError(f"no file {name!r} in release {request_id}")
    content = (store / str(request.id) / entry.sha256).read_bytes()
    audit.record(session, actor=checker.username, action="airlock.file_view", object_type="release",
                 object_id=request.id, after={"file": name, "sha256": entry.sha256})
    return content
