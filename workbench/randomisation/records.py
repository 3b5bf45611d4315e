"""The commitment and the hash-chained allocation log, as plain records any store can persist.

The commitment is SHA-256 over canonical JSON of (algorithm, design with its secret seed, and the
full allocation list for list methods). Publishing the digest before the first allocation binds
the study to one list without revealing it; the 256-bit seed inside makes guessing impossible.

Each allocation record carries the previous record's hash; the first one carries the commitment
digest, so the log is bound to the commitment it was drawn from. A record's hash covers every other
field of the record. Records are never updated: persist them append-only, in ``seq`` order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from workbench.errors import ValidationError
from workbench.randomisation.design import Design, canonical_json
from workbench.randomisation.methods import allocation_lists

__all__ = ["KINDS", "MIN_REASON", "AllocationRecord", "Commitment", "commit", "commitment_digest", "utc"]

KINDS = ("allocation", "correction")
MIN_REASON = 10  # a reason is a sentence, not "x"


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValidationError("times must carry a time zone", where="allocation time")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return utc(moment).isoformat(timespec="microseconds")


def _parse_time(text: str, where: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(text))
    except (TypeError, ValueError):
        raise ValidationError(f"not an ISO 8601 time: {text!r}", where=where) from None


def commitment_digest(design: Design, lists: Mapping[str, list[str]] | None = None) -> str:
    """SHA-256 of the committed body; pass ``lists`` when already generated for this design."""
    if lists is None:
        lists = allocation_lists(design)
    body = {"algorithm": design.algorithm, "design": design.to_dict(), "lists": lists}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Commitment:
    """What is published before the first allocation (protocol record, DMC, statistician)."""

    study: str
    algorithm: str
    method: str
    digest: str
    committed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "algorithm": self.algorithm, "method": self.method,
                "digest": self.digest, "committed_at": _iso(self.committed_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Commitment:
        try:
            return cls(str(data["study"]), str(data["algorithm"]), str(data["method"]),
                       str(data["digest"]), _parse_time(str(data["committed_at"]), "committed_at"))
        except KeyError as exc:
            raise ValidationError(f"missing {exc.args[0]}", where="commitment") from None


def commit(design: Design, *, at: datetime) -> Commitment:
    """Compute the commitment. Do this once, before any allocation, and publish the digest."""
    return Commitment(design.study, design.algorithm, design.method, commitment_digest(design), utc(at))


@dataclass(frozen=True)
class AllocationRecord:
    """One entry of the log. ``kind`` is ``allocation`` or ``correction``.

    An allocation's ``position`` is its 1-based place in the stratum's list (``seq`` for
    minimisation); ``levels`` are the participant's values for every design factor. A correction
    (baseline values recorded wrongly) repeats the participant's arm, stratum and position, gives
    the right ``levels``, names the allocation it ``corrects`` and says why: the arm never changes
    (intention to treat), and minimisation counts the corrected levels from then on."""

    seq: int
    study: str
    participant: str
    levels: Mapping[str, str]
    stratum: str
    position: int
    arm: str
    at: datetime
    actor: str
    prev_hash: str
    hash: str = ""
    kind: str = "allocation"
    corrects: int | None = None
    reason: str | None = None

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "study": self.study, "participant": self.participant,
                "levels": dict(self.levels), "stratum": self.stratum, "position": self.position,
                "arm": self.arm, "at": _iso(self.at), "actor": self.actor, "prev_hash": self.prev_hash,
                "kind": self.kind, "corrects": self.corrects, "reason": self.reason}

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.body()).encode("utf-8")).hexdigest()

    def sealed(self) -> AllocationRecord:
        """This record with its hash filled in."""
        return replace(self, hash=self.compute_hash())

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AllocationRecord:
        where = f"allocation record {data.get('seq', '?')}"
        try:
            levels = data["levels"]
            if not isinstance(levels, Mapping):
                raise TypeError("levels must be an object")
            return cls(
                seq=int(data["seq"]), study=str(data["study"]), participant=str(data["participant"]),
                levels={str(k): str(v) for k, v in levels.items()}, stratum=str(data["stratum"]),
                position=int(data["position"]), arm=str(data["arm"]),
                at=_parse_time(str(data["at"]), where), actor=str(data["actor"]),
                prev_hash=str(data["prev_hash"]), hash=str(data.get("hash", "")),
                kind=str(data.get("kind", "allocation")),
                corrects=None if data.get("corrects") is None else int(data["corrects"]),
                reason=None if data.get("reason") is None else str(data["reason"]))
        except KeyError as exc:
            raise ValidationError(f"missing field {exc.args[0]}", where=where) from None
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"malformed ({exc})", where=where) from None

