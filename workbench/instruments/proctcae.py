"""PRO-CTCAE structure (attributes per adverse event) and the composite grade of Basch et al. 2021.

Only item numbers, attributes and the grading table ship here: the item wording belongs to the
NCI and is loaded from the licensee's file. The table is transcribed from the open ProAE SAS macro
(Langlais & Dueck) as recorded in the research notes; it must be checked against the paper's
supplement before release, as those notes say. Every cell is a test vector in the suite.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ATTRIBUTE_NAMES", "GROUPS", "composite_lut", "item_attributes"]

ATTRIBUTE_NAMES = {"f": "frequency", "s": "severity", "i": "interference", "a": "amount"}

# Adverse-event item number → attributes asked, in order (ProAE map). "a" (amount) grades as
# interference does.
GROUPS: dict[str, tuple[int, ...]] = {
    "f": (16, 67),
    "s": (1, 2, 4, 6, 7, 15, 21, 25, 26, 28, 30, 36, 45, 60, 61, 66, 68, 71, 72, 80),
    "a": (27, 59),
    "fs": (9, 10, 11, 13, 14, 23, 74, 75, 77, 78),
    "fi": (18, 62, 63, 65),
    "si": (3, 8, 19, 20, 39, 40, 41, 44, 46, 47, 52, 53),
    "fsi": (17, 22, 48, 49, 50, 51, 54, 55, 56),
}

_SINGLE = {"f": [0, 1, 1, 2, 3], "s": [0, 1, 2, 3, 3], "a": [0, 1, 1, 2, 2]}
# rows: first attribute 1..4; columns: second attribute 0..4
_PAIRS = {
    "fs": [[1, 1, 1, 2, 2], [1, 1, 2, 2, 2], [1, 1, 2, 3, 3], [1, 1, 2, 3, 3]],
    "fi": [[1, 1, 1, 2, 2], [1, 1, 1, 2, 2], [1, 1, 2, 3, 3], [1, 1, 2, 3, 3]],
    "si": [[1, 1, 1, 2, 2], [1, 1, 2, 2, 3], [1, 2, 2, 3, 3], [2, 2, 2, 3, 3]],
}
# _TRIPLE[s][f - 1] = grades for interference 0..4
_TRIPLE = [
    [[0, 1, 1, 2, 2], [0, 1, 1, 2, 2], [1, 1, 1, 2, 2], [1, 1, 1, 2, 2]],
    [[1, 1, 1, 2, 2], [1, 1, 1, 2, 2], [1, 1, 1, 2, 2], [1, 1, 2, 2, 3]],
    [[1, 2, 2, 2, 3], [2, 2, 2, 3, 3], [2, 2, 2, 3, 3], [2, 2, 2, 3, 3]],
    [[2, 2, 2, 3, 3], [2, 2, 2, 3, 3], [2, 2, 3, 3, 3], [2, 2, 3, 3, 3]],
    [[2, 2, 3, 3, 3], [2, 2, 3, 3, 3], [2, 2, 3, 3, 3], [2, 2, 3, 3, 3]],
]


def item_attributes() -> list[tuple[int, str, str]]:
    """(AE number, group, attribute letter) in instrument order: by AE number, then attribute."""
    out = []
    for group, numbers in GROUPS.items():
        for number in numbers:
            out.extend((number, group, letter) for letter in group)
    return sorted(out, key=lambda t: (t[0], "fsia".index(t[2])))


def composite_lut(group: str) -> np.ndarray:
    """Grade lookup indexed by the group's attribute codes (0–4 each); first attribute 0 → 0."""
    if group in _SINGLE:
        return np.asarray(_SINGLE[group], dtype=float)
    if group in _PAIRS:
        lut = np.zeros((5, 5))
        lut[1:, :] = _PAIRS[group]
        return lut
    lut = np.zeros((5, 5, 5))  # [f, s, i]
    for s in range(5):
        for f in range(1, 5):
            lut[f, s, :] = _TRIPLE[s][f - 1]
    return lut
