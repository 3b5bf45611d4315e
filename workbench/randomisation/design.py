"""The randomisation design: every parameter that decides an allocation, in one committed object.

A design is fixed before the first allocation and serialised as canonical JSON, so its SHA-256
can be published (see ``commitment``). Anything that could change who gets which arm lives here,
including the secret seed; nothing else is read when allocating or verifying.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from workbench.errors import ValidationError

__all__ = [
    "ALGORITHM",
    "METHODS",
    "Arm",
    "Design",
    "Factor",
    "canonical_json",
    "new_seed",
]

# Bumped whenever a change to the code would change any allocation for the same design.
ALGORITHM = "weshare-randomisation/1"
METHODS = ("simple", "blocks", "minimisation")
IMBALANCE = ("range", "variance")
UNEQUAL = ("adjusted", "expanded")
_HEX = re.compile(r"^[0-9a-f]+$")
_MIN_SEED_HEX = 32  # 128 bits: a published commitment must not be brute-forceable back to the list


def canonical_json(value: Any) -> str:
    """One byte-exact JSON text per value: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def new_seed() -> str:
    """A fresh 256-bit secret seed, hex-encoded, from the operating system's CSPRNG."""
    return secrets.token_hex(32)


@dataclass(frozen=True)
class Arm:
    name: str
    ratio: int = 1


@dataclass(frozen=True)
class Factor:
    """A baseline variable (a site is a factor like any other) with its allowed levels."""

    name: str
    levels: tuple[str, ...]
    weight: float = 1.0  # minimisation weight; ignored by the list methods


@dataclass(frozen=True)
class Design:
    """Parameters of one study's randomisation. Validated on construction."""

    study: str
    method: str
    arms: tuple[Arm, ...]
    seed: str
    factors: tuple[Factor, ...] = ()
    stratify_by: tuple[str, ...] | None = None  # list methods; None = every factor
    block_multiples: tuple[int, ...] = (1, 2)  # block size = multiple × ratio sum, drawn per block
    list_length: int = 0  # positions per stratum (blocks) or overall (simple)
    p_preferred: float = 0.8  # minimisation: probability of the arm that minimises imbalance
    imbalance: str = "range"  # minimisation: "range" or "variance" of ratio-adjusted counts
    total_weight: float = 0.0  # minimisation: weight of the overall arm totals
    unequal_ratio: str = "adjusted"  # minimisation: "adjusted" counts or "expanded" virtual arms
    arm_visible_to: tuple[str, ...] = ("data_steward",)
    unblind_roles: tuple[str, ...] = ("study_manager", "administrator")
    algorithm: str = field(default=ALGORITHM)

    def __post_init__(self) -> None:
        # Normalise types so a design built in Python and the same design read back from JSON
        # serialise identically (an int weight 2 and a float 2.0 would hash differently).
        fix = object.__setattr__
        try:
            fix(self, "arms", tuple(Arm(str(a.name), a.ratio) for a in self.arms))
            fix(self, "factors", tuple(Factor(str(f.name), tuple(str(v) for v in f.levels), float(f.weight))
                                       for f in self.factors))
            for name in ("block_multiples", "arm_visible_to", "unblind_roles"):
                fix(self, name, tuple(getattr(self, name)))
            if self.stratify_by is not None:
                fix(self, "stratify_by", tuple(self.stratify_by))
            fix(self, "p_preferred", float(self.p_preferred))
            fix(self, "total_weight", float(self.total_weight))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValidationError(f"malformed design ({exc})", where="design") from None
        _validate(self)

    # -- derived views -----------------------------------------------------------------------
    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    @property
    def ratio_sum(self) -> int:
        return sum(a.ratio for a in self.arms)

    @property
    def columns(self) -> tuple[int, ...]:
        """Arm index of each column minimisation balances over. ``expanded`` splits an arm of
        ratio r into r virtual arms of ratio 1 (so the allocation ratio is kept exactly, by
        symmetry); otherwise one column per arm."""
        if self.method == "minimisation" and self.unequal_ratio == "expanded":
            return tuple(i for i, a in enumerate(self.arms) for _ in range(a.ratio))
        return tuple(range(len(self.arms)))

    @property
    def strata_factors(self) -> tuple[str, ...]:
        if self.method == "minimisation":
            return ()
        if self.stratify_by is None:
            return tuple(f.name for f in self.factors)
        return self.stratify_by

    def factor(self, name: str) -> Factor:
        for f in self.factors:
            if f.name == name:
                return f
        raise ValidationError("is not a factor of this design", where=f"factor {name}")

    def strata(self) -> list[str]:
        """Every stratum key, in a fixed order (levels in their declared order)."""
        keys = [""]
        for name in self.strata_factors:
            levels = self.factor(name).levels
            keys = [f"{k}|{name}={lv}" if k else f"{name}={lv}" for k in keys for lv in levels]
        return [k or "all" for k in keys]

    def stratum_of(self, baseline: Mapping[str, str]) -> str:
        parts = [f"{name}={baseline[name]}" for name in self.strata_factors]
        return "|".join(parts) or "all"

    def check_baseline(self, baseline: Mapping[str, Any]) -> dict[str, str]:
        """Return the participant's level for every factor, or say which one is missing or unknown."""
        levels: dict[str, str] = {}
        for f in self.factors:
            value = baseline.get(f.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise ValidationError(
                    "is missing; every stratification/minimisation variable must be recorded "
                    "before randomisation", where=f"factor {f.name}")
            value = str(value)
            if value not in f.levels:
                raise ValidationError(
                    f"value {value!r} is not an allowed level (allowed: {', '.join(f.levels)})",
                    where=f"factor {f.name}")
            levels[f.name] = value
        return levels

    def weights(self) -> tuple[Fraction, ...]:
        """Exact factor weights, so tie-breaking never depends on float rounding."""
        return tuple(Fraction(str(f.weight)) for f in self.factors)

    # -- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "study": self.study,
            "method": self.method,
            "arms": [{"name": a.name, "ratio": a.ratio} for a in self.arms],
            "seed": self.seed,
            "factors": [{"name": f.name, "levels": list(f.levels), "weight": f.weight}
                        for f in self.factors],
            "stratify_by": None if self.stratify_by is None else list(self.stratify_by),
            "block_multiples": list(self.block_multiples),
            "list_length": self.list_length,
            "p_preferred": self.p_preferred,
            "imbalance": self.imbalance,
            "total_weight": self.total_weight,
            "unequal_ratio": self.unequal_ratio,
            "arm_visible_to": list(self.arm_visible_to),
            "unblind_roles": list(self.unblind_roles),
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Design:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(f"unknown setting(s): {', '.join(unknown)}", where="design")
        try:
            kwargs: dict[str, Any] = dict(data)
            kwargs["arms"] = tuple(Arm(str(a["name"]), int(a.get("ratio", 1))) for a in data["arms"])
            kwargs["factors"] = tuple(
                Factor(str(f["name"]), tuple(str(v) for v in f["levels"]), float(f.get("weight", 1.0)))
                for f in data.get("factors", ()))
            for key in ("block_multiples", "arm_visible_to", "unblind_roles"):
                if key in data:
                    kwargs[key] = tuple(data[key])
            if data.get("stratify_by") is not None:
                kwargs["stratify_by"] = tuple(data["stratify_by"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"malformed design ({exc})", where="design") from None
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> Design:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not valid JSON ({exc.msg})", where=f"design line {exc.lineno}") from None
        if not isinstance(data, dict):
            raise ValidationError("must be a JSON object", where="design")
        return cls.from_dict(data)


def _unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if not isinstance(n, str) or not n.strip():
            raise ValidationError("names must be non-empty text", where=what)
        if n in seen:
            raise ValidationError(f"{n!r} appears twice", where=what)
        seen.add(n)


def _validate(d: Design) -> None:
    if d.algorithm != ALGORITHM:
        raise ValidationError(f"this code implements {ALGORITHM}, not {d.algorithm}", where="algorithm")
    if not d.study.strip():
        raise ValidationError("is required", where="study")
    if d.method not in METHODS:
        raise ValidationError(f"must be one of {', '.join(METHODS)}", where="method")
    if len(d.arms) < 2:
        raise ValidationError("at least two arms are needed", where="arms")
    _unique([a.name for a in d.arms], "arms")
    if any(not isinstance(a.ratio, int) or a.ratio < 1 for a in d.arms):
        raise ValidationError("ratios must be whole numbers ≥ 1 (e.g. 2:1)", where="arms")
    if not _HEX.match(d.seed) or len(d.seed) < _MIN_SEED_HEX:
        raise ValidationError(f"must be lower-case hex of at least {_MIN_SEED_HEX} digits", where="seed")
    _unique([f.name for f in d.factors], "factors")
    for f in d.factors:
        if not f.levels:
            raise ValidationError("needs at least one level", where=f"factor {f.name}")
        _unique(list(f.levels), f"factor {f.name} levels")
        if not (f.weight >= 0):
            raise ValidationError("weight must be ≥ 0", where=f"factor {f.name}")
        if "|" in f.name or "=" in f.name or any("|" in lv for lv in f.levels):
            raise ValidationError("names and levels may not contain '|' or '='", where=f"factor {f.name}")
    names = {f.name for f in d.factors}
    if d.stratify_by is not None:
        missing = [s for s in d.stratify_by if s not in names]
        if missing:
            raise ValidationError(f"not a factor: {', '.join(missing)}", where="stratify_by")
        _unique(list(d.stratify_by), "stratify_by")
    if d.method in ("simple", "blocks") and d.list_length < 1:
        raise ValidationError("a list method needs list_length ≥ 1", where="list_length")
    if d.method == "blocks" and (not d.block_multiples or any(
            not isinstance(m, int) or m < 1 for m in d.block_multiples)):
        raise ValidationError("block multiples must be whole numbers ≥ 1", where="block_multiples")
    if d.method == "minimisation":
        if not 0.5 <= d.p_preferred <= 1:
            raise ValidationError("must be between 0.5 and 1 (commonly 0.7–0.9)", where="p_preferred")
        if d.imbalance not in IMBALANCE:
            raise ValidationError("must be 'range' or 'variance'", where="imbalance")
        if d.unequal_ratio not in UNEQUAL:
            raise ValidationError("must be 'adjusted' or 'expanded'", where="unequal_ratio")
        if d.total_weight < 0:
            raise ValidationError("must be ≥ 0", where="total_weight")
        if not d.factors and d.total_weight == 0:
            raise ValidationError("minimisation needs factors or a total_weight > 0", where="factors")
    if not d.arm_visible_to:
        raise ValidationError("name at least one role that may see arms", where="arm_visible_to")
