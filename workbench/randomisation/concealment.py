"""Allocation concealment: who may see an arm, and emergency unblinding as an audited act.

Pure functions of the record and the caller's roles: the UI and the API call ``view_allocation``
and show whatever comes back, so no screen can leak an arm by forgetting a check. The roles that
may see arms are part of the committed design (they cannot be widened quietly mid-trial).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.errors import PermissionDenied, ValidationError
from workbench.randomisation.design import Design
from workbench.randomisation.records import MIN_REASON, AllocationRecord, utc

__all__ = ["AllocationView", "UnblindingRecord", "emergency_unblind", "view_allocation"]

@dataclass(frozen=True)
class AllocationView:
    """What a caller sees. ``arm`` is None unless their role may see it."""

    participant: str
    seq: int
    at: datetime
    status: str = "allocated"
    arm: str | None = None

    def label(self) -> str:
        """Bilingual text for the participant's file (French first)."""
        if self.arm is None:
            return "Randomisé(e) — bras masqué / Randomised — arm concealed"
        return f"Randomisé(e) : {self.arm} / Randomised: {self.arm}"


@dataclass(frozen=True)
class UnblindingRecord:
    """Evidence of an emergency unblinding, for the audit log. It names no arm on purpose:
    the audit log is read by people who must stay blind."""

    study: str
    participant: str
    seq: int
    allocation_hash: str
    actor: str
    role: str
    reason: str
    at: datetime

    def audit_entry(self) -> dict[str, Any]:
        """Keyword arguments for ``workbench.audit.record`` (add the session)."""
        return {
            "actor": self.actor, "action": "randomisation.emergency_unblind",
            "object_type": "allocation", "object_id": f"{self.study}/{self.participant}",
            "reason": self.reason, "at": self.at,
            "after": {"seq": self.seq, "allocation_hash": self.allocation_hash, "role": self.role},
        }


def _roles(roles: str | Iterable[str]) -> set[str]:
    return {roles} if isinstance(roles, str) else {str(r) for r in roles}


def view_allocation(design: Design, record: AllocationRecord, roles: str | Iterable[str]) -> AllocationView:
    """The allocation as this caller may see it: the arm only for roles named in the design."""
    visible = bool(_roles(roles) & set(design.arm_visible_to))
    return AllocationView(record.participant, record.seq, record.at, arm=record.arm if visible else None)


def emergency_unblind(
    design: Design, record: AllocationRecord, *, roles: str | Iterable[str], actor: str, reason: str,
    at: datetime,
) -> tuple[str, UnblindingRecord]:
    """Reveal one participant's arm to an authorised person, with a reason; return what to audit."""
    allowed = sorted(_roles(roles) & set(design.unblind_roles))
    if not allowed:
        raise PermissionDenied(
            f"emergency unblinding needs one of these roles: {', '.join(design.unblind_roles)}")
    reason = reason.strip()
    if len(reason) < MIN_REASON:
        raise ValidationError(f"give the clinical reason (at least {MIN_REASON} characters)",
                              where="unblinding reason")
    if record.study != design.study:
        raise ValidationError(f"the allocation belongs to study {record.study}", where="unblinding")
    evidence = UnblindingRecord(design.study, record.participant, record.seq, record.hash, actor,
                                allowed[0], reason, utc(at))
    return record.arm, evidence
