"""Re-attach codings to a new version of a transcript by their quoted text.

Source texts are immutable once coding starts; a corrected transcript is a new version. Each
coding keeps its quote, so it can be found again: at the same offsets if the text there did not
change, else at the occurrence of the quote nearest to where a line diff maps the old position,
else with whitespace differences tolerated. Whatever cannot be found is reported, never guessed.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from workbench.qualitative.coding import CodedSegment

__all__ = ["ReattachReport", "reattach"]


@dataclass
class ReattachReport:
    """Codings placed on the new text, how each was placed, and those left behind with a reason."""

    attached: list[CodedSegment] = field(default_factory=list)
    how: list[str] = field(default_factory=list)
    unattached: list[tuple[CodedSegment, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unattached


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
    return starts


def _offset_mapper(old: str, new: str):  # type: ignore[no-untyped-def]
    """Map an old offset to its likely new offset through a line-level diff (fast, stable)."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    old_starts, new_starts = _line_starts(old), _line_starts(new)
    blocks = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()

    def mapped(offset: int) -> int:
        line = bisect.bisect_right(old_starts, offset) - 1
        for tag, i1, i2, j1, j2 in blocks:
            if i1 <= line < i2 or (i1 == i2 == line):
                if tag == "equal":
                    j = j1 + (line - i1)
                    column = offset - old_starts[line]
                    return (new_starts[j] if j < len(new_starts) else len(new)) + column
                # Changed block: keep the relative position inside it.
                old_begin = old_starts[i1] if i1 < len(old_starts) else len(old)
                new_begin = new_starts[j1] if j1 < len(new_starts) else len(new)
                new_end = new_starts[j2] if j2 < len(new_starts) else len(new)
                return min(new_begin + (offset - old_begin), max(new_end - 1, new_begin))
        return round(offset * len(new) / max(len(old), 1))

    return mapped


def reattach(segments: Iterable[CodedSegment], old_text: str, new_text: str,
             new_source: str | None = None) -> ReattachReport:
    """Move codings from ``old_text`` to ``new_text`` (optionally renaming their source)."""
    report = ReattachReport()
    mapped = _offset_mapper(old_text, new_text)
    for seg in segments:
        quote = old_text[seg.start:seg.end]
        if seg.end > len(old_text) or (seg.quote and seg.quote != quote):
            report.unattached.append((seg, "does not match the old text at its offsets"))
            continue
        target = replace(seg, quote=quote, source=new_source or seg.source)
        expected = mapped(seg.start)
        hits = [m.start() for m in re.finditer(re.escape(quote), new_text)]
        if hits:
            start = min(hits, key=lambda h: (abs(h - expected), h))
            report.attached.append(replace(target, start=start, end=start + len(quote)))
            if start == seg.start:
                report.how.append("unchanged")
            else:
                report.how.append("moved" if len(hits) == 1 else f"moved (nearest of {len(hits)})")
            continue
        words = quote.split()
        loose = re.compile(r"\s+".join(re.escape(w) for w in words)) if words else None
        found = list(loose.finditer(new_text)) if loose else []
        if found:
            best = min(found, key=lambda m: (abs(m.start() - expected), m.start()))
            report.attached.append(replace(target, start=best.start(), end=best.end(),
                                           quote=best.group(0)))
            report.how.append("moved (whitespace changed)")
            continue
        report.unattached.append((seg, "quoted text not found in the new version"))
    return report
