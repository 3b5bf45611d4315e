"""Builders shared by the randomisation tests, exposed through the `kit` fixture."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from workbench.randomisation import Arm, Design, Factor, Randomiser, commit

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SEED = "5eed" * 16
SITES = ("IGR", "CLB", "IPC")
STAGES = ("I", "II", "III")


def design(method: str = "blocks", *, ratios: tuple[int, ...] = (1, 1), seed: str = SEED,
           **overrides: object) -> Design:
    base: dict[str, object] = {
        "study": "QOL-01", "method": method,
        "arms": tuple(Arm(name, r) for name, r in zip(("A", "B", "C"), ratios, strict=False)),
        "seed": seed,
        "factors": (Factor("site", SITES), Factor("stage", STAGES, 2.0)),
        "list_length": 40 if method == "blocks" else 400,
    }
    base.update(overrides)
    return Design(**base)  # type: ignore[arg-type]


def baseline(rng: random.Random) -> dict[str, str]:
    return {"site": rng.choice(SITES), "stage": rng.choice(STAGES)}


def run(d: Design, n: int, *, rng_seed: int = 7) -> Randomiser:
    """A randomiser after ``n`` allocations of participants with random baselines."""
    rng = random.Random(rng_seed)
    r = Randomiser(d, commit(d, at=T0))
    for i in range(n):
        r.allocate(f"P{i:04d}", baseline(rng), eligible=True, actor="inv1",
                   at=T0 + timedelta(minutes=i + 1))
    return r


class Kit:
    """The builders above, handed to tests as one fixture (tests here are not importable modules)."""

    T0 = T0
    SEED = SEED
    SITES = SITES
    STAGES = STAGES
    design = staticmethod(design)
    baseline = staticmethod(baseline)
    run = staticmethod(run)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
