"""Demo data for an embedded instance: one account per role, two studies, a synthetic cohort.

The cohort comes from the synthetic generator (arms, centres, follow-up with drop-out and deaths,
item-level answers), shifted so that recruitment ends a month before today: dashboards then show a
running study with its due, missed and submitted questionnaires. Its synthetic identities go to the
trusted party only, which hands back the study-domain pseudonyms the operational store uses, as in
production. Idempotent: a second run adds nothing and only issues a fresh participant link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from workbench import accounts, audit
from workbench.instruments.scoring import score_frame
from workbench.participants.models import Participant, Response
from workbench.participants.service import due_items, issue_access_token
from workbench.studies import alerts
from workbench.studies import service as studies
from workbench.studies.models import Study
from workbench.studies.setup import add_arm, add_site, configure_study
from workbench.synth import CohortSpec, generate_cohort
from workbench.synth.identities import generate_identities
from workbench.trusted_party import ContactPreferences, Identity, TrustedParty

__all__ = ["DEMO_ACCOUNTS", "DEMO_PASSWORD", "DEMO_STUDY", "DemoSummary", "seed_demo"]

DEMO_PASSWORD = "Demo-Password-2026!"
DEMO_STUDY = "DEMO-QOL"
ACTOR = "demo-seed"
INSTRUMENTS = {"QLQ-C30": "qlq-c30", "PHQ-9": "phq-9", "GAD-7": "gad-7"}
STATUS = {"dead": "deceased", "dropped_out": "lost_to_follow_up"}
CARER_PREFIX = "C-"
# instrument, variable (item or scale), kind, threshold, label, severity
ALERT_RULES = [
    ("phq-9", "q9", "above", 0, "PHQ-9 item 9 > 0 (self-harm thoughts)", "high"),
    ("phq-9", "TOTAL", "above", 19, "PHQ-9 total ≥ 20 (severe depression)", "medium"),
    ("qlq-c30", "PA", "worsening", 20, "QLQ-C30 pain worse by ≥ 20 points", "medium"),
]

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


@dataclass(frozen=True)
class DemoSummary:
    created_accounts: list[str]
    participants: int
    responses: int
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


def _seed_study(session: Session, spec: CohortSpec, cohort: pd.DataFrame) -> Study:
    study = studies.create_study(
        session, DEMO_STUDY, "Quality of life after treatment for cancer (demo cohort)",
        actor=ACTOR, design="interventional", sponsor="WeShare demo sponsor",
        description="Synthetic longitudinal QoL cohort for trying the workbench.",
    )
    configure_study(session, DEMO_STUDY, actor=ACTOR, sponsor_status="partner", sponsor_sector="academic",
                    timing="prospective", modules=["epro", "consent", "randomisation", "bubble"],
                    deposit_plan=["demographics", "condition", "arm", "qlq-c30.*", "phq-9.*", "gad-7.*"],
                    contract={"needs": "ePRO at 8 time points", "projects_per_year": 2,
                              "publication_rules": "Acknowledge ANR-21-ESRE-0017 (France 2030)"})
    for code, ratio in spec.arms:
        add_arm(session, DEMO_STUDY, code, code.capitalize(), actor=ACTOR, ratio=ratio)
    for centre in sorted(cohort["centre"].unique()):
        add_site(session, DEMO_STUDY, str(centre), str(centre), actor=ACTOR)
    for tp in spec.schedule:
        studies.add_event(session, study, tp.code, tp.label, tp.day, actor=ACTOR,
                          window_before=tp.window_before, window_after=tp.window_after,
                          instruments=list(INSTRUMENTS.values()))
        # Family carers answer the distress questionnaires on their own schedule.
        studies.add_event(session, study, CARER_PREFIX + tp.code, f"{tp.label} (carer / aidant)", tp.day,
                          actor=ACTOR, window_before=tp.window_before, window_after=tp.window_after,
                          instruments=["phq-9", "gad-7"], respondent_type="carer")
    for instrument, variable, kind, threshold, label, severity in ALERT_RULES:
        alerts.add_rule(session, DEMO_STUDY, instrument_id=instrument, variable=variable, kind=kind,
                        threshold=threshold, label=label, actor=ACTOR, severity=severity)
    studies.set_status(session, DEMO_STUDY, "active", actor=ACTOR, reason="demo data")
    carers = studies.create_study(
        session, "DEMO-CARE", "Family carers' experience of cancer care (demo, draft)",
        actor=ACTOR, design="qualitative", sponsor="WeShare demo sponsor",
    )
    studies.add_event(session, carers, "INT", "Interview", 0, actor=ACTOR, window_after=30,
                      instruments=["who-5"], respondent_type="carer")
    return study


def _status_since(row: object, status: object, today: date) -> date | None:
    column = {"dead": "death_date", "dropped_out": "dropout_date"}.get(str(status))
    value = getattr(row, column) if column else None
    if value is None or pd.isna(value):
        return None
    when = pd.Timestamp(value).date()
    return when if when <= today else None


def _responses(chunk_answers: pd.DataFrame, assessments: pd.DataFrame, ids: dict[int, int],
               carers: set[int], today: date) -> list[dict[str, object]]:
    done = assessments[(assessments["status"] == "completed")
                       & (pd.to_datetime(assessments["visit_date"]).dt.date <= today)]
    answers = chunk_answers[chunk_answers["assessment_id"].isin(done["assessment_id"])
                            & chunk_answers["participant_id"].isin(list(ids))]
    visited = dict(zip(done["assessment_id"], pd.to_datetime(done["visit_date"]), strict=True))
    rows = []
    for (assessment, pid, timepoint, instrument), part in answers.groupby(
            ["assessment_id", "participant_id", "timepoint", "instrument"], sort=False):
        event = (CARER_PREFIX if int(pid) in carers else "") + str(timepoint)
        rows.append({
            "participant_id": ids[int(pid)], "event_code": event,
            "instrument_id": INSTRUMENTS[str(instrument)],
            "submission_key": f"demo-{int(assessment):08d}-{INSTRUMENTS[str(instrument)]}",
            "answers": {f"q{int(i)}": int(v) for i, v in zip(part["item"], part["value"], strict=True)},
            "submitted_at": visited[assessment].to_pydatetime().replace(hour=10, tzinfo=UTC),
        })
    return rows


def _with_scores(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Scores as a submit would store them, computed per instrument in one vectorised pass."""
    by_instrument: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_instrument.setdefault(str(row["instrument_id"]), []).append(i)
    for instrument, positions in by_instrument.items():
        frame = pd.DataFrame([rows[i]["answers"] for i in positions])
        scored = score_frame(instrument, frame)
        scales = [c for c in scored.columns if c not in frame.columns]
        for i, values in zip(positions, scored[scales].itertuples(index=False), strict=True):
            rows[i]["answers"] = {**rows[i]["answers"], "_scores": {  # type: ignore[dict-item]
                code: (None if (isinstance(v, float) and np.isnan(v)) or v == "" else
                       (v if isinstance(v, str) else round(float(v), 6)))
                for code, v in zip(scales, values, strict=True)}}
    return rows


def _recent_alerts(session: Session, study_id: int, today: date) -> None:
    """Run the alert rules on the last month's responses so the clinician queue has real items."""
    since = datetime.combine(today - timedelta(days=30), datetime.min.time(), tzinfo=UTC)
    recent = session.execute(
        select(Response).join(Participant, Participant.id == Response.participant_id)
        .where(Participant.study_id == study_id, Response.submitted_at >= since)
        .order_by(Response.submitted_at)).scalars().all()
    for response in recent:
        values = {k: float(v) for k, v in {**response.answers, **response.answers.get("_scores", {})}.items()
                  if isinstance(v, int | float) and not isinstance(v, bool)}
        alerts.evaluate(session, response, values)


def _pseudonyms(tp: TrustedParty, n: int, seed: int, spec: CohortSpec) -> dict[str, str]:
    """Register the cohort's synthetic identities with the trusted party; key → study pseudonym."""
    frame = next(iter(generate_identities(n, seed=seed, spec=spec, chunk_size=n)))
    people = [
        Identity(r.first_name, r.last_name, pd.Timestamp(r.birth_date).date(),
                 r.sex if r.sex in ("M", "F") else "U", postcode=str(r.postcode), email=r.email,
                 contact=ContactPreferences(email=True, results=True))
        for r in frame.itertuples(index=False)
    ]
    registrations = tp.register_people(people, actor=ACTOR)
    codes = tp.pseudonyms([r.person for r in registrations], f"study:{DEMO_STUDY}", actor=ACTOR)
    return dict(zip(frame["participant_key"], codes, strict=True))


def seed_demo(session: Session, tp: TrustedParty, *, participants: int = 2000, seed: int = 2026,
              today: date | None = None, key: bytes | None = None) -> DemoSummary:
    today = today or date.today()
    created = _seed_accounts(session)
    study = session.execute(select(Study).where(Study.code == DEMO_STUDY)).scalar_one_or_none()
    responses = 0
    if study is None:
        spec = CohortSpec(recruitment_start=today - timedelta(days=730), recruitment_days=700)
        chunk = next(iter(generate_cohort(participants, seed=seed, spec=spec, chunk_size=participants)))
        cohort = chunk.participants
        study = _seed_study(session, spec, cohort)
        rng = np.random.default_rng(seed)
        pseudonyms = _pseudonyms(tp, len(cohort), seed, spec)
        # Two synthetic identities can be the same person for the trusted party (same name and
        # birth date): record linkage gives them one pseudonym, so keep the first only.
        codes = cohort["participant_key"].map(pseudonyms)
        cohort = cohort[~codes.duplicated()]
        last_status = chunk.assessments.sort_values("day").groupby("participant_id")["status"].last()
        people = [
            Participant(
                study_id=study.id, pseudonym=pseudonyms[row.participant_key],
                respondent_type=str(row.respondent_type), site=str(row.centre),
                arm=str(row.arm), inclusion_date=pd.Timestamp(row.inclusion_date).date(),
                status=STATUS.get(str(last_status.get(row.participant_id)), "active")
                if _status_since(row, last_status.get(row.participant_id), today) else "active",
                status_since=_status_since(row, last_status.get(row.participant_id), today),
                language="fr" if rng.random() < 0.85 else "en",
                baseline={"sex": str(row.sex), "birth_year": int(row.birth_year), "icd10": str(row.icd10),
                          "cancer_site": str(row.cancer_site), "stage": str(row.stage),
                          "diagnosis_date": str(pd.Timestamp(row.diagnosis_date).date()),
                          "proxy": bool(row.proxy_completion)},
            )
            for row in cohort.itertuples(index=False)
        ]
        session.add_all(people)
        session.flush()
        ids = {int(pid): p.id for pid, p in zip(cohort["participant_id"], people, strict=True)}
        carers = set(cohort.loc[cohort["respondent_type"] == "carer", "participant_id"].astype(int))
        rows = _with_scores(_responses(chunk.answers, chunk.assessments, ids, carers, today))
        if rows:
            session.execute(insert(Response), rows)
        responses = len(rows)
        _recent_alerts(session, study.id, today)
        audit.record(session, actor=ACTOR, action="participant.bulk_create", object_type="study",
                     object_id=study.code, after={"participants": len(people), "responses": responses,
                                                  "seed": seed})
    count = session.execute(
        select(func.count(Participant.id)).where(Participant.study_id == study.id)).scalar_one()
    candidates = session.execute(
        select(Participant).where(Participant.study_id == study.id, Participant.status == "active",
                                  Participant.respondent_type == "patient")
        .order_by(Participant.inclusion_date.desc()).limit(200)
    ).scalars().all()
    # Show a participant who has something to fill in (not overdue), else the newest one.
    first = next((p for p in candidates
                  if any(not d.overdue for d in due_items(session, p, today=today))), candidates[0])
    token = issue_access_token(session, first, actor=ACTOR, key=key)
    return DemoSummary(created, int(count), responses, first.pseudonym, token)
