"""Project pseudonyms for an extract, kept between extracts while nothing could have changed them.

Translating a study's people into a project's pseudonyms is most of the gateway's own work on a
large extract, and a project asks for the same people again and again. The trusted party audits
every change it makes (an opposition filed or lifted, an identity erased, a pseudonym issued, a
domain opened or closed, a key rotated), so its audit chain tells whether anything that could
change a translation happened since one was taken. A kept translation is used only while every
entry since is one the trusted party says cannot change it (``project_translations_hold``: another
project's translation, a read of oppositions); anything else drops it. So extracts of several
projects at once do not drop each other's translations.

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
        return self._translate(tp, codes, project, actor)[1]

    def latest(self, tp: TrustedParty, project: str, studies: Sequence[str]) -> Release | None:
        """The release last made to ``project`` for ``studies``, if nothing since could change it:
        a guess to start the rows with, worth only what ``release`` then confirms."""
        with self._lock:
            latest = self._latest.get((project, tuple(studies)))
            kept = self._released.get(latest[1]) if latest is not None else None
        return self._holding(tp, self._released, latest[1], kept) if latest is not None else None

    def release(self, tp: TrustedParty, people: pa.Table, project: str, *, actor: str,
                studies: Sequence[str] = ()) -> Release:
        """The release of ``people`` (``person_id``, ``code``: the studies' people as the warehouse
        knows them) to ``project``, from memory while it holds and the people are the same (then
        the very object kept, also the one ``latest(tp, project, studies)`` gives)."""
        key = (project, _digest(people))
        self._keep(self._latest, (project, tuple(studies)), 0, key)
        with self._lock:
            kept = self._released.get(key)
        if (held := self._holding(tp, self._released, key, kept)) is not None:
            return held
        codes = sorted(set(people.column("code").to_pylist()))
        valid, translation = self._translate(tp, codes, project, actor)
        # Withheld people (opposed to reuse, or unknown) have no pseudonym and are not released.
        given = [(code, p) for code, p in zip(codes, translation.pseudonyms, strict=True) if p is not None]
        slot = pc.index_in(people.column("code"), value_set=pa.array([c for c, _p in given], pa.string()))
        index = pa.int16() if len(given) < 2**15 else pa.int32()  # what the stream carries per row
        release = Release(
            pa.table({"person_id": people.column("person_id"), "slot": slot.cast(index)}).filter(pc.is_valid(slot)),
            pa.array([p for _c, p in given], pa.string()), translation.withheld_opposed)
        self._keep(self._released, key, valid, release)
        return release

    def _translate(self, tp: TrustedParty, codes: Sequence[str], project: str, actor: str) -> tuple[int, Translation]:
        """The translation and the chain number as of which it holds."""
        key = (project, hashlib.sha256("\n".join(codes).encode()).digest())
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and self._holding(tp, self._kept, key, kept) is not None:
            with self._lock:
                return self._kept.get(key, kept)
        # Kept under the number read before asking: whatever is audited from then on, this
        # translation's own entry and any change made while it ran, is checked before it is reused.
        seq = tp.audit_seq()
        translation = tp.translate(codes, "warehouse", f"project:{project}", actor=actor,
                                   reason=f"extract for {project}")
        self._keep(self._kept, key, seq, translation)
        return seq, translation

    def _holding(self, tp: TrustedParty, kept: OrderedDict[K, tuple[int, V]], key: K,
                 entry: tuple[int, V] | None) -> V | None:
        """``entry``'s value if nothing audited since its number could change it (then kept under
        the newest number checked, so the next check starts there); ``None`` otherwise."""
        if entry is None:
            return None
        now = tp.audit_seq()
        held = now if now == entry[0] else tp.project_translations_hold(entry[0])
        if held is None:
            return None
        with self._lock:
            if kept.get(key) is entry:
                kept[key] = (held, entry[1])
                kept.move_to_end(key)
        return entry[1]

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
