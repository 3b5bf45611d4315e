"""Randomisation at inclusion, as the staff dashboard drives it: who the caller is, what they may see.

The caller's roles on a study are their account roles (unscoped, or scoped to this study) plus
``investigator`` when they lead one of its sites; the committed design decides which of those see
arms or may unblind. Inclusion checks what the dashboard cannot be trusted to: the participant
belongs to the study and is active, and a consent is signed when the study uses e-consent.
Every refusal happens before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.consent.models import ConsentDocument, ConsentRecord
from workbench.errors import NotFoundError, ValidationError
from workbench.participants.models import Participant
from workbench.randomisation.concealment import AllocationView, view_allocation
from workbench.randomisation.store import _load, randomise, unblind
from workbench.studies.models import Study
from workbench.studies.service import get_study

__all__ = ["DeskState", "caller_roles", "desk_state", "include_and_randomise", "unblind_participant"]


def caller_roles(session: Session, user: User, study_code: str) -> set[str]:
    """Role names that count on this study (the design's ``arm_visible_to`` / ``unblind_roles`` use them)."""
    roles = {a.role for a in user.roles if not a.scope_id or a.scope_id == study_code}
    study = get_study(session, study_code)
    if any(site.investigator == user.username for site in study.sites):
        roles.add("investigator")
    return roles


@dataclass(frozen=True)
class DeskState:
    """What the inclusion desk shows: factors to ask, who waits, and every allocation as the caller may see it."""

    method: str
    factors: list[tuple[str, tuple[str, ...]]]
    waiting: list[tuple[str, str]]  # (pseudonym, site) active and not yet randomised
    allocations: list[AllocationView]
    can_see_arms: bool
    can_unblind: bool


def desk_state(session: Session, study_code: str, *, key: bytes, roles: set[str]) -> DeskState:
    study_id, design, _commitment, log = _load(session, study_code, key)
    done = {r.participant for r in log if r.kind == "allocation"}
    waiting = [(p, site) for p, site in session.execute(
        select(Participant.pseudonym, Participant.site).where(
            Participant.study_id == study_id, Participant.status == "active").order_by(Participant.pseudonym))
        if p not in done]
    views = [view_allocation(design, r, roles) for r in log if r.kind == "allocation"]
    return DeskState(design.method, [(f.name, f.levels) for f in design.factors], waiting, views,
                     bool(roles & set(design.arm_visible_to)), bool(roles & set(design.unblind_roles)))


def _participant(session: Session, study_code: str, pseudonym: str) -> Participant:
    person = session.execute(
        select(Participant).join(Study, Study.id == Participant.study_id)
        .where(Study.code == study_code, Participant.pseudonym == pseudonym.strip())).scalar_one_or_none()
    if person is None:
        raise NotFoundError(f"no participant {pseudonym!r} in study {study_code}")
    return person


def include_and_randomise(session: Session, study_code: str, pseudonym: str, levels: dict[str, Any], *,
                          eligible: bool, key: bytes, actor: str, roles: set[str],
                          now: datetime | None = None) -> AllocationView:
    """Confirm inclusion and allocate; the answer shows the arm only to roles the design allows."""
    person = _participant(session, study_code, pseudonym)
    uses_consent = session.execute(select(ConsentDocument.id).where(
        ConsentDocument.study_id == person.study_id).limit(1)).first() is not None
    if eligible and uses_consent and session.execute(select(ConsentRecord.id).where(
            ConsentRecord.participant_id == person.id).limit(1)).first() is None:
        raise ValidationError(f"participant {person.pseudonym} has not signed the consent yet; "
                              "randomise after consent", where="consent")
    if eligible and person.reconsent_required:
        raise ValidationError(f"participant {person.pseudonym} must sign the new consent version first",
                              where="consent")
    return randomise(session, study_code, person, dict(levels), eligible=eligible, key=key, actor=actor,
                     roles=roles, now=now)


def unblind_participant(session: Session, study_code: str, pseudonym: str, *, key: bytes, roles: set[str],
                        actor: str, reason: str) -> str:
    """Emergency unblinding (audited with its reason, the arm never written to the audit log)."""
    person = _participant(session, study_code, pseudonym)
    return unblind(session, study_code, person.pseudonym, key=key, roles=roles, actor=actor, reason=reason)
