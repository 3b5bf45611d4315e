"""Alert rules evaluated on each scored response, and the clinician queue with follow-up."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.storage.base import utcnow
from workbench.studies.models import Alert, AlertRule
from workbench.studies.service import get_study

__all__ = ["acknowledge", "add_follow_up", "add_rule", "evaluate", "open_alerts"]

KINDS = ("above", "below", "worsening")


def add_rule(session: Session, study_code: str, *, instrument_id: str, variable: str, kind: str,
             threshold: float, label: str, actor: str, severity: str = "high") -> AlertRule:
    study = get_study(session, study_code)
    if kind not in KINDS:
        raise ValidationError(f"one of {', '.join(KINDS)}", where="alert kind")
    if severity not in {"high", "medium", "low"}:
        raise ValidationError("high, medium or low", where="alert severity")
    rule = AlertRule(study_id=study.id, instrument_id=instrument_id, variable=variable, kind=kind,
                     threshold=float(threshold), severity=severity, label=label)
    session.add(rule)
    session.flush()
    audit.record(session, actor=actor, action="alert.rule.add", object_type="study", object_id=study_code,
                 after={"instrument": instrument_id, "variable": variable, "kind": kind,
                        "threshold": threshold})
    return rule


def _previous_value(session: Session, response: Response, variable: str) -> float | None:
    earlier = session.execute(
        select(Response).where(Response.participant_id == response.participant_id,
                               Response.instrument_id == response.instrument_id,
                               Response.id != response.id,
                               Response.submitted_at <= response.submitted_at)
        .order_by(Response.submitted_at.desc()).limit(1)
    ).scalar_one_or_none()
    if earlier is None:
        return None
    value = (earlier.answers.get("_scores") or {}).get(variable, earlier.answers.get(variable))
    return None if value is None else float(value)


def evaluate(session: Session, response: Response, values: Mapping[str, float | None]) -> list[Alert]:
    """Create alerts for one response; ``values`` holds its item answers and scale scores."""
    participant = session.get(Participant, response.participant_id)
    assert participant is not None
    rules = session.execute(select(AlertRule).where(
        AlertRule.study_id == participant.study_id, AlertRule.instrument_id == response.instrument_id
    )).scalars()
    created = []
    for rule in rules:
        value = values.get(rule.variable)
        if value is None:
            continue
        if rule.kind == "above":
            fired = value > rule.threshold
        elif rule.kind == "below":
            fired = value < rule.threshold
        else:
            previous = _previous_value(session, response, rule.variable)
            fired = previous is not None and value - previous >= rule.threshold
        if fired:
            alert = Alert(study_id=participant.study_id, rule_id=rule.id, participant_id=participant.id,
                          response_id=response.id, value=float(value))
            session.add(alert)
            session.flush()
            audit.record(session, actor="system", action="alert.create", object_type="alert",
                         object_id=alert.id, after={"rule": rule.label, "participant": participant.pseudonym})
            created.append(alert)
    return created


def open_alerts(session: Session, study_code: str) -> list[tuple[Alert, AlertRule, str]]:
    """The clinician queue: open and acknowledged alerts, most severe and oldest first."""
    study = get_study(session, study_code)
    rows = session.execute(
        select(Alert, AlertRule, Participant.pseudonym)
        .join(AlertRule, AlertRule.id == Alert.rule_id)
        .join(Participant, Participant.id == Alert.participant_id)
        .where(Alert.study_id == study.id, Alert.status != "closed")
    ).all()
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(((a, r, p) for a, r, p in rows), key=lambda t: (order[t[1].severity], t[0].created_at))


def acknowledge(session: Session, alert_id: int, *, clinician: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}")
    if alert.status != "open":
        raise ConflictError(f"alert {alert_id} is already {alert.status}")
    alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", clinician, utcnow()
    audit.record(session, actor=clinician, action="alert.acknowledge", object_type="alert", object_id=alert_id)
    return alert


def add_follow_up(session: Session, alert_id: int, *, clinician: str, note: str, close: bool = False) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}")
    if alert.status == "open":
        raise ConflictError("acknowledge the alert before recording its follow-up")
    if alert.status == "closed":
        raise ConflictError(f"alert {alert_id} is closed")
    if not note.strip():
        raise ValidationError("describe the action taken", where="follow-up")
    alert.follow_up = [*alert.follow_up, {"by": clinician, "at": utcnow().isoformat(), "note": note.strip()}]
    if close:
        alert.status = "closed"
    audit.record(session, actor=clinician, action="alert.follow_up", object_type="alert", object_id=alert_id,
                 reason=note.strip(), after={"status": alert.status})
    return alert
