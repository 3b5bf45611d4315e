"""Independent check of a randomisation: design against commitment, then every record in order.

For each record the verifier checks its place in the chain, its own hash, and that its arm is
exactly what the committed design gives (the list position for list methods, a replay of the
minimisation for minimisation). It stops at the first bad record and names it. An optional
``head`` (the last record's hash, kept elsewhere, e.g. in the audit log) also catches deletion
of the newest records, which a chain alone cannot see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.errors import WorkbenchError
from workbench.randomisation.design import Design
from workbench.randomisation.engine import AllocationState, Expected
from workbench.randomisation.methods import allocation_lists
from workbench.randomisation.records import (
    MIN_REASON,
    AllocationRecord,
    Commitment,
    commitment_digest,
)

__all__ = ["VerificationReport", "replay", "verify"]


@dataclass(frozen=True)
class VerificationReport:
    records: int  # records found good before the first problem
    first_bad: int | None = None  # seq of the first bad record; 0 when the design itself is wrong
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            return f"randomisation verified: commitment matches the design, {self.records} log records intact"
        if self.first_bad == 0:
            return f"randomisation NOT verified: {self.problem}"
        return f"randomisation NOT verified at allocation {self.first_bad}: {self.problem}"


def verify(
    design: Design, commitment: Commitment, log: Sequence[AllocationRecord], *, head: str | None = None,
) -> VerificationReport:
    """Recompute the commitment and replay the log; report the first discrepancy."""
    return replay(design, commitment, log, head=head)[0]


def replay(
    design: Design, commitment: Commitment, log: Sequence[AllocationRecord], *, head: str | None = None,
) -> tuple[VerificationReport, AllocationState]:
    """``verify``, also returning the state after the last good record (lists generated once)."""
    lists = allocation_lists(design)
    state = AllocationState(design, lists)
    if commitment.study != design.study or commitment.algorithm != design.algorithm:
        return VerificationReport(0, 0, "the commitment is for another study or algorithm version"), state
    if commitment_digest(design, lists) != commitment.digest:
        return VerificationReport(
            0, 0, "the design (parameters, seed or list) does not match the published commitment"), state
    prev_hash, prev_time = commitment.digest, commitment.committed_at
    for index, record in enumerate(log):
        seq = index + 1
        problem, expected = _check(design, state, record, seq, prev_hash, prev_time)
        if problem:
            return VerificationReport(index, seq, problem), state
        state.apply(record, expected)
        prev_hash, prev_time = record.hash, record.at
    if head is not None and head != prev_hash:
        return VerificationReport(len(log), len(log) + 1,
                                  f"the log ends at allocation {len(log)} but the recorded head differs "
                                  "(newest allocations deleted or replaced)"), state
    return VerificationReport(len(log)), state


def _check(
    design: Design, state: AllocationState, record: AllocationRecord, seq: int,
    prev_hash: str, prev_time: object,
) -> tuple[str | None, Expected | None]:
    """The first problem with this record, if any, and the allocation it was checked against."""
    problem = _check_entry(design, record, seq, prev_hash, prev_time)
    if problem:
        return problem, None
    if record.kind == "correction":
        return _check_correction(state, record), None
    if record.kind != "allocation" or record.corrects is not None or record.reason is not None:
        return f"its kind {record.kind!r} is not a plain allocation", None
    try:
        expected = state.expected(record.levels)
    except WorkbenchError as exc:
        return str(exc), None
    if record.participant in state.participants:
        return (f"participant {record.participant} was already randomised at allocation "
                f"{state.participants[record.participant]}"), None
    if (record.stratum, record.position) != (expected.stratum, expected.position):
        return (f"it claims position {record.position} of stratum {record.stratum}, but the next "
                f"place is {expected.position} of stratum {expected.stratum}"), None
    if record.arm != expected.arm:
        source = "a replay of the minimisation" if design.method == "minimisation" else "the committed list"
        return f"its arm {record.arm!r} differs from {source} ({expected.arm!r})", None
    return None, expected


def _check_entry(
    design: Design, record: AllocationRecord, seq: int, prev_hash: str, prev_time: object,
) -> str | None:
    """Checks every record passes whatever its kind: place in the chain, hash, study, time, levels."""
    if record.seq != seq:
        return f"expected allocation {seq} here, found {record.seq} (a record is missing or out of order)"
    if record.prev_hash != prev_hash:
        return "its link to the previous record does not match (a record was removed, inserted or altered)"
    if record.compute_hash() != record.hash:
        return "its content was changed after it was written"
    if record.study != design.study:
        return f"it belongs to study {record.study}, not {design.study}"
    if record.at < prev_time:  # type: ignore[operator]
        return "its time is earlier than the previous record's (or than the commitment)"
    if set(record.levels) != {f.name for f in design.factors}:
        return "its recorded factors differ from the design's"
    try:
        design.check_baseline(record.levels)
    except WorkbenchError as exc:
        return str(exc)
    return None


def _check_correction(state: AllocationState, record: AllocationRecord) -> str | None:
    original = state.participants.get(record.participant)
    if original is None or record.corrects != original:
        return f"it corrects allocation {record.corrects}, which is not {record.participant}'s allocation"
    before = state.current[record.participant]
    if (record.arm, record.stratum, record.position) != (before.arm, before.stratum, before.position):
        return "a correction may change baseline values only, never the arm, stratum or list position"
    if not record.reason or len(record.reason.strip()) < MIN_REASON:
        return "a correction must give its reason"
    return None
