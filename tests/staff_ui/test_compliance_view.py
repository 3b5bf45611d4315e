"""Compliance view: the numbers shown are study_compliance's, per event and arm, with bars and flow."""

from __future__ import annotations

from datetime import date

from widgets._store import in_session
from widgets.compliance_view import ComplianceView
from widgets.study_setup import StaffDesk
from workbench.settings import Settings
from workbench.studies.compliance import study_compliance

from ._seed import STUDY, _respond, seed_running

AS_OF = date(2026, 3, 1)


def test_numbers_equal_study_compliance(staff: Settings) -> None:
    pids = seed_running(staff, arms=True)

    def answer(s):  # type: ignore[no-untyped-def]
        for pid in pids[:3]:
            _respond(s, pid, "BL", {"q1": 1})
        _respond(s, pids[0], "W06", {"q1": 1})
        return study_compliance(s, STUDY, "phq-9", today=AS_OF)

    expected = in_session(staff, answer)
    view = ComplianceView(StaffDesk(staff, "platform.manager"), STUDY, today=AS_OF)
    assert view.instrument.options == ("phq-9",)
    assert view.table_data.equals(expected)
    for _i, row in expected.iterrows():
        assert f"<td>{row['completion']}</td>" in view.table.value
        assert f"<td>{row['available']}</td>" in view.table.value
    all_bl = expected[(expected["arm"] == "All") & (expected["timepoint"] == "BL")].iloc[0]
    assert (all_bl["completion"], all_bl["available"]) == ("3/4", "3/4")
    assert "75.0 %" in view.table.value
    # Bars per arm (completion and available), text n/N on them.
    names = {t.name for t in view.figure.data}
    assert {"A – completion", "A – available", "B – completion", "B – available"} == names
    # all arms at baseline: 4 expected, 3 received (the same numbers as the table's "3/4")
    assert "CONSORT-PRO" in view.flow.value and "expected 4 · reçus / received 3" in view.flow.value
    assert "2 inclus / included" in view.flow.value and "4 inclus / included" in view.flow.value


def test_before_any_window_closes_says_so(staff: Settings) -> None:
    seed_running(staff)
    view = ComplianceView(StaffDesk(staff, "platform.manager"), STUDY, today=date(2026, 1, 2))
    assert "No assessment window has closed yet" in view.table.value and view.figure.data == ()
    view.as_of.value = None
    view.show_button.click()
    assert "pick a date" in view.status.value


def test_refused_without_a_role(staff: Settings) -> None:
    seed_running(staff)
    view = ComplianceView(StaffDesk(staff, "researcher.one"), STUDY, today=AS_OF)
    assert "no role on study" in view.status.value and view.table.value == ""
