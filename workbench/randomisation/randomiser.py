"""Live allocation: refuse what must be refused, otherwise return the next sealed record.

Storage-agnostic: build a ``Randomiser`` from the design, its published commitment and the stored
log (which it verifies first, so nobody allocates on top of a tampered log), call ``allocate``, and
persist the returned record append-only in the same transaction as an audit entry. A refusal
raises a ``WorkbenchError`` and leaves the randomiser exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.randomisation.design import Design
from workbench.randomisation.engine import Expected
from workbench.randomisation.records import MIN_REASON, AllocationRecord, Commitment, utc
from workbench.randomisation.verify import replay

__all__ = ["Randomiser"]

_MAX_PSEUDONYM = 200


class Randomiser:
    """One study's randomisation state, rebuilt from its committed design and log."""

    def __init__(
        self, design: Design, commitment: Commitment, log: Sequence[AllocationRecord] = (),
        *, head: str | None = None,
    ) -> None:
        report, state = replay(design, commitment, log, head=head)
        if not report.ok:
            raise ConflictError(f"{report}; randomisation is suspended until this is resolved")
        self.design = design
        self.commitment = commitment
        self._state = state
        self._log: list[AllocationRecord] = list(log)

    @property
    def log(self) -> tuple[AllocationRecord, ...]:
        return tuple(self._log)

    @property
    def head(self) -> str:
        """Hash of the newest record (the commitment digest before the first allocation)."""
        return self._log[-1].hash if self._log else self.commitment.digest

    def allocation_of(self, participant: str) -> AllocationRecord | None:
        seq = self._state.participants.get(participant)
        return self._log[seq - 1] if seq else None

    def allocate(
        self, participant: str, baseline: Mapping[str, Any], *, eligible: bool, actor: str, at: datetime,
    ) -> AllocationRecord:
        """Allocate the next participant. ``eligible`` must reflect recorded eligibility and consent."""
        participant = participant.strip() if isinstance(participant, str) else ""
        if not participant or len(participant) > _MAX_PSEUDONYM:
            raise ValidationError(f"a study pseudonym of 1–{_MAX_PSEUDONYM} characters is required",
                                  where="participant")
        if not actor.strip():
            raise ValidationError("is required", where="actor")
        if not eligible:
            raise ValidationError(
                f"participant {participant} is not confirmed eligible; record eligibility and consent "
                "before randomising", where="eligibility")
        previous = self.allocation_of(participant)
        if previous is not None:
            raise ConflictError(
                f"participant {participant} was already randomised (allocation {previous.seq} on "
                f"{previous.at:%Y-%m-%d}); re-randomisation is not allowed")
        levels = self.design.check_baseline(baseline)
        when = self._check_time(at)
        expected = self._state.expected(levels)  # may refuse: list exhausted
        record = AllocationRecord(
            seq=self._state.count + 1, study=self.design.study, participant=participant,
            levels=levels, stratum=expected.stratum, position=expected.position, arm=expected.arm,
            at=when, actor=actor, prev_hash=self.head,
        ).sealed()
        return self._append(record, expected)

    def correct(
        self, participant: str, baseline: Mapping[str, Any], *, reason: str, actor: str, at: datetime,
    ) -> AllocationRecord:
        """Record corrected baseline values for a randomised participant. The arm stays (intention
        to treat); minimisation counts the corrected levels for later participants."""
        original = self.allocation_of(participant)
        if original is None:
            raise NotFoundError(f"participant {participant} has not been randomised")
        if not reason.strip() or len(reason.strip()) < MIN_REASON:
            raise ValidationError(f"give the reason for the correction (at least {MIN_REASON} characters)",
                                  where="correction reason")
        if not actor.strip():
            raise ValidationError("is required", where="actor")
        levels = self.design.check_baseline(baseline)
        current = self._state.current[original.participant]
        if levels == dict(current.levels):
            raise ConflictError(f"participant {participant}'s baseline values are already these")
        when = self._check_time(at)
        record = AllocationRecord(
            seq=self._state.count + 1, study=self.design.study, participant=original.participant,
            levels=levels, stratum=current.stratum, position=current.position, arm=current.arm,
            at=when, actor=actor, prev_hash=self.head, kind="correction", corrects=original.seq,
            reason=reason.strip(),
        ).sealed()
        return self._append(record)

    def _check_time(self, at: datetime) -> datetime:
        when = utc(at)
        floor = self._log[-1].at if self._log else self.commitment.committed_at
        if when < floor:
            raise ValidationError("is earlier than the previous record or the commitment",
                                  where="allocation time")
        return when

    def _append(self, record: AllocationRecord, expected: Expected | None = None) -> AllocationRecord:
        # Only now, with nothing left that can fail, does the state change.
        self._state.apply(record, expected)
        self._log.append(record)
        return record
