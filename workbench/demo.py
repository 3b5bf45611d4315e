"""Demo data for an embedded instance: one account per role, two studies, a synthetic cohort.

Idempotent: a second run adds nothing and only issues a fresh participant link to print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench import accounts, audit
from workbench.participants.models import Participant
from workbench.participants.service import FORMS_HOME, issue_access_token
from workbench.studies import service as studies
from workbench.studies.models import Study

__all__ = ["DEMO_ACCOUNTS", "DEMO_PASSWORD", "FORMS_HOME", "DemoSummary", "seed_demo"]

DEMO_PASSWORD = "Demo-Password-2026!"
DEMO_STUDY = "DEMO-QOL"
ACTOR = "demo-seed"

# username, display name, roles
DEMO_ACCOUNTS: list[tuple[str, str, list[str]]] = [
    ("admin.demo", "Demo administrator", ["administrator"]),
    ("manager.demo", "Demo study manager", [f"study_manager:study:{DEMO_STUDY}"]),
    ("researcher.demo", "Demo researcher", ["researcher"]),
    ("coder.demo", "Demo coder", [f"coder:study:{DEMO_STUDY}"]),
    ("committee.demo", "Demo committee member", ["committee_member"]),
    ("checker.demo", "Demo output checker", ["output_checker"]),
    ("steward.demo", "Demo data steward", ["data_steward"]),
    ("participant.demo", "Demo participant", [f"participant:study:{DEMO_STUDY}"]),
]

_SCHEDULE = [
    # code, label, day, before, after, instruments, respondent
    ("BL", "Baseline / Inclusion", 0, 0, 14, ["qlq-c30", "phq-9", "gad-7"], "patient"),
    ("W06", "Week 6", 42, 7, 7, ["qlq-c30", "phq-9"], "patient"),
    ("W12", "Week 12", 84, 7, 14, ["qlq-c30", "phq-9", "gad-7"], "patient"),
    ("W24", "Week 24", 168, 14, 14, ["qlq-c30", "phq-9", "gad-7"], "patient"),
    ("W48", "Week 48", 336, 14, 28, ["qlq-c30", "phq-9", "gad-7"], "patient"),
    ("C-BL", "Carer baseline", 0, 0, 14, ["who-5", "gad-7"], "carer"),
    ("C-W24", "Carer week 24", 168, 14, 14, ["who-5", "gad-7"], "carer"),
]


@dataclass(frozen=True)
class DemoSummary:
    created_accounts: list[str]
    participants: int
    participant_pseudonym: str
    participant_token: str


def _seed_accounts(session: Session) -> list[str]:
    existing = set(session.execute(select(accounts.User.username)).scalars())
    created = []
    for username, name, roles in DEMO_ACCOUNTS:
        if username in existing:
            continue
        staff = not all(r.startswith("participant") for r in roles)
        accounts.add_user(
            session, username, actor=ACTOR, display_name=name, email=f"{username}@weshare.invalid",
            password=DEMO_PASSWORD, roles=roles, enrol_totp=staff,
        )
        created.append(username)
    return created


def _seed_studies(session: Session) -> Study:
    if session.execute(select(Study.id).where(Study.code == DEMO_STUDY)).first():
        return studies.get_study(session, DEMO_STUDY)
    study = studies.create_study(
        session, DEMO_STUDY, "Quality of life after treatment for cancer (demo cohort)",
        actor=ACTOR, design="observational", sponsor="WeShare demo sponsor",
        description="Synthetic longitudinal QoL cohort for trying the workbench.",
    )
    for code, label, day, before, after, instruments, respondent in _SCHEDULE:
        studies.add_event(session, study, code, label, day, actor=ACTOR, window_before=before,
                          window_after=after, instruments=instruments, respondent_type=respondent)
    studies.set_status(session, DEMO_STUDY, "active", actor=ACTOR, reason="demo data")
    carers = studies.create_study(
        session, "DEMO-CARE", "Family carers' experience of cancer care (demo, draft)",
        actor=ACTOR, design="qualitative", sponsor="WeShare demo sponsor",
    )
    studies.add_event(session, carers, "INT", "Interview", 0, actor=ACTOR, window_after=30,
                      respondent_type="carer")
    return study


def _seed_participants(session: Session, study: Study, n: int, today: date, seed: int) -> int:
    have = session.execute(
        select(func.count(Participant.id)).where(Participant.study_id == study.id)
    ).scalar_one()
    if have:
        return int(have)
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
    codes = rng.choice(alphabet, size=(n, 8))
    sites = rng.choice(["IGR", "CLB", "ICM", "IUCT", "CFB"], size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    carer = rng.random(n) < 0.15
    days_ago = rng.integers(0, 400, size=n)
    lang = np.where(rng.random(n) < 0.85, "fr", "en")
    rows = [
        Participant(
            study_id=study.id, pseudonym="P-" + "".join(codes[i]),
            respondent_type="carer" if carer[i] else "patient", site=str(sites[i]),
            inclusion_date=today - timedelta(days=int(days_ago[i])), language=str(lang[i]),
        )
        for i in range(n)
    ]
    session.add_all(rows)
    session.flush()
    audit.record(session, actor=ACTOR, action="participant.bulk_create", object_type="study",
                 object_id=study.code, after={"count": n, "seed": seed})
    return n


def seed_demo(session: Session, *, participants: int = 2000, seed: int = 2026,
              today: date | None = None, key: bytes | None = None) -> DemoSummary:
    created = _seed_accounts(session)
    study = _seed_studies(session)
    count = _seed_participants(session, study, participants, today or date.today(), seed)
    first = session.execute(
        select(Participant)
        .where(Participant.study_id == study.id, Participant.respondent_type == "patient")
        .order_by(Participant.id).limit(1)
    ).scalar_one()
    token = issue_access_token(session, first, actor=ACTOR, key=key)
    return DemoSummary(created, count, first.pseudonym, token)
