"""What leaves the randomisation module: a REDCap allocation table and a description for reports.

REDCap cannot generate lists or minimise, so sites running a REDCap project get our committed list
as its allocation table (one row per future allocation, worked down in order within each stratum;
``redcap_randomization_group`` holds the coded arm, one column per stratification field, and
``redcap_data_access_group`` when stratifying by site). The description never contains the seed;
restriction details (block sizes, random element) are included only on request, because SPIRIT
16c keeps them from recruiters until the trial ends (CONSORT 8b then asks for them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from workbench.errors import ValidationError
from workbench.randomisation.design import Design
from workbench.randomisation.methods import allocation_lists

__all__ = ["describe", "redcap_allocation_table"]

DAG_COLUMN = "redcap_data_access_group"
GROUP_COLUMN = "redcap_randomization_group"


def redcap_allocation_table(
    design: Design, *, arm_codes: Mapping[str, str] | None = None,
    level_codes: Mapping[str, Mapping[str, str]] | None = None,
    field_names: Mapping[str, str] | None = None, site_factor: str | None = "site",
) -> str:
    """The committed list as REDCap allocation-table CSV.

    ``arm_codes`` maps arm → the randomisation field's raw code (default 1, 2, … in design order);
    ``level_codes`` maps factor → level → raw code (default: the level itself); ``field_names``
    renames factors to REDCap field names; the ``site_factor`` becomes the DAG column.
    """
    lists = allocation_lists(design)
    if lists is None:
        raise ValidationError("minimisation has no allocation list; REDCap cannot run it", where="method")
    codes = dict(arm_codes or {a: str(i + 1) for i, a in enumerate(design.arm_names)})
    missing = [a for a in design.arm_names if a not in codes]
    if missing:
        raise ValidationError(f"no code for arm(s) {', '.join(missing)}", where="arm_codes")
    factors = design.strata_factors if design.method == "blocks" else ()
    renames = dict(field_names or {})
    header = [GROUP_COLUMN] + [DAG_COLUMN if f == site_factor else renames.get(f, f) for f in factors]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for stratum, arms in lists.items():
        levels = dict(part.split("=", 1) for part in stratum.split("|")) if factors else {}
        coded = []
        for f in factors:
            mapping = (level_codes or {}).get(f)
            value = levels[f]
            if mapping is not None and value not in mapping:
                raise ValidationError(f"no code for level {value!r}", where=f"level_codes {f}")
            coded.append(mapping[value] if mapping is not None else value)
        for arm in arms:
            writer.writerow([codes[arm], *coded])
    return out.getvalue()


def describe(design: Design, *, reveal_restrictions: bool = False) -> dict[str, Any]:
    """Method, arms and factors for the protocol and CONSORT 8b; never the seed."""
    text: dict[str, Any] = {
        "study": design.study, "algorithm": design.algorithm, "method": design.method,
        "arms": {a.name: a.ratio for a in design.arms},
        "factors": {f.name: list(f.levels) for f in design.factors},
        "stratified_by": list(design.strata_factors),
    }
    if reveal_restrictions:
        if design.method == "blocks":
            text["block_sizes"] = [m * design.ratio_sum for m in design.block_multiples]
        if design.method == "minimisation":
            text.update(p_preferred=design.p_preferred, imbalance=design.imbalance,
                        weights={f.name: f.weight for f in design.factors},
                        total_weight=design.total_weight, unequal_ratio=design.unequal_ratio)
    return text
