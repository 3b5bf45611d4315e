"""Commitment and log: an honest run verifies; every kind of tampering is caught at the right record."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import ConflictError
from workbench.randomisation import AllocationRecord, Commitment, Design, Randomiser, commit, verify

METHODS = ["simple", "blocks", "minimisation"]


def _rehash_from(log: list[AllocationRecord], start: int, commitment_digest: str) -> list[AllocationRecord]:
    """What a forger with write access would do: fix up every hash after an edit."""
    out = list(log[:start])
    prev = out[-1].hash if out else commitment_digest
    for rec in log[start:]:
        rec = replace(rec, prev_hash=prev).sealed()
        out.append(rec)
        prev = rec.hash
    return out


@pytest.mark.parametrize("method", METHODS)
def test_honest_log_verifies_after_a_json_round_trip(kit, method) -> None:
    d = kit.design(method)
    r = kit.run(d, 60)
    stored = [json.dumps(rec.to_dict()) for rec in r.log]
    back = [AllocationRecord.from_dict(json.loads(line)) for line in stored]
    commitment = Commitment.from_dict(json.loads(json.dumps(r.commitment.to_dict())))
    report = verify(Design.from_json(d.to_json()), commitment, back, head=r.head)
    assert report.ok and report.records == 60, report
    assert back[0].prev_hash == commitment.digest


@pytest.mark.parametrize("method", METHODS)
def test_rewritten_arm_is_caught_even_with_a_fixed_up_chain(kit, method) -> None:
    d = kit.design(method)
    r = kit.run(d, 40)
    log = list(r.log)
    other = "B" if log[16].arm == "A" else "A"
    log[16] = replace(log[16], arm=other)
    naive = verify(d, r.commitment, log)
    assert (naive.first_bad, naive.problem) == (17, "its content was changed after it was written")
    forged = _rehash_from(log, 16, r.commitment.digest)
    report = verify(d, r.commitment, forged)
    assert not report.ok and report.first_bad == 17 and "differs from" in str(report), report


@pytest.mark.parametrize("method", ["blocks", "minimisation"])
def test_rewritten_strata_are_caught(kit, method) -> None:
    d = kit.design(method)
    r = kit.run(d, 40)
    log = list(r.log)
    levels = dict(log[9].levels)
    levels["stage"] = next(s for s in kit.STAGES if s != levels["stage"])
    log[9] = replace(log[9], levels=levels)
    forged = _rehash_from(log, 9, r.commitment.digest)
    report = verify(d, r.commitment, forged)
    # A stratum change moves the list position (blocks) or changes a later minimisation choice.
    assert not report.ok and report.first_bad is not None and report.first_bad >= 10, report


def test_deleted_inserted_and_reordered_records(kit) -> None:
    d = kit.design("blocks")
    r = kit.run(d, 30)
    log = list(r.log)
    assert verify(d, r.commitment, log[:12] + log[13:]).first_bad == 13
    assert verify(d, r.commitment, [*log[:5], log[7], *log[5:]]).first_bad == 6
    swapped = [*log[:3], log[4], log[3], *log[5:]]
    assert verify(d, r.commitment, swapped).first_bad == 4
    truncated = verify(d, r.commitment, log[:-2], head=r.head)
    assert not truncated.ok and truncated.first_bad == 29 and "deleted" in str(truncated)
    assert verify(d, r.commitment, log[:-2]).ok  # without a head, truncation is invisible: keep one


@pytest.mark.parametrize(("change", "method"), [
    ({"p_preferred": 0.9}, "minimisation"),
    ({"imbalance": "variance"}, "minimisation"),
    ({"seed": "ab" * 32}, "blocks"),
    ({"block_multiples": (1, 2, 3)}, "blocks"),
    ({"arm_visible_to": ("study_manager",)}, "simple"),
])
def test_changed_parameters_break_the_commitment(kit, change, method) -> None:
    d = kit.design(method)
    r = kit.run(d, 10)
    report = verify(replace(d, **change), r.commitment, r.log)
    assert not report.ok and report.first_bad == 0 and "does not match the published commitment" in str(report)
    with pytest.raises(ConflictError, match="suspended"):
        Randomiser(replace(d, **change), r.commitment, r.log)


def test_duplicate_participant_and_backdated_record_are_caught(kit) -> None:
    d = kit.design("simple")
    r = kit.run(d, 10)
    log = list(r.log)
    log[6] = replace(log[6], participant=log[2].participant)
    report = verify(d, r.commitment, _rehash_from(log, 6, r.commitment.digest))
    assert report.first_bad == 7 and "already randomised" in str(report)
    log = list(r.log)
    log[0] = replace(log[0], at=kit.T0 - timedelta(days=1))
    report = verify(d, r.commitment, _rehash_from(log, 0, r.commitment.digest))
    assert report.first_bad == 1 and "earlier" in str(report)


def test_randomiser_refuses_to_continue_a_tampered_log(kit) -> None:
    d = kit.design("minimisation")
    r = kit.run(d, 20)
    log = list(r.log)
    log[4] = replace(log[4], actor="someone-else")
    with pytest.raises(ConflictError, match="allocation 5"):
        Randomiser(d, r.commitment, log)


def test_resumed_randomiser_continues_exactly_like_the_original(kit) -> None:
    d = kit.design("minimisation")
    full = kit.run(d, 50)
    part = Randomiser(d, full.commitment, full.log[:30])
    for rec in full.log[30:]:
        again = part.allocate(rec.participant, rec.levels, eligible=True, actor=rec.actor, at=rec.at)
        assert again == rec


_levels = st.fixed_dictionaries({"site": st.sampled_from(["IGR", "CLB", "IPC"]),
                                 "stage": st.sampled_from(["I", "II", "III"])})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(METHODS), ratios=st.sampled_from([(1, 1), (2, 1), (1, 1, 1)]),
       baselines=st.lists(_levels, min_size=1, max_size=25), target=st.integers(0, 24),
       field=st.sampled_from(["arm", "participant", "position", "actor", "stratum"]),
       unequal=st.sampled_from(["adjusted", "expanded"]))
def test_any_single_field_edit_is_detected_at_that_record(kit, method, ratios, baselines, target, field,
                                                          unequal):
    d = kit.design(method, ratios=ratios, unequal_ratio=unequal)

    r = Randomiser(d, commit(d, at=kit.T0))
    for i, b in enumerate(baselines):
        r.allocate(f"P{i}", b, eligible=True, actor="inv", at=kit.T0 + timedelta(seconds=i))
    log = list(r.log)
    assert verify(d, r.commitment, log, head=r.head).ok
    i = target % len(log)
    rec = log[i]
    new = {"arm": next(a for a in d.arm_names if a != rec.arm), "participant": rec.participant + "x",
           "position": rec.position + 1, "actor": rec.actor + "x", "stratum": rec.stratum + "x"}[field]
    log[i] = replace(rec, **{field: new})
    report = verify(d, r.commitment, log, head=r.head)
    assert not report.ok and report.first_bad == i + 1, report
