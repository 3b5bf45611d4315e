"""Compliance of a running study: SISAQOL completion and available-data rates per event and arm.

Only assessments whose window has closed count; a participant who died, withdrew or stopped
questionnaires before an event was due is not expected at it (died / off study), not missing.
Loss to follow-up stays missing, as SISAQOL defines it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.analysis.reporting import compliance_table
from workbench.consent.models import Withdrawal
from workbench.participants.models import Participant, Response
from workbench.studies.service import get_study

__all__ = ["study_compliance"]


def study_compliance(session: Session, study_code: str, instrument_id: str, *,
                     today: date | None = None) -> pd.DataFrame:
    """One row per event (and arm): n/N for completion and available data, with both rates."""
    study = get_study(session, study_code)
    today = today or date.today()
    people = pd.DataFrame(
        session.execute(
            select(Participant.id, Participant.inclusion_date, Participant.arm, Participant.respondent_type,
                   Participant.status, Participant.status_since).where(Participant.study_id == study.id)
        ).all(), columns=["subject", "inclusion", "arm", "respondent", "state", "since"],
    )
    stops = pd.DataFrame(
        session.execute(
            select(Withdrawal.participant_id, Withdrawal.at).where(
                Withdrawal.scope.in_(["questionnaires", "total"]),
                Withdrawal.participant_id.in_(people["subject"].tolist() or [-1]))
        ).all(), columns=["subject", "at"],
    )
    stop_date = stops.groupby("subject")["at"].min().map(lambda t: t.date()) if len(stops) else pd.Series(dtype=object)
    received = {
        (pid, event) for pid, event in session.execute(
            select(Response.participant_id, Response.event_code).where(
                Response.instrument_id == instrument_id,
                Response.participant_id.in_(people["subject"].tolist() or [-1]))
        ).all()
    }
    arm = "arm" if people["arm"].notna().any() else None
    blocks = []
    for event in study.events if len(people) else ():  # nobody included yet: nothing is due
        if instrument_id not in event.instruments:
            continue
        cohort = people[people["respondent"] == event.respondent_type]
        due = cohort["inclusion"] + timedelta(days=event.day_offset)
        closed = cohort[due + timedelta(days=event.window_after) < today]
        if closed.empty:
            continue
        due = closed["inclusion"] + timedelta(days=event.day_offset)
        status = []
        for pid, due_day, state, since in zip(closed["subject"], due, closed["state"], closed["since"],
                                              strict=True):
            stopped = stop_date.get(pid)
            if (pid, event.code) in received:
                status.append("received")
            elif state == "deceased" and since is not None and since <= due_day:
                status.append("died")
            elif stopped is not None and stopped <= due_day:
                status.append("off_study")
            else:
                status.append("missing")
        frame = pd.DataFrame({"subject": closed["subject"].to_numpy(), "timepoint": event.code,
                              "status": status, "arm": closed["arm"].fillna("-").to_numpy()})
        blocks.append(compliance_table(frame, arm=arm))
    if not blocks:
        return pd.DataFrame(columns=["timepoint", "expected", "received", "completion", "available"])
    return pd.concat(blocks, ignore_index=True)
