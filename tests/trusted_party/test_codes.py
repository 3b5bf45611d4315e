"""Pseudonym codes: the vectorised encoder against a plain reference, and the check character."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import ValidationError
from workbench.trusted_party.codes import (
    ALPHABET,
    LENGTH,
    compute_pseudonyms,
    format_pseudonym,
    is_valid,
    parse_pseudonym,
)


def reference(key: bytes, uid: str) -> str:
    """Straight from the definition: 60 bits of HMAC-SHA-256, base 32, Luhn mod 32."""
    bits = int.from_bytes(hmac.new(key, bytes.fromhex(uid), hashlib.sha256).digest()[:8]) >> 4
    values = [(bits >> (5 * (11 - i))) & 31 for i in range(12)]
    total = 0
    for pos, v in enumerate(reversed(values)):
        add = v * (2 if pos % 2 == 0 else 1)
        total += add // 32 + add % 32
    return "".join(ALPHABET[v] for v in values) + ALPHABET[(32 - total % 32) % 32]


def test_vectorised_codes_match_the_reference() -> None:
    key = secrets.token_bytes(32)
    uids = [secrets.token_hex(16) for _ in range(500)]
    assert compute_pseudonyms(key, uids) == [reference(key, u) for u in uids]
    assert compute_pseudonyms(key, []) == []
    long_key = secrets.token_bytes(100)  # longer than SHA-256's block: hashed first (RFC 2104)
    assert compute_pseudonyms(long_key, uids[:20]) == [reference(long_key, u) for u in uids[:20]]


def test_same_person_differs_across_keys_and_is_stable_within_one() -> None:
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    uids = [secrets.token_hex(16) for _ in range(2000)]
    a, b = compute_pseudonyms(k1, uids), compute_pseudonyms(k2, uids)
    assert a == compute_pseudonyms(k1, uids)
    assert not set(a) & set(b)
    assert len(set(a)) == len(uids)


@settings(max_examples=200, deadline=None)
@given(uid=st.binary(min_size=16, max_size=16), pos=st.integers(0, LENGTH - 1),
       shift=st.integers(1, 31))
def test_every_single_substitution_is_caught(uid: bytes, pos: int, shift: int) -> None:
    code = compute_pseudonyms(b"k" * 32, [uid.hex()])[0]
    assert is_valid(code)
    wrong = ALPHABET[(ALPHABET.index(code[pos]) + shift) % 32]
    typo = code[:pos] + wrong + code[pos + 1:]
    assert not is_valid(typo)
    with pytest.raises(ValidationError, match="check character"):
        parse_pseudonym(typo)


def test_typed_forms_are_accepted_and_garbage_refused() -> None:
    code = compute_pseudonyms(b"k" * 32, ["00" * 16])[0]
    shown = format_pseudonym(code)
    assert shown.replace("-", "") == code and shown.count("-") == 3
    assert parse_pseudonym(f"  {shown.lower()} ") == code
    typed = code.replace("0", "O").replace("1", "l")
    assert parse_pseudonym(typed) == code
    for bad in ("", "ABC", "U" * LENGTH, code + "0"):
        with pytest.raises(ValidationError, match="pseudonym"):
            parse_pseudonym(bad)
