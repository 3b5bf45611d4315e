"""Pseudonym codes: HMAC-SHA-256 of a person's internal id, shown as 12 + 1 readable characters.

60 bits of the HMAC are written in Crockford's base 32 (no I, L, O, U: nothing to misread), then a
Luhn mod 32 check character, which catches every single mistyped character and most swaps of
two neighbours. 60 bits keep accidental collisions negligible for tens of millions of people per
domain (and a collision is refused by a unique constraint, never merged). Work is vectorised
with numpy so 100,000 pseudonyms take a fraction of a second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from workbench.errors import ValidationError

__all__ = [
    "ALPHABET",
    "LENGTH",
    "canonical",
    "compute_pseudonyms",     "format_pseudonym",
    "is_valid",
    "parse_pseudonym",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DATA_CHARS = 12
LENGTH = DATA_CHARS + 1
_SYMBOLS = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
_SHIFTS = np.array([5 * (DATA_CHARS - 1 - i) for i in range(DATA_CHARS)], dtype=np.uint64)
# Luhn mod N: from the rightmost data character leftwards, factors 2, 1, 2, 1, ...
_FACTORS = np.array([2 if (DATA_CHARS - 1 - i) % 2 == 0 else 1 for i in range(DATA_CHARS)])


def _check_values(values: np.ndarray) -> np.ndarray:
    """Luhn mod 32 check symbol for each row of data symbol values (n × 12)."""
    added = values * _FACTORS
    added = added // 32 + added % 32
    return (32 - added.sum(axis=1) % 32) % 32


def _hmac_heads(key: bytes, uids: Sequence[str]) -> list[bytes]:
    """First 8 bytes of HMAC-SHA-256 (RFC 2104) per id, keying the two SHA-256 states once:
    about 2.5 times faster in bulk than ``hmac.digest`` (tests compare it with ``hmac``)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    heads = []
    for uid in uids:
        i = inner.copy()
        i.update(bytes.fromhex(uid))
        o = outer.copy()
        o.update(i.digest())
        heads.append(o.digest()[:8])
    return heads


def compute_pseudonyms(key: bytes, uids: Sequence[str]) -> list[str]:
    """The pseudonym of each internal id (hex) in the domain whose key is ``key``."""
    if not uids:
        return []
    head = b"".join(_hmac_heads(key, uids))
    bits = np.frombuffer(head, dtype=">u8").astype(np.uint64) >> np.uint64(4)
    values = ((bits[:, None] >> _SHIFTS) & np.uint64(31)).astype(np.int64)
    symbols = np.empty((len(uids), LENGTH), dtype=np.uint8)
    symbols[:, :DATA_CHARS] = _SYMBOLS[values]
    symbols[:, DATA_CHARS] = _SYMBOLS[_check_values(values)]
    text = symbols.tobytes().decode("ascii")
    return [text[i:i + LENGTH] for i in range(0, len(text), LENGTH)]


def canonical(text: str) -> str:
    """Cheap normalisation of a typed pseudonym (case, dashes, O/I/L), without checking it."""
    return text.strip().upper().translate(_ALIASES)


def is_valid(code: str) -> bool:
    """True if ``code`` (canonical form) has the right length, alphabet and check character."""
    if len(code) != LENGTH or any(c not in _VALUE for c in code):
        return False
    values = np.array([[_VALUE[c] for c in code[:DATA_CHARS]]])
    return ALPHABET[int(_check_values(values)[0])] == code[-1]


def parse_pseudonym(text: str, *, where: str = "pseudonym") -> str:
    """Canonical form of a typed pseudonym (any case, dashes, O/I/L for 0/1), or a clear error."""
    code = canonical(text)
    if len(code) != LENGTH or any(c not in _VALUE for c in code):
        raise ValidationError(
            f"not a pseudonym: expected {LENGTH} characters from {ALPHABET}", where=where
        )
    if not is_valid(code):
        raise ValidationError("the check character does not match: a character was mistyped",
                              where=where)
    return code


def format_pseudonym(code: str) -> str:
    """Grouped for reading aloud or on paper: ``ABCD-EFGH-JKMN-P``."""
    return f"{code[0:4]}-{code[4:8]}-{code[8:12]}-{code[12:]}"
