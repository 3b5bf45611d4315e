"""Alerts queue: what the clinician sees, acknowledgement and follow-up audited, rule editor, refusal."""

from __future__ import annotations

from sqlalchemy import select

from widgets._store import in_session
from widgets.alerts_queue import AlertsQueue
from widgets.study_setup import StaffDesk
from workbench import audit
from workbench.settings import Settings
from workbench.studies.models import Alert, AlertRule

from ._seed import STUDY, fire_alerts, seed_running


def test_clinician_acknowledges_and_follows_up(staff: Settings) -> None:
    fire_alerts(staff, seed_running(staff))
    queue = AlertsQueue(StaffDesk(staff, "dr.site"), STUDY)  # a site investigator of the study
    assert "P-RUN00000" in queue.table.value and "PHQ-9 item 9 &gt; 0" in queue.table.value
    assert queue.table.value.count("Ouverte / Open") == 2
    first = queue.rows[0]["id"]
    queue.selected.value = first
    queue.follow_button.click()  # not acknowledged yet: the domain refuses, inline
    assert "acknowledge the alert" in queue.status.value
    queue.acknowledge_button.click()
    assert "acknowledged" in queue.status.value and "acknowledged by dr.site" in queue.history.value
    queue.note.value = " "
    queue.follow_button.click()
    assert "follow-up: describe the action taken" in queue.status.value
    queue.note.value, queue.close.value = "Called the patient; referred to the psycho-oncologist", True
    queue.follow_button.click()
    assert "Follow-up recorded" in queue.status.value
    assert len(queue.rows) == 1 and first not in {r["id"] for r in queue.rows}

    def check(s):  # type: ignore[no-untyped-def]
        alert = s.get(Alert, first)
        assert alert.status == "closed" and alert.acknowledged_by == "dr.site"
        assert alert.follow_up[0]["note"].startswith("Called the patient")
        trail = s.execute(select(audit.AuditEntry.action, audit.AuditEntry.actor)
                          .where(audit.AuditEntry.object_type == "alert",
                                 audit.AuditEntry.object_id == str(first))).all()
        assert ("alert.acknowledge", "dr.site") in trail and ("alert.follow_up", "dr.site") in trail

    in_session(staff, check)


def test_rule_editor_adds_a_rule_and_refuses_bad_ones(staff: Settings) -> None:
    seed_running(staff)
    queue = AlertsQueue(StaffDesk(staff, "platform.manager"), STUDY)
    assert "No open alert" in queue.table.value
    queue.rule_button.click()
    assert "item and label are required" in queue.status.value
    queue.rule_instrument.value, queue.rule_variable.value = "phq-9", "TOTAL"
    queue.rule_kind.value, queue.rule_threshold.value, queue.rule_severity.value = "worsening", 5, "medium"
    queue.rule_label.value = "PHQ-9 worse by ≥ 5"
    queue.rule_button.click()
    assert "Rule added" in queue.status.value
    rules = in_session(staff, lambda s: [(r.variable, r.kind, r.threshold, r.severity)
                                         for r in s.execute(select(AlertRule)).scalars()])
    assert rules == [("TOTAL", "worsening", 5.0, "medium")]
    # A site investigator works the queue but does not edit the rules.
    clinician = AlertsQueue(StaffDesk(staff, "dr.site"), STUDY)
    clinician.rule_variable.value, clinician.rule_label.value = "q9", "x"
    clinician.rule_button.click()
    assert "no role on study" in clinician.status.value


def test_viewer_without_a_study_role_sees_a_refusal(staff: Settings) -> None:
    fire_alerts(staff, seed_running(staff))
    for viewer in ("researcher.one", "other.manager", None):
        queue = AlertsQueue(StaffDesk(staff, viewer), STUDY)
        assert 'role="alert"' in queue.status.value and "P-RUN" not in queue.table.value
        assert queue.selected.options == ()
