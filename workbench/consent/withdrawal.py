"""Withdrawal (total or partial) and the checks that make it take effect at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.consent.models import ConsentRecord, Withdrawal
from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Participant
from workbench.studies.models import Study
from workbench.studies.service import get_study

__all__ = ["SCOPES", "VaultReport", "verify_vault", "withdraw"]

# scope → the participant flags it sets
SCOPES: dict[str, tuple[str, ...]] = {
    "questionnaires": ("questionnaires_stopped",),
    "data_use": ("data_use_stopped", "reuse_opposed"),
    "reuse": ("reuse_opposed",),
    "total": ("questionnaires_stopped", "data_use_stopped", "reuse_opposed"),
}


def withdraw(session: Session, participant: Participant, scope: str, *, reason: str, actor: str) -> Withdrawal:
    """Record a withdrawal; collection, export and deposit read these flags, so it acts immediately."""
    if scope not in SCOPES:
        raise ValidationError(f"unknown scope {scope!r} (one of: {', '.join(SCOPES)})", where="scope")
    if not reason.strip():
        raise ValidationError("a reason is required (it may be 'not given')", where="reason")
    if participant.status == "withdrawn":
        raise ConflictError("this participant has already withdrawn completely")
    before = {flag: getattr(participant, flag) for flag in SCOPES["total"]}
    for flag in SCOPES[scope]:
        setattr(participant, flag, True)
    if scope == "total":
        participant.status = "withdrawn"
    record = Withdrawal(participant_id=participant.id, scope=scope, reason=reason.strip(), recorded_by=actor)
    session.add(record)
    session.flush()
    audit.record(session, actor=actor, action="consent.withdraw", object_type="participant",
                 object_id=participant.pseudonym, reason=reason.strip(), before=before,
                 after={**{flag: getattr(participant, flag) for flag in SCOPES["total"]}, "scope": scope})
    return record


@dataclass
class VaultReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_vault(session: Session, vault: Path, study_code: str) -> VaultReport:
    """Recompute every signed PDF's SHA-256 and compare with the record and the audit chain."""
    study = get_study(session, study_code)
    report = VaultReport()
    signed = {
        e.object_id: (e.after or {}).get("pdf_sha256")
        for e in session.execute(
            select(audit.AuditEntry).where(audit.AuditEntry.action == "consent.sign")
        ).scalars()
    }
    rows = session.execute(
        select(ConsentRecord, Participant.pseudonym)
        .join(Participant, Participant.id == ConsentRecord.participant_id)
        .join(Study, Study.id == Participant.study_id)
        .where(Study.id == study.id)
        .order_by(ConsentRecord.id)
    ).all()
    for record, pseudonym in rows:
        report.checked += 1
        path = vault / record.vault_path
        where = f"consent record {record.id} ({pseudonym})"
        if not path.is_file():
            report.problems.append(f"{where}: signed PDF missing from the vault")
            continue
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != record.pdf_sha256:
            report.problems.append(f"{where}: signed PDF was altered (hash differs from the record)")
        if signed.get(str(record.id)) != record.pdf_sha256:
            report.problems.append(f"{where}: record's hash differs from the audit chain")
    return report
