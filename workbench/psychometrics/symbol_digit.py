"""Symbol–digit substitution task: our own key, drawn from a seed, scored from timed answers.

The published Symbol Digit Modalities Test is copyrighted, so its symbols, key and item order
are not reproduced: nine simple geometric glyphs are paired with the digits 1–9 by a seeded
permutation, and the items are a seeded sequence of those glyphs (no glyph twice in a row). The
same seed always gives the same form, so a session can be re-scored and a parallel form is just
another seed. The browser measures when each answer is given, in milliseconds since the start;
the score is the number of correct answers given within the time limit (90 s by default).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.errors import ValidationError

__all__ = ["GLYPHS", "LIMIT_MS", "SymbolDigitForm", "SymbolDigitScore", "Trial", "make_form", "parse_trials",
           "score_trials"]

# Geometric shapes from Unicode's blocks, chosen to be told apart at a glance on a phone.
GLYPHS = ("▲", "●", "■", "◆", "★", "✚", "◐", "⬟", "✖")
LIMIT_MS = 90_000
ITEMS = 120  # more than anyone completes in 90 s
MAX_TRIALS = 400


@dataclass(frozen=True)
class SymbolDigitForm:
    """One form of the task: ``key[d - 1]`` is the glyph of digit d; ``items`` are glyph indexes."""

    seed: int
    key: tuple[str, ...]
    items: tuple[int, ...]

    def digit_of(self, glyph_index: int) -> int:
        return self.key.index(GLYPHS[glyph_index]) + 1


@dataclass(frozen=True)
class Trial:
    position: int  # index into the form's items
    answer: int  # the digit given, 1–9
    at_ms: int  # when it was given, milliseconds since the start


@dataclass(frozen=True)
class SymbolDigitScore:
    correct: int
    errors: int
    attempted: int
    median_ms: int | None  # median time between successive answers within the limit
    limit_ms: int

    def as_answers(self) -> dict[str, int]:
        out = {"sd_correct": self.correct, "sd_errors": self.errors, "sd_attempted": self.attempted,
               "sd_limit_s": self.limit_ms // 1000}
        if self.median_ms is not None:
            out["sd_median_ms"] = self.median_ms
        return out


def make_form(seed: int, items: int = ITEMS) -> SymbolDigitForm:
    """The key and the item sequence for ``seed`` (deterministic, independent of Python's hash)."""
    if not 0 <= seed < 2**31:
        raise ValidationError("the seed must be an integer from 0 to 2^31 - 1", where="symbol-digit seed")
    rng = random.Random(seed)
    key = list(GLYPHS)
    rng.shuffle(key)
    sequence: list[int] = []
    for _ in range(items):
        choices = [i for i in range(len(GLYPHS)) if not sequence or i != sequence[-1]]
        sequence.append(rng.choice(choices))
    return SymbolDigitForm(seed, tuple(key), tuple(sequence))


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValidationError(f"expected a whole number, got {value!r}", where=where)
    return int(value)


def parse_trials(form: SymbolDigitForm, messages: Iterable[Mapping[str, Any]]) -> list[Trial]:
    """The browser's answer messages checked: items in order, one answer each, time never going back."""
    trials: list[Trial] = []
    for n, message in enumerate(messages):
        if n >= MAX_TRIALS:
            raise ValidationError(f"more than {MAX_TRIALS} answers", where="symbol-digit answers")
        where = f"symbol-digit answer {n + 1}"
        if not isinstance(message, Mapping):
            raise ValidationError("expected an object with position, answer and t", where=where)
        position = _integer(message.get("position"), f"{where}, position")
        answer = _integer(message.get("answer"), f"{where}, answer")
        at_ms = _integer(message.get("t"), f"{where}, t")
        if position != n or position >= len(form.items):
            raise ValidationError(f"item {position} out of order (expected {n})", where=f"{where}, position")
        if not 1 <= answer <= 9:
            raise ValidationError(f"the answer must be a digit 1–9, got {answer}", where=f"{where}, answer")
        if at_ms < 0 or (trials and at_ms < trials[-1].at_ms):
            raise ValidationError("time went backwards", where=f"{where}, t")
        trials.append(Trial(position, answer, at_ms))
    return trials


def score_trials(form: SymbolDigitForm, trials: list[Trial], limit_ms: int = LIMIT_MS) -> SymbolDigitScore:
    """Correct answers within the limit; later answers do not count (the examiner stops at 90 s)."""
    timed = [t for t in trials if t.at_ms <= limit_ms]
    correct = sum(1 for t in timed if t.answer == form.digit_of(form.items[t.position]))
    gaps = [b.at_ms - a.at_ms for a, b in zip([Trial(-1, 0, 0), *timed], timed, strict=False)]
    median = round(statistics.median(gaps)) if gaps else None
    return SymbolDigitScore(correct, len(timed) - correct, len(timed), median, limit_ms)
