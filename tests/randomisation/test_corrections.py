"""Corrections are new records with a reason: the arm never changes, minimisation counts the fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.randomisation import Randomiser, verify
from workbench.randomisation.methods import Tally

REASON = "Stage re-read on the pathology report"


def _later(kit, hours: int):  # type: ignore[no-untyped-def]
    return kit.T0 + timedelta(days=30, hours=hours)


@pytest.mark.parametrize("method", ["simple", "blocks", "minimisation"])
def test_correction_keeps_the_arm_and_verifies(kit, method) -> None:
    d = kit.design(method)
    r = kit.run(d, 20)
    original = r.allocation_of("P0004")
    assert original is not None
    stage = next(s for s in kit.STAGES if s != original.levels["stage"])
    fix = r.correct("P0004", {**original.levels, "stage": stage}, reason=REASON, actor="dm1", at=_later(kit, 1))
    assert (fix.kind, fix.corrects, fix.arm, fix.stratum, fix.position) == \
        ("correction", original.seq, original.arm, original.stratum, original.position)
    assert r.allocation_of("P0004") == original  # the allocation itself is untouched
    nxt = r.allocate("P9000", {"site": "IGR", "stage": "I"}, eligible=True, actor="inv1", at=_later(kit, 2))
    assert nxt.seq == 22
    assert verify(d, r.commitment, r.log, head=r.head).ok
    resumed = Randomiser(d, r.commitment, r.log[:21])
    assert resumed.allocate("P9000", {"site": "IGR", "stage": "I"}, eligible=True, actor="inv1",
                            at=_later(kit, 2)) == nxt


def test_minimisation_counts_corrected_levels_from_then_on(kit) -> None:
    d = kit.design("minimisation")
    r = kit.run(d, 30)
    target = r.log[3]
    site = next(s for s in kit.SITES if s != target.levels["site"])
    r.correct(target.participant, {**target.levels, "site": site}, reason=REASON, actor="dm1", at=_later(kit, 1))
    expected = Tally(2)
    for rec in r.log[:30]:
        levels = {**rec.levels, "site": site} if rec.participant == target.participant else rec.levels
        expected.add(levels, d.arm_names.index(rec.arm))
    assert r._state.tally == expected


def test_correction_refusals_change_nothing(kit) -> None:
    d = kit.design("blocks")
    r = kit.run(d, 5)
    before = (r.log, r.head)
    rec = r.log[0]
    with pytest.raises(NotFoundError):
        r.correct("P7777", rec.levels, reason=REASON, actor="dm1", at=_later(kit, 1))
    with pytest.raises(ValidationError, match="reason"):
        r.correct(rec.participant, {**rec.levels, "site": "XXX"}, reason="typo", actor="dm1", at=_later(kit, 1))
    with pytest.raises(ValidationError, match="'XXX'"):
        r.correct(rec.participant, {**rec.levels, "site": "XXX"}, reason=REASON, actor="dm1", at=_later(kit, 1))
    with pytest.raises(ConflictError, match="already these"):
        r.correct(rec.participant, rec.levels, reason=REASON, actor="dm1", at=_later(kit, 1))
    assert (r.log, r.head) == before


@pytest.mark.parametrize(("change", "message"), [
    ({"arm": "other"}, "never the arm"),
    ({"corrects": 2}, "not P0000's allocation"),
    ({"reason": ""}, "reason"),
    ({"kind": "allocation"}, "not a plain allocation"),
])
def test_forged_corrections_are_caught(kit, change, message) -> None:
    d = kit.design("minimisation")
    r = kit.run(d, 6)
    rec = r.log[0]
    stage = next(s for s in kit.STAGES if s != rec.levels["stage"])
    r.correct(rec.participant, {**rec.levels, "stage": stage}, reason=REASON, actor="dm1", at=_later(kit, 1))
    fix = r.log[-1]
    if change.get("arm") == "other":
        change = {"arm": "B" if fix.arm == "A" else "A"}
    forged = [*r.log[:-1], replace(fix, **change).sealed()]
    report = verify(d, r.commitment, forged)
    assert not report.ok and report.first_bad == 7 and message in str(report), report

_ops = st.lists(st.tuples(st.booleans(), st.integers(0, 50), st.sampled_from(["IGR", "CLB", "IPC"]),
                          st.sampled_from(["I", "II", "III"])), min_size=1, max_size=30)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["blocks", "minimisation"]), ops=_ops,
       unequal=st.sampled_from(["adjusted", "expanded"]))
def test_any_mix_of_allocations_and_corrections_verifies_and_replays(kit, method, ops, unequal) -> None:
    d = kit.design(method, ratios=(2, 1), unequal_ratio=unequal)
    r = kit.run(d, 0)
    for i, (is_fix, who, site, stage) in enumerate(ops):
        at = kit.T0 + timedelta(minutes=i + 1)
        done = [rec.participant for rec in r.log if rec.kind == "allocation"]
        if is_fix and done:
            name = done[who % len(done)]
            current = [rec for rec in r.log if rec.participant == name][-1].levels
            if dict(current) != {"site": site, "stage": stage}:
                r.correct(name, {"site": site, "stage": stage}, reason=REASON, actor="dm", at=at)
        else:
            r.allocate(f"P{i}", {"site": site, "stage": stage}, eligible=True, actor="inv", at=at)
    assert verify(d, r.commitment, r.log, head=r.head).ok
    assert Randomiser(d, r.commitment, r.log).head == r.head
