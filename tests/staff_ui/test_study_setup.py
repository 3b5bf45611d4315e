"""Study set-up form: a study created through the form, its quote, bad input, status, permission."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from widgets._store import in_session
from widgets.study_setup import StaffDesk, StudySetup, schedule_grid_html
from workbench import audit
from workbench.settings import Settings
from workbench.studies.models import ScheduleEvent, Study
from workbench.studies.service import get_study


def _fill(form: StudySetup, code: str = "QOL-1") -> None:
    form.study_code.value, form.title.value = code, "Qualité de vie / QoL"
    form.sponsor.value, form.sponsor_status.value, form.sector.value = "Ligue", "collaborator", "private"
    form.design.value, form.timing.value = "interventional", "prospective"
    form.modules.value = ("epro", "consent", "randomisation")
    form.deposit.value = "qlq-c30.*\nphq-9.TOTAL"
    form.needs.value = "ePRO at 5 time points"
    form.deadlines.value = "2027-06-30 database lock"
    form.publication.value = "acknowledge ANR-21-ESRE-0017"
    form.dev_days.value, form.projects.value = 4, 6


def _event(form: StudySetup, code: str, day: int, instruments: tuple[str, ...], before: int = 0,
           after: int = 7) -> None:
    form.event_code.value, form.event_label.value = code, f"Event {code}"
    form.day_offset.value, form.window_before.value, form.window_after.value = day, before, after
    form.event_instruments.value = instruments
    form.add_event_button.click()


def _count(settings: Settings, model: type) -> int:
    return in_session(settings, lambda s: s.execute(select(func.count()).select_from(model)).scalar_one())


def test_study_created_through_the_form(desk: StaffDesk) -> None:
    created: list[str] = []
    form = StudySetup(desk, on_created=created.append)
    _fill(form)
    assert "15,600.00 €" in form.quote.value  # the same grid as test_configure_study_and_quote
    form.site_code.value, form.site_name.value, form.site_investigator.value = "IGR", "Gustave Roussy", "dr.site"
    form.add_site_button.click()
    for code, label, ratio in (("A", "Usual care", 1), ("B", "ePRO", 2)):
        form.arm_code.value, form.arm_label.value, form.arm_ratio.value = code, label, ratio
        form.add_arm_button.click()
    _event(form, "BL", 0, ("qlq-c30", "phq-9"))
    form.respondent.value = "carer"
    _event(form, "W06", 42, ("phq-9",), before=3, after=7)
    assert "BL" in form.grid.value and "J42" in form.grid.value and "(−3/+7)" in form.grid.value
    form.save_button.click()
    assert "QOL-1" in form.status.value and 'role="alert"' not in form.status.value, form.status.value
    assert created == ["QOL-1"]

    def check(s):  # type: ignore[no-untyped-def]
        st = get_study(s, "QOL-1")
        assert (st.sponsor_status, st.sponsor_sector, st.design) == ("collaborator", "private", "interventional")
        assert st.tariff["total"] == 15600.0
        assert st.contract["deadlines"] == [{"date": "2027-06-30", "what": "database lock"}]
        assert [(e.code, e.instruments, e.respondent_type, e.window_before) for e in st.events] == [
            ("BL", ["qlq-c30", "phq-9"], "patient", 0), ("W06", ["phq-9"], "carer", 3)]
        assert [(a.code, a.ratio) for a in st.arms] == [("A", 1), ("B", 2)]
        assert [x.investigator for x in st.sites] == ["dr.site"]
        actions = s.execute(select(audit.AuditEntry.action).where(audit.AuditEntry.object_id == "QOL-1")).scalars()
        assert {"study.create", "study.configure", "study.event.add", "study.arm.add"} <= set(actions)

    in_session(desk.settings, check)
    # The saved form now shows the study and moves it through its statuses.
    assert form.study_code.disabled and "draft" in form.status_line.value
    form.reason.value = "ethics approval received"
    form.next_button.click()
    assert "active" in form.status_line.value
    form.next_button.click()
    form.next_button.click()
    assert "deposited" in form.status_line.value and form.next_button.layout.display == "none"
    moves = in_session(desk.settings, lambda s: [
        (e.before["status"], e.after["status"], e.reason) for e in s.execute(
            select(audit.AuditEntry).where(audit.AuditEntry.action == "study.status")
            .order_by(audit.AuditEntry.seq)).scalars()])
    assert moves == [("draft", "active", "ethics approval received"), ("active", "closed", None),
                     ("closed", "deposited", None)]


def test_quote_follows_the_form_live(desk: StaffDesk) -> None:
    form = StudySetup(desk)
    before = form.quote.value
    form.sponsor_status.value = "partner"
    form.modules.value = ("epro", "consent", "randomisation", "qualitative")
    assert form.quote.value != before and "Devis / Quote" in form.quote.value


@pytest.mark.parametrize("mistake", ["empty code", "negative window", "duplicate event", "bad deadline"])
def test_bad_input_is_explained_inline_and_nothing_is_stored(desk: StaffDesk, mistake: str) -> None:
    form = StudySetup(desk)
    _fill(form, code="" if mistake == "empty code" else "BAD-1")
    _event(form, "BL", 0, ("phq-9",))
    if mistake == "negative window":
        _event(form, "W06", 42, ("phq-9",), before=-2)
        assert "W06" in form.status.value and "negative" in form.status.value
    if mistake == "duplicate event":
        _event(form, "BL", 7, ("gad-7",))
        assert "BL" in form.status.value and "already used" in form.status.value
        assert form.grid.value.count("J7") == 0
    if mistake == "bad deadline":
        form.deadlines.value = "soon database lock"
    form.save_button.click()
    if mistake in {"empty code", "bad deadline"}:
        assert 'role="alert"' in form.status.value
        assert ("study code" if mistake == "empty code" else "deadlines, ligne / line 1") in form.status.value
        assert _count(desk.settings, Study) == 0
    else:  # the refused event was never added; the rest of the form saves
        assert _count(desk.settings, ScheduleEvent) == 1
    assert "Traceback" not in form.status.value


def test_database_refusal_leaves_nothing_half_written(desk: StaffDesk) -> None:
    form = StudySetup(desk)
    _fill(form, code="HALF")
    form.design.value = "interventional"
    form.arm_code.value, form.arm_label.value = "A", "Arm A"
    form.add_arm_button.click()
    form.design.value = "observational"  # arms are refused by the domain at save time
    _event(form, "BL", 0, ("phq-9",))
    form.save_button.click()
    assert "only interventional" in form.status.value
    assert _count(desk.settings, Study) == 0 and _count(desk.settings, ScheduleEvent) == 0


@pytest.mark.parametrize("viewer", [None, "researcher.one", "other.manager", "nobody"])
def test_viewer_without_the_role_is_refused(staff: Settings, viewer: str | None) -> None:
    form = StudySetup(StaffDesk(staff, viewer))
    _fill(form, code="NOPE")
    form.save_button.click()
    assert 'role="alert"' in form.status.value and _count(staff, Study) == 0


def test_existing_study_is_refused_to_another_manager(desk: StaffDesk, staff: Settings) -> None:
    form = StudySetup(desk)
    _fill(form, code="MINE")
    form.save_button.click()
    other = StudySetup(StaffDesk(staff, "other.manager"), "MINE")
    assert "no role on study MINE" in other.status.value and other.title.value == ""


def test_schedule_grid_escapes_and_marks() -> None:
    html = schedule_grid_html([{"code": "<b>", "day_offset": 0, "window_before": 0, "window_after": 7,
                                "respondent_type": "patient", "instruments": ["phq-9"]}])
    assert "&lt;b&gt;" in html and "✔" in html
