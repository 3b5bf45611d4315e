"""Project pseudonyms for an extract, kept between extracts while the trusted party is unchanged.

Translating a study's people into a project's pseudonyms is most of the gateway's own work on a
large extract, and a project asks for the same people again and again. The trusted party audits
every change it makes (an opposition filed or lifted, an identity erased, a pseudonym issued, a
domain closed, a key rotated), so the sequence number of its audit chain tells whether anything
that could change a translation happened since. A kept translation is used only while that number
is the one it was taken at; any change anywhere in the trusted party drops it.

What is kept: for a few (project, people) pairs, warehouse pseudonym → project pseudonym, in the
gateway's memory only (never written, never logged), which is what every extract computes anyway.
Approval, variables and the caller are checked on every request before this is consulted.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

from workbench.trusted_party import Translation, TrustedParty

__all__ = ["ProjectPseudonyms"]


class ProjectPseudonyms:
    """Warehouse → project translations of the last ``size`` (project, people) asked for."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, bytes], tuple[int, Translation]] = OrderedDict()
        self._lock = threading.Lock()

    def translate(self, tp: TrustedParty, codes: Sequence[str], project: str, *, actor: str) -> Translation:
        """``tp.translate(codes, "warehouse", "project:<project>")``, from memory when still valid."""
        key = (project, hashlib.sha256("\n".join(codes).encode()).digest())
        seq = tp.audit_seq()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == seq:
                self._kept.move_to_end(key)
                return kept[1]
        translation = tp.translate(codes, "warehouse", f"project:{project}", actor=actor,
                                   reason=f"extract for {project}")
        # Kept under the number the chain shows if this translation's own audit entry is the only
        # one since ``seq``: any other change, even one made while it ran, leaves it unused.
        with self._lock:
            self._kept[key] = (seq + 1, translation)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return translation

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
