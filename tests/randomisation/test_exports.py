"""REDCap allocation table and the seed-free description."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from workbench.errors import ValidationError
from workbench.randomisation import allocation_lists, describe, redcap_allocation_table
from workbench.randomisation.methods import block_list, simple_list


def test_redcap_table_rows_follow_each_stratum_list_in_order(kit) -> None:
    d = kit.design("blocks", list_length=8)
    text = redcap_allocation_table(d, arm_codes={"A": "1", "B": "2"},
                                   level_codes={"stage": {"I": "1", "II": "2", "III": "3"}})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["redcap_randomization_group", "redcap_data_access_group", "stage"]
    lists = allocation_lists(d)
    assert lists is not None
    expected = [[{"A": "1", "B": "2"}[arm], site, str(kit.STAGES.index(stage) + 1)]
                for site in kit.SITES for stage in kit.STAGES for arm in lists[f"site={site}|stage={stage}"]]
    assert rows[1:] == expected


def test_redcap_table_refuses_minimisation_and_missing_codes(kit) -> None:
    with pytest.raises(ValidationError, match="minimisation"):
        redcap_allocation_table(kit.design("minimisation"))
    with pytest.raises(ValidationError, match="arm"):
        redcap_allocation_table(kit.design("simple"), arm_codes={"A": "1"})
    with pytest.raises(ValidationError, match="'III'"):
        redcap_allocation_table(kit.design("blocks"), level_codes={"stage": {"I": "1", "II": "2"}})
    header = redcap_allocation_table(kit.design("simple")).splitlines()[0]
    assert header == "redcap_randomization_group"


def test_description_never_holds_the_seed_and_hides_restrictions_by_default(kit) -> None:
    for method in ("simple", "blocks", "minimisation"):
        d = kit.design(method)
        assert d.seed not in str(describe(d, reveal_restrictions=True))
    blocks = kit.design("blocks", block_multiples=(1, 3))
    assert "block_sizes" not in describe(blocks)
    assert describe(blocks, reveal_restrictions=True)["block_sizes"] == [2, 6]
    mini = describe(kit.design("minimisation"), reveal_restrictions=True)
    assert mini["p_preferred"] == 0.8 and mini["weights"] == {"site": 1.0, "stage": 2.0}


def test_lists_are_prefix_stable_when_lengthened(kit) -> None:
    """A longer list for the same seed starts with the shorter one, so a committed extension
    keeps every allocation already made."""
    d = kit.design("blocks", list_length=10)
    longer = replace(d, list_length=60)
    for stratum in d.strata():
        short = block_list(d, stratum)[0]
        assert block_list(longer, stratum)[0][:len(short)] == short
    s = kit.design("simple", list_length=50)
    assert simple_list(replace(s, list_length=500))[:50] == simple_list(s)


def test_design_example_in_the_guide_is_valid(kit) -> None:
    from pathlib import Path

    from workbench.randomisation import Design, commit

    guide = (Path(__file__).resolve().parents[2] / "docs" / "randomisation.md").read_text(encoding="utf-8")
    example = guide.split("```json", 1)[1].split("```", 1)[0]
    d = Design.from_json(example.replace("<64 hex digits from new_seed()>", kit.SEED))
    assert d.strata()[0] == "site=IGR|stage=I-II" and len(d.strata()) == 6
    assert commit(d, at=kit.T0).digest
