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

from workbench.errors import ConflictError, ValidationError
from workbench.randomisation.design import Design
from workbench.randomisation.engine import AllocationState
from workbench.randomisation.records import AllocationRecord, Commitment, utc
from workbench.randomisation.verify import verify

__all__ = ["Randomiser"]

_MAX_PSEUDONYM = 200


class Randomiser:
    """One study's randomisation state, rebuilt from its committed design and log."""

    def __init__(
        self, design: Design, commitment: Commitment, log: Sequence[AllocationRecord] = (),
        *, head: str | None = None,
    ) -> None:
        report = verify(design, commitment, log, head=head)
        if not report.ok:
            raise ConflictError(f"{report}; randomisation is suspended until this is resolved")
        self.design = design
        self.commitment = commitment
        self._state = AllocationState(design)
        for record in log:
            self._state.apply(record)
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
        when = utc(at)
        floor = self._log[-1].at if self._log else self.commitment.committed_at
        if when < floor:
            raise ValidationError("is earlier than the previous allocation or the commitment",
                                  where="allocation time")
        expected = self._state.expected(levels)  # may refuse: list exhausted
        record = AllocationRecord(
            seq=self._state.count + 1, study=self.design.study, participant=participant,
            levels=levels, stratum=expected.stratum, position=expected.position, arm=expected.arm,
            at=when, actor=actor, prev_hash=self.head,
        ).sealed()
        # Only now, with nothing left that can fail, does the state change.
        self._state.apply(record)
        self._log.append(record)
        return record
