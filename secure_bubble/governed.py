"""Run one governance action so that a refusal is audited even though the action rolls back.

A refused action must leave a trace (who tried what on which object, and why it was refused), yet
nothing of the attempt may be written. So the action runs in its own transaction; when it raises
``PermissionDenied`` that transaction is rolled back and the refusal is recorded in a fresh one.
The dashboards and the tests use this one path, so what the tests check is what users get.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import PermissionDenied

__all__ = ["ACTIONS", "REFUSED", "Runner", "governed", "record_refusal"]

T = TypeVar("T")
Runner = Callable[[Callable[[Session], T]], T]  # e.g. functools.partial(widgets._store.in_session, settings)
REFUSED = "governance.refused"
ACTIONS = frozenset({
    "access.file", "access.oppose", "access.vote", "access.approve_project", "access.list",
    "access.show", "access.review", "airlock.request", "airlock.review", "airlock.download",
    "airlock.release", "committee.view", "airlock.view",
    "sponsor.view", "airlock.file_view",
})


def record_refusal(session: Session, *, actor: str, action: str, object_type: str, object_id: str | int,
                   reason: str) -> None:
    """Audit a refused governance action (the reason is the refusal's own one-line message)."""
    audit.record(session, actor=actor or "anonymous", action=REFUSED, object_type=object_type,
                 object_id=object_id, reason=reason, after={"action": action})


def governed(run: Runner[T], work: Callable[[Session], T], *, actor: str, action: str,
             object_type: str, object_id: str | int) -> T:
    """``run(work)``; on ``PermissionDenied`` audit the refusal in a new transaction and re-raise."""
    if action not in ACTIONS:
        raise ValueError(f"unknown governance action {action!r}")
    try:
        return run(work)
    except PermissionDenied as exc:
        reason = str(exc)
        run(lambda s: record_refusal(s, actor=actor, action=action, object_type=object_type,
                                     object_id=object_id, reason=reason))
        raise
