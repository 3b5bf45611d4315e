"""Record linkage on registration: one person, one internal id, even when typed twice.

Exact matching works on normalised fields (accents, case, hyphens and spaces removed), so
"Lefèvre Jean-Pierre" and "LEFEVRE JEAN PIERRE" born the same day are the same person. Other near
matches (a typo in a name, day and month swapped, first and last names inverted, a birth name)
are never merged automatically: they are reported for human review, as Mainzelliste's
"tentative" band and E-PIX's review queue do. Candidates are found by blocking on the birth
date or on the names, through keyed hashes, so the database holds no clear-text blocking fields.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from workbench.trusted_party.identity import Identity

__all__ = [
    "REVIEW_THRESHOLD",
    "LinkKeys",
    "compare",
    "date_similarity",
    "forget_cached_names",
    "jaro_winkler",
    "link_keys",
    "normalise_name",
]

REVIEW_THRESHOLD = 0.85
# Letters NFKD does not decompose, which would otherwise be dropped ("Lœtitia" -> "LTITIA").
_LIGATURES = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss"})


@lru_cache(maxsize=65_536)  # names repeat a lot in a cohort; the function is pure
def normalise_name(name: str) -> str:
    """Upper-case ASCII letters only: accents, case, hyphens, apostrophes and spaces dropped."""
    spelled = name.translate(_LIGATURES)
    plain = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.upper() if "A" <= ch <= "Z")


@dataclass(frozen=True)
class LinkKeys:
    exact: str   # names + birth date + sex
    dob: str     # birth date: block for name typos
    name: str    # names: block for birth-date typos


def link_keys(key: bytes, identity: Identity) -> LinkKeys:
    last, first = normalise_name(identity.last_name), normalise_name(identity.first_name)
    dob = identity.birth_date.isoformat()

    def h(*parts: str) -> str:
        return hmac.new(key, "|".join(parts).encode("ascii"), hashlib.sha256).hexdigest()

    # The name block is order-free so inverted first and last names meet in the same block.
    return LinkKeys(exact=h("x", last, first, dob, identity.sex), dob=h("d", dob),
                    name=h("n", *sorted((last, first))))


@lru_cache(maxsize=262_144)  # the same pairs of common names come up again and again
def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity in [0, 1] (1 = identical), the usual metric for names."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    a_hit, b_hit = [False] * len(a), [False] * len(b)
    matches = 0
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not b_hit[j] and b[j] == ch:
                a_hit[i] = b_hit[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    a_seq = [ch for ch, hit in zip(a, a_hit, strict=True) if hit]
    b_seq = [ch for ch, hit in zip(b, b_hit, strict=True) if hit]
    transpositions = sum(x != y for x, y in zip(a_seq, b_seq, strict=True)) / 2
    jaro = (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def forget_cached_names() -> None:
    """Empty the memo of names (they are identities; keep them no longer than one batch)."""
    normalise_name.cache_clear()
    jaro_winkler.cache_clear()


def date_similarity(a: date, b: date) -> tuple[float, str]:
    if a == b:
        return 1.0, "same birth date"
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return 0.8, "day and month swapped"
    sa, sb = a.isoformat(), b.isoformat()
    if sum(x != y for x, y in zip(sa, sb, strict=True)) == 1:
        return 0.8, "birth dates differ by one digit"
    return 0.0, "different birth dates"


def compare(a: Identity, b: Identity) -> tuple[float, list[str]]:
    """A score in [0, 1] that ``a`` and ``b`` are the same person, with the reasons."""
    a_last = {normalise_name(n) for n in (a.last_name, a.birth_name) if n}
    b_last = {normalise_name(n) for n in (b.last_name, b.birth_name) if n}
    a_first, b_first = normalise_name(a.first_name), normalise_name(b.first_name)
    last = max(jaro_winkler(x, y) for x in a_last for y in b_last)
    first = jaro_winkler(a_first, b_first)
    inverted = min(jaro_winkler(normalise_name(a.last_name), b_first),
                   jaro_winkler(a_first, normalise_name(b.last_name)))
    reasons = []
    if inverted > max(last, first):
        last = first = inverted
        reasons.append("first and last names inverted")
    else:
        reasons.append(f"last name similarity {last:.2f}, first name similarity {first:.2f}")
    dob, why = date_similarity(a.birth_date, b.birth_date)
    reasons.append(why)
    score = 0.4 * last + 0.3 * first + 0.3 * dob
    if a.sex != b.sex and "U" not in (a.sex, b.sex):
        score *= 0.85
        reasons.append("different sex recorded")
    return round(score, 4), reasons
