"""Refusals leave no trace; arms are shown only to allowed roles; unblinding is reasoned and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from workbench import audit
from workbench.errors import ConflictError, PermissionDenied, ValidationError
from workbench.randomisation import Arm, Randomiser, emergency_unblind, view_allocation
from workbench.storage.engine import session_scope


def _snapshot(r: Randomiser) -> tuple[object, ...]:
    return (r.log, r.head)


@pytest.mark.parametrize("method", ["simple", "blocks", "minimisation"])
@pytest.mark.parametrize(("participant", "baseline", "eligible", "error", "text"), [
    ("P9999", {"site": "IGR", "stage": "I"}, False, ValidationError, "not confirmed eligible"),
    ("P0003", {"site": "IGR", "stage": "I"}, True, ConflictError, "already randomised"),
    ("P9999", {"site": "IGR"}, True, ValidationError, "factor stage: is missing"),
    ("P9999", {"site": "IGR", "stage": ""}, True, ValidationError, "factor stage: is missing"),
    ("P9999", {"site": "Curie", "stage": "I"}, True, ValidationError, "'Curie' is not an allowed level"),
    ("  ", {"site": "IGR", "stage": "I"}, True, ValidationError, "pseudonym"),
])
def test_refusals_are_clear_and_change_nothing(kit, method, participant, baseline, eligible, error, text):
    d = kit.design(method)
    r = kit.run(d, 12)
    twin = kit.run(d, 12)
    before = _snapshot(r)
    with pytest.raises(error, match=text):
        r.allocate(participant, baseline, eligible=eligible, actor="inv1", at=kit.T0 + timedelta(days=1))
    assert _snapshot(r) == before
    # The next allocation is exactly what it would have been had the refused call never happened.
    args = ("P5000", {"site": "CLB", "stage": "II"})
    at = kit.T0 + timedelta(days=2)
    assert r.allocate(*args, eligible=True, actor="inv1", at=at) == \
        twin.allocate(*args, eligible=True, actor="inv1", at=at)


def test_exhausted_list_and_backdating_are_refused(kit) -> None:
    d = kit.design("blocks", stratify_by=("site",), list_length=2, block_multiples=(1,))
    r = kit.run(d, 0)
    for i in range(2):
        r.allocate(f"P{i}", {"site": "IGR", "stage": "I"}, eligible=True, actor="x",
                   at=kit.T0 + timedelta(hours=i + 1))
    with pytest.raises(ConflictError, match="site=IGR is exhausted"):
        r.allocate("P3", {"site": "IGR", "stage": "I"}, eligible=True, actor="x", at=kit.T0 + timedelta(hours=5))
    assert len(r.log) == 2
    with pytest.raises(ValidationError, match="earlier"):
        r.allocate("P4", {"site": "CLB", "stage": "I"}, eligible=True, actor="x", at=kit.T0)
    r.allocate("P4", {"site": "CLB", "stage": "I"}, eligible=True, actor="x", at=kit.T0 + timedelta(hours=6))
    assert [rec.arm for rec in r.log[:2]] in (["A", "B"], ["B", "A"])


def test_arm_is_shown_only_to_roles_named_in_the_design(kit) -> None:
    d = kit.design("blocks", arm_visible_to=("data_steward", "pharmacist"))
    rec = kit.run(d, 3).log[0]
    for roles in ("study_manager", ["researcher", "study_manager"], "participant", []):
        view = view_allocation(d, rec, roles)
        assert view.arm is None and view.status == "allocated" and "masqué" in view.label()
    for roles in ("pharmacist", {"study_manager", "data_steward"}):
        view = view_allocation(d, rec, roles)
        assert view.arm == rec.arm and rec.arm in view.label()


def test_emergency_unblinding_needs_role_and_reason(kit) -> None:
    d = kit.design("minimisation", arms=(Arm("Intervention"), Arm("Control")))
    rec = kit.run(d, 5).log[2]
    with pytest.raises(PermissionDenied, match="study_manager"):
        emergency_unblind(d, rec, roles="researcher", actor="r1", reason="Severe adverse event, ICU", at=kit.T0)
    with pytest.raises(ValidationError, match="reason"):
        emergency_unblind(d, rec, roles="study_manager", actor="m1", reason="   urgent ", at=kit.T0)
    arm, evidence = emergency_unblind(d, rec, roles=["study_manager"], actor="m1",
                                      reason="Grade 4 toxicity, treating physician request", at=kit.T0)
    assert arm == rec.arm
    entry = evidence.audit_entry()
    assert entry["reason"].startswith("Grade 4") and entry["after"]["allocation_hash"] == rec.hash
    assert not any(arm in str(entry) for arm in d.arm_names)  # the audit log stays blind


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_unblinding_evidence_goes_into_the_audit_chain(kit, engine: Engine) -> None:
    d = kit.design("blocks")
    rec = kit.run(d, 2).log[1]
    _, evidence = emergency_unblind(d, rec, roles="administrator", actor="admin",
                                    reason="Overdose suspected, antidote depends on arm", at=kit.T0)
    with session_scope(engine) as session:
        entry = audit.record(session, **evidence.audit_entry())
        assert entry.action == "randomisation.emergency_unblind"
    with session_scope(engine) as session:
        assert audit.verify_chain(session).ok
