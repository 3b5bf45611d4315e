"""The inclusion desk without a browser: eligibility, strata, concealment by role, refusals, unblinding."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from widgets.randomisation_desk import RandomisationDesk, randomisation_desk
from widgets.study_setup import StaffDesk
from workbench import accounts, audit
from workbench.consent.service import publish_document
from workbench.keys import load_or_create_key
from workbench.participants.models import Participant
from workbench.randomisation.store import AllocationRow, setup_randomisation
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies
from workbench.studies.setup import add_site


@pytest.fixture
def trial(settings: Settings, kit) -> Settings:  # type: ignore[no-untyped-def]
    key = load_or_create_key(settings.secret_key_file)
    engine = open_operational(settings)
    with session_scope(engine) as s:
        st = studies.create_study(s, "QOL-01", "Trial", actor="sm", design="interventional")
        accounts.add_user(s, "manager", actor="admin", roles=["study_manager:study:QOL-01"])
        accounts.add_user(s, "dr.igr", actor="admin", roles=["researcher"])
        accounts.add_user(s, "steward", actor="admin", roles=["data_steward"])
        accounts.add_user(s, "other.sm", actor="admin", roles=["study_manager:study:OTHER"])
        add_site(s, "QOL-01", "IGR", "Gustave Roussy", actor="sm", investigator="dr.igr")
        s.add_all([Participant(study_id=st.id, pseudonym=f"P{i:04d}", site="IGR",
                               inclusion_date=date(2026, 3, 1)) for i in range(4)])
        setup_randomisation(s, "QOL-01", kit.design("minimisation", arm_visible_to=("data_steward",),
                                                    unblind_roles=("study_manager",)),
                            key=key, actor="stat", now=kit.T0)
    engine.dispose()
    return settings


def _count(settings: Settings) -> tuple[int, int]:
    engine = open_operational(settings)
    with session_scope(engine) as s:
        allocations = s.execute(select(func.count()).select_from(AllocationRow)).scalar_one()
        entries = s.execute(select(func.count()).select_from(audit.AuditEntry)).scalar_one()
    engine.dispose()
    return allocations, entries


def _fill(desk: RandomisationDesk, pseudonym: str, eligible: bool = True, **levels: str) -> None:
    desk.participant.value = pseudonym
    desk.eligible.value = eligible
    for name, value in levels.items():
        desk.factors[name].value = value


def test_investigator_randomises_blind_and_refusals_write_nothing(trial: Settings) -> None:
    desk = RandomisationDesk(StaffDesk(trial, "dr.igr"), "QOL-01")
    assert set(desk.factors) == {"site", "stage"}
    assert [v for _l, v in desk.participant.options[1:]] == ["P0000", "P0001", "P0002", "P0003"]
    assert desk.unblind_panel.layout.display == "none"  # investigators may not unblind in this design

    before = _count(trial)
    _fill(desk, "P0000", eligible=False, site="IGR", stage="II")
    desk.randomise_button.click()
    assert "not confirmed eligible" in desk.status.value and _count(trial) == before
    _fill(desk, "P0000", site="IGR", stage="—")  # stage missing
    desk.randomise_button.click()
    assert "factor stage" in desk.status.value and _count(trial) == before

    _fill(desk, "P0000", site="IGR", stage="II")
    desk.randomise_button.click()
    assert "arm concealed" in desk.result.value and "Randomised:" not in desk.table.value
    assert _count(trial)[0] == 1
    assert "P0000" not in [v for _l, v in desk.participant.options[1:]]  # no longer waiting

    # a stale screen that offers P0000 again is refused by the domain, and nothing is written
    stale = RandomisationDesk(StaffDesk(trial, "manager"), "QOL-01")
    stale.participant.options = [("—", "—"), ("P0000", "P0000")]
    _fill(stale, "P0000", site="IGR", stage="II")
    before = _count(trial)
    stale.randomise_button.click()
    assert "already randomised" in stale.status.value and _count(trial) == before


def test_arms_shown_only_to_allowed_roles_and_unblinding_is_audited(trial: Settings) -> None:
    manager = RandomisationDesk(StaffDesk(trial, "manager"), "QOL-01")
    _fill(manager, "P0001", site="IGR", stage="I")
    manager.randomise_button.click()
    assert "arm concealed" in manager.result.value
    steward_view = randomisation_desk(trial, "steward", "QOL-01")
    assert isinstance(steward_view, RandomisationDesk)  # data stewards may view; they see arms
    assert "Randomised: " in steward_view.table.value
    assert steward_view.unblind_panel.layout.display == "none"
    assert steward_view.include_panel.layout.display == "none" and manager.include_panel.layout.display == "flex"

    assert manager.unblind_panel.layout.display == "flex"
    manager.unblind_participant.value = "P0001"
    manager.reason.value = "short"
    manager.unblind_button.click()
    assert "clinical reason" in manager.status.value and manager.unblinded.value == ""
    manager.reason.value = "Grade 4 adverse event; treating physician needs the arm"
    manager.unblind_button.click()
    arm = manager.unblinded.value.split("<strong>")[1].split("</strong>")[0]
    assert arm in {"A", "B"}
    engine = open_operational(trial)
    with session_scope(engine) as s:
        entry = s.execute(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "randomisation.emergency_unblind")).scalar_one()
        assert entry.actor == "manager" and "Grade 4" in (entry.reason or "") and arm not in str(entry.after)
    engine.dispose()


def test_consent_is_required_when_the_study_uses_it_and_strangers_are_refused(trial: Settings) -> None:
    engine = open_operational(trial)
    with session_scope(engine) as s:
        publish_document(s, "QOL-01", language="fr", version="1.0", title="Consentement", body="Texte",
                         actor="sm")
    engine.dispose()
    desk = RandomisationDesk(StaffDesk(trial, "dr.igr"), "QOL-01")
    _fill(desk, "P0002", site="IGR", stage="III")
    before = _count(trial)
    desk.randomise_button.click()
    assert "has not signed the consent" in desk.status.value and _count(trial) == before
    outsider = RandomisationDesk(StaffDesk(trial, "other.sm"), "QOL-01")
    assert "no role on study QOL-01" in outsider.status.value and outsider.participant.options == ()
