"""Append-only, hash-chained audit log written in the caller's transaction.

Each entry's hash covers its content and the previous hash; a one-row head records the last
sequence number and hash, so deleting the newest entries is detected as well as edits and gaps.
Triggers (created by the migration) refuse UPDATE and DELETE; the chain catches whoever bypasses them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["GENESIS", "AuditEntry", "AuditHead", "ChainReport", "record", "verify_chain"]

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    object_type: Mapped[str] = mapped_column(String(100), nullable=False)
    object_id: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[Any] = mapped_column(JSONText, nullable=True)
    after: Mapped[Any] = mapped_column(JSONText, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


def _digest(entry: AuditEntry) -> str:
    body = {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "reason": entry.reason,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    reason: str | None = None,
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction, so it commits or rolls back with the change."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    when = at or utcnow()
    entry = AuditEntry(
        seq=head.seq + 1,
        at=when,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=reason,
        before=_normalise(before),
        after=_normalise(after),
        prev_hash=head.hash,
    )
    entry.hash = _digest(entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    return entry


def _normalise(value: Any) -> Any:
    """Round-trip through JSON so what we hash is exactly what the store gives back."""
    if value is None:
        return None
    return json.loads(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_break: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries} entries"
        return f"audit chain broken at entry {self.first_break}: {self.problem}"


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in order and report the first entry where it breaks."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    last_seq = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.seq >= expected_seq).order_by(AuditEntry.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return ChainReport(count, expected_seq, f"entry {expected_seq} is missing (deleted)")
            if entry.prev_hash != prev_hash:
                return ChainReport(count, entry.seq, "its link to the previous entry does not match")
            if _digest(entry) != entry.hash:
                return ChainReport(count, entry.seq, "its content was changed after it was written")
            prev_hash, last_seq = entry.hash, entry.seq
            expected_seq += 1
            count += 1
        session.expunge_all()
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != last_seq or head_hash != prev_hash:
        missing = last_seq + 1 if head_seq > last_seq else head_seq
        return ChainReport(count, missing, f"the log ends at entry {last_seq} but the head records {head_seq}")
    return ChainReport(count)
