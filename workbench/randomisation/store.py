"""Randomisation in the operational store: sealed design, published commitment, append-only log.

The design holds the secret seed, so it is stored encrypted under a key derived from the server
key file: a copy of the database alone does not reveal upcoming allocations. The commitment digest
goes into the audit chain before the first allocation, and every allocation's record hash after
it, so ``verify_study`` can also detect the newest allocations being removed. Allocations of one
study are serialised by locking its set-up row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench import audit
from workbench.errors import ConfigError, ConflictError, NotFoundError
from workbench.participants.models import Participant
from workbench.randomisation.concealment import AllocationView, emergency_unblind, view_allocation
from workbench.randomisation.design import Design
from workbench.randomisation.randomiser import Randomiser
from workbench.randomisation.records import AllocationRecord, Commitment, commit
from workbench.randomisation.verify import VerificationReport, verify
from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow
from workbench.studies.service import get_study

__all__ = ["AllocationRow", "RandomisationSetup", "randomise", "setup_randomisation", "unblind",
           "verify_study", "view"]


class RandomisationSetup(Base):
    __tablename__ = "randomisation_setups"

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True)
    sealed_design: Mapped[str] = mapped_column(Text, nullable=False)
    commitment: Mapped[Any] = mapped_column(JSONText, nullable=False)
    committed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    committed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AllocationRow(Base):
    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("study_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    participant: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    record: Mapped[Any] = mapped_column(JSONText, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


def _fernet(key: bytes) -> Fernet:
    derived = hmac.new(key, b"weshare randomisation design", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def setup_randomisation(session: Session, study_code: str, design: Design, *, key: bytes, actor: str,
                        now: datetime | None = None) -> Commitment:
    """Seal the design and publish its commitment; it can never be replaced afterwards."""
    study = get_study(session, study_code)
    if design.study != study.code:
        raise ConflictError(f"the design is for study {design.study}, not {study.code}")
    if session.get(RandomisationSetup, study.id) is not None:
        raise ConflictError(f"study {study.code} already has a committed randomisation")
    commitment = commit(design, at=now or utcnow())
    session.add(RandomisationSetup(
        study_id=study.id, sealed_design=_fernet(key).encrypt(design.to_json().encode()).decode(),
        commitment=commitment.to_dict(), committed_by=actor, committed_at=commitment.committed_at))
    audit.record(session, actor=actor, action="randomisation.commit", object_type="study",
                 object_id=study.code, after={"digest": commitment.digest, "method": design.method})
    return commitment


def _load(session: Session, study_code: str, key: bytes, *, lock: bool = False
          ) -> tuple[int, Design, Commitment, list[AllocationRecord]]:
    study = get_study(session, study_code)
    query = select(RandomisationSetup).where(RandomisationSetup.study_id == study.id)
    setup = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if setup is None:
        raise NotFoundError(f"study {study_code} has no randomisation set up")
    try:
        design = Design.from_json(_fernet(key).decrypt(setup.sealed_design.encode()).decode())
    except InvalidToken:
        raise ConfigError("the server key cannot open this study's randomisation design "
                          "(WESHARE_SECRET_KEY_FILE points at another key)") from None
    rows = session.execute(select(AllocationRow.record).where(AllocationRow.study_id == study.id)
                           .order_by(AllocationRow.seq)).scalars()
    return study.id, design, Commitment.from_dict(setup.commitment), [AllocationRecord.from_dict(r) for r in rows]


def _audited_head(session: Session, study_code: str) -> str | None:
    entry = session.execute(
        select(audit.AuditEntry).where(audit.AuditEntry.object_type == "study",
                                       audit.AuditEntry.object_id == study_code,
                                       audit.AuditEntry.action.in_(["randomisation.commit",
                                                                    "randomisation.allocate"]))
        .order_by(audit.AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
    if entry is None:
        return None
    return entry.after.get("hash") or entry.after.get("digest")


def randomise(session: Session, study_code: str, participant: Participant, baseline: dict[str, Any], *,
              eligible: bool, key: bytes, actor: str, roles: set[str],
              now: datetime | None = None) -> AllocationView:
    """Allocate at inclusion; the caller sees the arm only if its roles may (concealment)."""
    if participant.status != "active":
        raise ConflictError(f"participant {participant.pseudonym} is {participant.status}; not randomised")
    study_id, design, commitment, log = _load(session, study_code, key, lock=True)
    if participant.study_id != study_id:
        raise ConflictError(f"participant {participant.pseudonym} is not in study {study_code}")
    randomiser = Randomiser(design, commitment, log, head=_audited_head(session, study_code))
    record = randomiser.allocate(participant.pseudonym, baseline, eligible=eligible, actor=actor,
                                 at=now or utcnow())
    session.add(AllocationRow(study_id=study_id, seq=record.seq, participant=record.participant,
                              record=record.to_dict(), hash=record.hash))
    audit.record(session, actor=actor, action="randomisation.allocate", object_type="study",
                 object_id=study_code, after={"seq": record.seq, "participant": record.participant,
                                              "hash": record.hash})
    session.flush()
    return view_allocation(design, record, roles)


def view(session: Session, study_code: str, pseudonym: str, *, key: bytes, roles: set[str]) -> AllocationView:
    _study_id, design, _c, log = _load(session, study_code, key)
    record = next((r for r in log if r.participant == pseudonym and r.kind == "allocation"), None)
    if record is None:
        raise NotFoundError(f"participant {pseudonym} has not been randomised")
    return view_allocation(design, record, roles)


def unblind(session: Session, study_code: str, pseudonym: str, *, key: bytes, roles: set[str], actor: str,
            reason: str) -> str:
    """Emergency unblinding: the arm, for an authorised role, with the reason in the audit chain."""
    _study_id, design, _c, log = _load(session, study_code, key)
    record = next((r for r in log if r.participant == pseudonym and r.kind == "allocation"), None)
    if record is None:
        raise NotFoundError(f"participant {pseudonym} has not been randomised")
    arm, evidence = emergency_unblind(design, record, roles=roles, actor=actor, reason=reason, at=utcnow())
    audit.record(session, **evidence.audit_entry())
    return arm


def verify_study(session: Session, study_code: str, *, key: bytes) -> VerificationReport:
    """Recompute the list (or replay minimisation) from the committed parameters; check every allocation."""
    _study_id, design, commitment, log = _load(session, study_code, key)
    return verify(design, commitment, log, head=_audited_head(session, study_code))
