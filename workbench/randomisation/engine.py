"""Replayable allocation state, shared by the live randomiser and the verifier.

Both walk the log through the same ``AllocationState`` so there is one definition of "the arm the
committed design gives the next participant"; the verifier cannot drift from the allocator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workbench.errors import ConflictError
from workbench.randomisation.design import Design
from workbench.randomisation.methods import (
    Tally,
    allocation_lists,
    choose_minimisation,
    minimisation_probabilities,
    minimisation_uniform,
)
from workbench.randomisation.records import AllocationRecord

__all__ = ["AllocationState", "Expected"]


@dataclass(frozen=True)
class Expected:
    stratum: str
    position: int
    arm: str
    column: int  # minimisation column (the virtual arm when expanded; else the arm index)


class AllocationState:
    """What has been allocated so far, enough to compute the next allocation."""

    def __init__(self, design: Design, lists: dict[str, list[str]] | None = None) -> None:
        self.design = design
        self.lists = lists if lists is not None else allocation_lists(design)
        self.used: dict[str, int] = {}
        self.tally = Tally(len(design.columns))
        self.participants: dict[str, int] = {}  # pseudonym → seq of their allocation
        self.current: dict[str, AllocationRecord] = {}  # pseudonym → allocation as last corrected
        self.column_of: dict[str, int] = {}
        self.count = 0  # records so far (allocations and corrections): the next seq is count + 1

    def expected(self, levels: Mapping[str, str]) -> Expected:
        """The allocation the design gives a participant with these levels, as the next one."""
        d = self.design
        seq = self.count + 1
        if d.method == "minimisation":
            _, probs = minimisation_probabilities(d, self.tally, levels)
            column = choose_minimisation(probs, minimisation_uniform(d, seq))
            return Expected("all", seq, d.arm_names[d.columns[column]], column)
        assert self.lists is not None
        stratum = d.stratum_of(levels) if d.method == "blocks" else "all"
        index = self.used.get(stratum, 0)
        committed = self.lists[stratum]
        if index >= len(committed):
            raise ConflictError(
                f"the allocation list for stratum {stratum} is exhausted ({len(committed)} places); "
                "no participant can be randomised in it until the trial statistician commits a design "
                "with a longer list (lists are prefix-stable, so allocations so far stay valid)")
        arm = committed[index]
        return Expected(stratum, index + 1, arm, d.arm_names.index(arm))

    def apply(self, record: AllocationRecord, expected: Expected | None = None) -> None:
        """Take a checked record into the state; allocations pass the ``expected`` they matched."""
        if record.kind == "correction":
            column = self.column_of[record.participant]
            self.tally.move(self.current[record.participant].levels, record.levels, column)
        else:
            assert expected is not None and expected.arm == record.arm
            self.used[record.stratum] = self.used.get(record.stratum, 0) + 1
            self.tally.add(record.levels, expected.column)
            self.column_of[record.participant] = expected.column
            self.participants[record.participant] = record.seq
        self.current[record.participant] = record
        self.count += 1
