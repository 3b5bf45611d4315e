"""Designs validate and serialise exactly; lists follow the documented draw scheme and ratios."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter

import pytest

from workbench.errors import ValidationError
from workbench.randomisation import Design, allocation_lists, commit, commitment_digest
from workbench.randomisation.methods import block_list
from workbench.randomisation.streams import draw_int, seed_key


@pytest.mark.parametrize(("change", "where"), [
    ({"method": "urn"}, "method"),
    ({"seed": "abc"}, "seed"),
    ({"seed": "G" * 64}, "seed"),
    ({"stratify_by": ("site", "grade")}, "stratify_by"),
    ({"list_length": 0}, "list_length"),
    ({"block_multiples": (0, 2)}, "block_multiples"),
    ({"study": " "}, "study"),
])
def test_invalid_designs_name_the_setting(kit, change, where) -> None:
    with pytest.raises(ValidationError) as err:
        kit.design(**change)
    assert err.value.where == where


def test_invalid_ratio_probability_and_factor(kit) -> None:
    with pytest.raises(ValidationError, match="ratios"):
        kit.design(ratios=(1, 0))
    with pytest.raises(ValidationError, match=r"between 0\.5 and 1"):
        kit.design("minimisation", p_preferred=0.3)
    with pytest.raises(ValidationError, match="twice"):
        kit.design(factors=(kit.design().factors[0],) * 2)


def test_json_round_trip_is_byte_exact_and_rejects_unknown_settings(kit) -> None:
    d = kit.design("minimisation", ratios=(2, 1), imbalance="variance", stratify_by=("site",))
    again = Design.from_json(d.to_json())
    assert again == d and again.to_json() == d.to_json()
    data = json.loads(d.to_json())
    data["block_size"] = 4
    with pytest.raises(ValidationError, match="unknown setting"):
        Design.from_dict(data)
    with pytest.raises(ValidationError, match="not valid JSON"):
        Design.from_json("{oops")


def test_draws_follow_the_documented_hmac_scheme(kit) -> None:
    """An auditor can re-derive any draw from the seed with nothing but HMAC-SHA-256."""
    label = ["blocks", "site=IGR|stage=I", 3, "swap", 5]
    message = json.dumps(label, separators=(",", ":")).encode()
    expected = int.from_bytes(hmac.new(bytes.fromhex(kit.SEED), message, hashlib.sha256).digest(), "big") % 6
    assert draw_int(seed_key(kit.SEED), label, 6) == expected


def _independent_block_list(seed: str, stratum: str, ratios: dict[str, int], multiples: list[int],
                            length: int) -> list[str]:
    """The block algorithm as written in the docs, re-implemented from scratch."""
    key = bytes.fromhex(seed)

    def draw(label: list[object], bound: int) -> int:
        msg = json.dumps(label, separators=(",", ":"), ensure_ascii=False).encode()
        return int.from_bytes(hmac.new(key, msg, hashlib.sha256).digest(), "big") % bound

    out: list[str] = []
    b = 0
    while len(out) < length:
        m = multiples[draw(["blocks", stratum, b, "size"], len(multiples))]
        block = [arm for arm, r in ratios.items() for _ in range(r * m)]
        for i in range(len(block) - 1, 0, -1):
            j = draw(["blocks", stratum, b, "swap", i], i + 1)
            block[i], block[j] = block[j], block[i]
        out += block
        b += 1
    return out


def test_block_lists_match_an_independent_implementation(kit) -> None:
    d = kit.design(ratios=(2, 1), block_multiples=(1, 2, 3))
    lists = allocation_lists(d)
    assert lists is not None and set(lists) == set(d.strata()) and len(lists) == 9
    for stratum in ("site=IGR|stage=I", "site=IPC|stage=III"):
        assert lists[stratum] == _independent_block_list(d.seed, stratum, {"A": 2, "B": 1}, [1, 2, 3], 40)


@pytest.mark.parametrize(("ratios", "multiples"), [((1, 1), (1, 2, 3)), ((2, 1), (1, 2)), ((1, 2, 3), (1,))])
def test_every_block_holds_the_ratio_and_sizes_vary(kit, ratios, multiples) -> None:
    d = kit.design(ratios=ratios, block_multiples=multiples, list_length=120)
    names = d.arm_names
    total = sum(ratios)
    for stratum in d.strata():
        arms, sizes = block_list(d, stratum)
        assert len(arms) >= 120 and sum(sizes) == len(arms)
        assert {s // total for s in sizes} <= set(multiples)
        start = 0
        for size in sizes:
            counts = Counter(arms[start:start + size])
            assert [counts[n] * total for n in names] == [r * size for r in ratios]
            start += size
        if len(multiples) > 1:
            assert len(set(sizes)) > 1


def test_same_seed_same_list_other_seed_other_list(kit) -> None:
    a, b = kit.design(), kit.design()
    other = kit.design(seed="0123456789abcdef" * 4)
    assert allocation_lists(a) == allocation_lists(b)
    assert allocation_lists(a) != allocation_lists(other)
    assert commitment_digest(a) == commitment_digest(b) != commitment_digest(other)
    assert commit(a, at=kit.T0).digest == commitment_digest(a)


def test_simple_list_follows_an_unequal_ratio(kit) -> None:
    d = kit.design("simple", ratios=(2, 1), list_length=3000)
    counts = Counter(allocation_lists(d)["all"])  # type: ignore[index]
    # 3000 draws at p = 2/3: sd ≈ 26, so ±130 is a 5-sd band (deterministic for this seed anyway).
    assert abs(counts["A"] - 2000) < 130 and counts["A"] + counts["B"] == 3000


def test_strata_cover_chosen_factors_only(kit) -> None:
    d = kit.design(stratify_by=("site",))
    assert d.strata() == ["site=IGR", "site=CLB", "site=IPC"]
    assert d.stratum_of({"site": "CLB", "stage": "II"}) == "site=CLB"
    assert kit.design(stratify_by=()).strata() == ["all"]


def test_python_built_and_json_read_designs_commit_identically(kit) -> None:
    from workbench.randomisation import Arm, Factor

    d = Design(study="QOL-01", method="minimisation", arms=[Arm("A"), Arm("B", 2)],  # type: ignore[arg-type]
               seed=kit.SEED, factors=[Factor("site", ["IGR", "CLB"], 2)],  # type: ignore[arg-type,list-item]
               p_preferred=1, arm_visible_to=["data_steward"])  # type: ignore[arg-type]
    again = Design.from_json(d.to_json())
    assert again == d and commitment_digest(again) == commitment_digest(d)


def test_non_ascii_strata_follow_the_documented_scheme(kit) -> None:
    from workbench.randomisation import Factor

    d = kit.design(factors=(Factor("âge", ("<65", "≥65")),), ratios=(1, 1))
    assert d.strata() == ["âge=<65", "âge=≥65"]
    lists = allocation_lists(d)
    assert lists is not None
    assert lists["âge=≥65"] == _independent_block_list(d.seed, "âge=≥65", {"A": 1, "B": 1}, [1, 2], 40)
