"""Verbal fluency: words said in 60 s, typed by the examiner as they come, or just the counts.

Scoring follows the usual rules: the score is the number of correct words; a word said again
(the same word once case, accents, spaces and a plural ending are set aside) is a *repetition*;
a word outside the cue is an *intrusion* — for a letter cue, any word not starting with the
letter; for a category cue (animals…), the words the examiner marks. Words typed after the time
limit are kept for the record but not counted. Counts per 15-second quarter show how the
production slows down, when the words were typed live.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.errors import ValidationError

__all__ = ["LIMIT_MS", "MODES", "FluencyScore", "Word", "normalise", "parse_words", "score_counts", "score_words"]

LIMIT_MS = 60_000
MODES = ("category", "letter")
MAX_WORDS = 300


@dataclass(frozen=True)
class Word:
    text: str
    at_ms: int | None  # when the examiner entered it, ms since the start (None: entered afterwards)


@dataclass(frozen=True)
class FluencyScore:
    correct: int
    repetitions: int
    intrusions: int
    total: int
    quarters: tuple[int, ...] = ()  # correct words per 15 s, when timed

    def as_answers(self) -> dict[str, int]:
        out = {"vf_total": self.total, "vf_repetitions": self.repetitions, "vf_intrusions": self.intrusions,
               "vf_correct": self.correct}
        out.update({f"vf_q{i}": n for i, n in enumerate(self.quarters, start=1)})
        return out


def normalise(word: str) -> str:
    """Case, accents, spaces, hyphens and apostrophes set aside: 'Éléphant' = 'elephant'."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word[-1] in "sx" else word


def parse_words(messages: Iterable[Mapping[str, Any]]) -> list[Word]:
    words: list[Word] = []
    for n, message in enumerate(messages):
        where = f"fluency word {n + 1}"
        if n >= MAX_WORDS:
            raise ValidationError(f"more than {MAX_WORDS} words", where="fluency words")
        if not isinstance(message, Mapping) or not isinstance(message.get("text"), str):
            raise ValidationError("expected an object with the word as text", where=where)
        text = message["text"].strip()
        if not normalise(text) or len(text) > 60:
            raise ValidationError("a word of 1 to 60 letters is expected", where=where)
        at = message.get("t")
        if at is not None:
            if isinstance(at, bool) or not isinstance(at, int | float) or at < 0:
                raise ValidationError(f"expected milliseconds since the start, got {at!r}", where=f"{where}, t")
            at = int(at)
            previous = [w.at_ms for w in words if w.at_ms is not None]
            if previous and at < previous[-1]:
                raise ValidationError("time went backwards", where=f"{where}, t")
        words.append(Word(text, at))
    return words


def score_words(words: list[Word], *, mode: str, cue: str, intrusions: Iterable[int] = (),
                limit_ms: int = LIMIT_MS) -> FluencyScore:
    """Score the words; ``intrusions`` are the indexes the examiner marked as outside the cue."""
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}", where="fluency mode")
    letter = normalise(cue)[:1]
    if mode == "letter" and not letter:
        raise ValidationError("a letter cue is required", where="fluency cue")
    marked = set(intrusions)
    if any(not isinstance(i, int) or not 0 <= i < len(words) for i in marked):
        raise ValidationError("an intrusion mark points to no word", where="fluency intrusions")
    counted = [(i, w) for i, w in enumerate(words) if w.at_ms is None or w.at_ms <= limit_ms]
    seen: set[str] = set()
    correct = repetitions = intruded = 0
    quarters = [0, 0, 0, 0]
    timed = bool(counted) and all(w.at_ms is not None for _, w in counted)
    for i, word in counted:
        key = _stem(normalise(word.text))
        if i in marked or (mode == "letter" and not normalise(word.text).startswith(letter)):
            intruded += 1
        elif key in seen:
            repetitions += 1
        else:
            correct += 1
            if timed and word.at_ms is not None:
                quarters[min(word.at_ms * 4 // limit_ms, 3)] += 1
        seen.add(key)
    return FluencyScore(correct, repetitions, intruded, len(counted), tuple(quarters) if timed else ())


def score_counts(total: Any, repetitions: Any, intrusions: Any) -> FluencyScore:
    """The examiner's own counts (a paper sheet): checked to add up."""
    values = {}
    for name, value in (("total", total), ("repetitions", repetitions), ("intrusions", intrusions)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WORDS:
            raise ValidationError(f"a whole number from 0 to {MAX_WORDS} is expected, got {value!r}",
                                  where=f"fluency {name}")
        values[name] = value
    if values["repetitions"] + values["intrusions"] > values["total"]:
        raise ValidationError("repetitions and intrusions are more than the words said", where="fluency counts")
    return FluencyScore(values["total"] - values["repetitions"] - values["intrusions"], values["repetitions"],
                        values["intrusions"], values["total"])
