"""Project pseudonyms for an extract, kept between extracts while the trusted party is unchanged.

Translating a study's people into a project's pseudonyms is most of the gateway's own work on a
large extract, and a project asks for the same people again and again. The trusted party audits
every change it makes (an opposition filed or lifted, an identity erased, a pseudonym issued, a
domain closed, a key rotated), so the sequence number of its audit chain tells whether anything
that could change a translation happened since. A kept translation is used only while that number
is the one it was taken at; any change anywhere in the trusted party drops it.

What is kept: for a few (project, people) pairs, warehouse pseudonym → project pseudonym, in the
gateway's memory only (never written, never logged), which is what every extract computes anyway;
and, under the same rule, the release built from it for the same warehouse people (``release``):
which ``person_id`` gets which project pseudonym, ready for the join. Approval, variables and the
caller are checked on every request before this is consulted.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from workbench.trusted_party import Translation, TrustedParty

__all__ = ["ProjectPseudonyms", "Release"]

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Release:
    """Whom an extract may speak of, and as whom: ``people`` (``person_id``, ``slot``) lists only
    those with a project pseudonym, ``pseudonyms[slot]``; ``withheld_opposed`` counts the others
    left out for an opposition."""

    people: pa.Table
    pseudonyms: pa.Array
    withheld_opposed: int


def _digest(people: pa.Table) -> bytes:
    """The exact (person_id, code) rows, in order: the same digest means the same people."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, people.schema) as writer:
        writer.write_table(people.combine_chunks())
    return hashlib.sha256(sink.getvalue()).digest()


class ProjectPseudonyms:
    """Warehouse → project translations of the last ``size`` (project, people) asked for."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, bytes], tuple[int, Translation]] = OrderedDict()
        self._released: OrderedDict[tuple[str, bytes], tuple[int, Release]] = OrderedDict()
        self._latest: OrderedDict[tuple[str, tuple[str, ...]], tuple[int, tuple[str, bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def translate(self, tp: TrustedParty, codes: Sequence[str], project: str, *, actor: str) -> Translation:
        """``tp.translate(codes, "warehouse", "project:<project>")``, from memory when still valid."""
        return self._translate(tp, codes, project, actor, tp.audit_seq())[1]

    def latest(self, tp: TrustedParty, project: str, studies: Sequence[str]) -> Release | None:
        """The release last made to ``project`` for ``studies``, if the trusted party is unchanged
        since: a guess to start the rows with, worth only what ``release`` then confirms."""
        seq = tp.audit_seq()
        with self._lock:
            latest = self._latest.get((project, tuple(studies)))
            kept = self._released.get(latest[1]) if latest is not None else None
            return kept[1] if kept is not None and kept[0] == seq else None

    def release(self, tp: TrustedParty, people: pa.Table, project: str, *, actor: str,
                studies: Sequence[str] = ()) -> Release:
        """The release of ``people`` (``person_id``, ``code``: the studies' people as the warehouse
        knows them) to ``project``, from memory while the trusted party and the people are the same
        (then the very object kept, also the one ``latest(tp, project, studies)`` gives)."""
        key = (project, _digest(people))
        self._keep(self._latest, (project, tuple(studies)), 0, key)
        seq = tp.audit_seq()
        with self._lock:
            kept = self._released.get(key)
            if kept is not None and kept[0] == seq:
                self._released.move_to_end(key)
                return kept[1]
        codes = sorted(set(people.column("code").to_pylist()))
        valid, translation = self._translate(tp, codes, project, actor, seq)
        # Withheld people (opposed to reuse, or unknown) have no pseudonym and are not released.
        given = [(code, p) for code, p in zip(codes, translation.pseudonyms, strict=True) if p is not None]
        slot = pc.index_in(people.column("code"), value_set=pa.array([c for c, _p in given], pa.string()))
        index = pa.int16() if len(given) < 2**15 else pa.int32()  # what the stream carries per row
        release = Release(
            pa.table({"person_id": people.column("person_id"), "slot": slot.cast(index)}).filter(pc.is_valid(slot)),
            pa.array([p for _c, p in given], pa.string()), translation.withheld_opposed)
        self._keep(self._released, key, valid, release)
        return release

    def _translate(self, tp: TrustedParty, codes: Sequence[str], project: str, actor: str,
                   seq: int) -> tuple[int, Translation]:
        """The translation and the chain number under which it stays valid; ``seq`` was read before."""
        key = (project, hashlib.sha256("\n".join(codes).encode()).digest())
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == seq:
                self._kept.move_to_end(key)
                return kept
        translation = tp.translate(codes, "warehouse", f"project:{project}", actor=actor,
                                   reason=f"extract for {project}")
        # Kept under the number the chain shows if this translation's own audit entry is the only
        # one since ``seq``: any other change, even one made while it ran, leaves it unused.
        self._keep(self._kept, key, seq + 1, translation)
        return seq + 1, translation

    def _keep(self, kept: OrderedDict[K, tuple[int, V]], key: K, seq: int, value: V) -> None:
        with self._lock:
            kept[key] = (seq, value)
            kept.move_to_end(key)
            while len(kept) > self.size:
                kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._released.clear()
            self._latest.clear()
