"""Deterministic random draws derived from the secret seed with HMAC-SHA-256.

Each draw is ``HMAC-SHA-256(key=seed bytes, message=canonical JSON label)`` read as a 256-bit
big-endian integer. Labels name what the draw is for (``["blocks", stratum, block, "swap", i]``),
so every draw is independent of how many others were made before it: a list can be regenerated
stratum by stratum, a minimisation replayed from any record, and an auditor can re-implement the
scheme in any language from this paragraph alone. We do not use numpy's Generator here because
its stream is not guaranteed to stay the same across numpy versions; a verification may happen
years after the allocation.

Integers in ``[0, bound)`` are taken modulo ``bound``; for the small bounds used here the bias is
below 2⁻²⁴⁰, far beneath anything measurable.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from fractions import Fraction

from workbench.randomisation.design import canonical_json

__all__ = ["UNIT_BITS", "draw_int", "draw_int_message", "draw_unit", "label_prefix", "seed_key"]

UNIT_BITS = 53  # a unit draw has the resolution of a double, but is an exact fraction


def seed_key(seed_hex: str) -> bytes:
    return bytes.fromhex(seed_hex)


def _digest_int(key: bytes, label: Sequence[object]) -> int:
    message = canonical_json(list(label)).encode("utf-8")
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest(), "big")


def draw_int(key: bytes, label: Sequence[object], bound: int) -> int:
    """A uniform integer in ``[0, bound)`` for this label."""
    if bound < 1:
        raise ValueError("bound must be ≥ 1")
    return _digest_int(key, label) % bound


def label_prefix(label: Sequence[object]) -> str:
    """Canonical JSON of ``label`` without its closing bracket, ready for one more integer:
    ``label_prefix(["simple"]) + "7]"`` is exactly the canonical JSON of ``["simple", 7]``.
    Hot loops use it to avoid re-serialising the constant part of every label."""
    return canonical_json(list(label))[:-1] + ("," if label else "")


def draw_int_message(key: bytes, message: str, bound: int) -> int:
    """``draw_int`` for a label already serialised as canonical JSON."""
    return int.from_bytes(hmac.digest(key, message.encode("utf-8"), "sha256"), "big") % bound


def draw_unit(key: bytes, label: Sequence[object]) -> Fraction:
    """A uniform number in ``[0, 1)`` as an exact fraction with a 2⁵³ denominator."""
    return Fraction(_digest_int(key, label) >> (256 - UNIT_BITS), 1 << UNIT_BITS)
