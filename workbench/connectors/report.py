"""The run report every connector returns and the command line prints.

Counts only, plus one line per rejected record naming where it was and why — never a value
that could identify a patient (names, identifiers and answers are not echoed).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Rejection", "RunReport"]


@dataclass(frozen=True)
class Rejection:
    where: str      # "bundle.json entry 3 (Observation/obs-2)", "conditions.csv row 14"
    reason: str     # "unmapped code http://snomed.info/sct|1234"


@dataclass
class RunReport:
    connector: str
    source: str
    run_id: str = ""
    read: Counter[str] = field(default_factory=Counter)        # per resource type / source table
    mapped: Counter[str] = field(default_factory=Counter)      # per warehouse table
    inserted: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    persons_new: int = 0
    withheld_opposed: int = 0
    samples_new: int = 0
    notes: list[str] = field(default_factory=list)            # row kept, but something changed
    load_id: str | None = None
    seconds: float = 0.0

    def reject(self, where: str, reason: str) -> None:
        self.rejected.append(Rejection(where, reason))

    @property
    def rows_read(self) -> int:
        return sum(self.read.values())

    @property
    def rows_mapped(self) -> int:
        return sum(self.mapped.values())

    def reasons(self) -> Counter[str]:
        """Rejections grouped by reason (the code, not the row, makes the group)."""
        return Counter(r.reason for r in self.rejected)

    def to_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "source": self.source, "run_id": self.run_id,
                "read": dict(self.read), "mapped": dict(self.mapped),
                "inserted": dict(self.inserted), "updated": dict(self.updated),
                "unchanged": self.unchanged, "persons_new": self.persons_new,
                "withheld_opposed": self.withheld_opposed, "samples_new": self.samples_new,
                "rejected": [{"where": r.where, "reason": r.reason} for r in self.rejected],
                "notes": list(self.notes),
                "load_id": self.load_id, "seconds": round(self.seconds, 3)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    def __str__(self) -> str:
        def counts(c: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if v) or "none"

        lines = [
            f"{self.connector} import from {self.source} (run {self.run_id}, {self.seconds:.2f} s)",
            f"  read     {self.rows_read}: {counts(self.read)}",
            f"  mapped   {self.rows_mapped}: {counts(self.mapped)}",
            f"  inserted {sum(self.inserted.values())}: {counts(self.inserted)}",
            f"  updated  {sum(self.updated.values())}: {counts(self.updated)}",
            f"  unchanged (already imported) {self.unchanged}",
            f"  new persons {self.persons_new}; withheld (opposed to reuse) {self.withheld_opposed}",
        ]
        if self.samples_new:
            lines.append(f"  new wearable samples {self.samples_new}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        lines.append(f"  rejected {len(self.rejected)}")
        for reason, n in self.reasons().most_common():
            lines.append(f"    {n} × {reason}")
        for r in self.rejected[:50]:
            lines.append(f"    - {r.where}: {r.reason}")
        if len(self.rejected) > 50:
            lines.append(f"    … {len(self.rejected) - 50} more (see the JSON report)")
        return "\n".join(lines)
