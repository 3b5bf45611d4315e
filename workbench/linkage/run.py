"""One linkage run of a study cohort against an SNDS-shaped extract, on the trusted party's side.

The study contributes its participants' pseudonyms and their hospital stay dates (baseline
``stay_date``, else ``diagnosis_date``), and where recorded the establishment (``finess``) and diagnosis (``icd10``);
the trusted party adds sex, birth year and month and
département; the extract contributes beneficiaries and MCO stays. Links stay with the trusted
party; what is returned is the run summary (counts, thresholds, match weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ValidationError
from workbench.linkage.model import link_cohort, snds_features
from workbench.linkage.snds import read_extract
from workbench.participants.models import Participant
from workbench.studies.service import get_study
from workbench.trusted_party import TrustedParty
from workbench.trusted_party.links import linkage_variables, record_run, run_summary

__all__ = ["run_snds_linkage"]


def run_snds_linkage(session: Session, tp: TrustedParty, study_code: str, extract_dir: Path, *,
                     run_id: str, purpose: str, actor: str, accept: float = 14.0,
                     review: float = 8.0) -> dict[str, Any]:
    study = get_study(session, study_code)
    people = session.execute(select(Participant.pseudonym, Participant.baseline)
                             .where(Participant.study_id == study.id, Participant.reuse_opposed.is_(False),
                                    Participant.data_use_stopped.is_(False))).all()
    dates = {p: (b or {}).get("stay_date") or (b or {}).get("diagnosis_date") for p, b in people}
    dates = {p: d for p, d in dates.items() if d}
    finess = {p: str((b or {}).get("finess") or "") for p, b in people}
    diagnosis = {p: str((b or {}).get("icd10") or "")[:3] for p, b in people}
    if not dates:
        raise ValidationError("no participant has a hospital stay date (baseline stay_date or "
                              "diagnosis_date)", where=f"study {study_code}")
    extract = read_extract(extract_dir)
    cohort = linkage_variables(tp, list(dates), f"study:{study.code}", actor=actor, purpose=purpose)
    cohort["stay_date"] = cohort["study_id"].map(dates)
    cohort["finess"] = cohort["study_id"].map(finess)
    cohort["diagnosis"] = cohort["study_id"].map(diagnosis)
    result = link_cohort(cohort, snds_features(extract), accept=accept, review=review)
    metrics = {"participants": len(people), "with_variables": len(cohort), "pairs_scored": result.pairs_scored,
               **result.extra, "weights": result.weights.round(4).to_dict(orient="records")}
    counts = record_run(tp, run_id, f"study:{study.code}", f"snds:{Path(extract_dir).name}", result.links,
                        result.review, result.model, metrics, actor=actor)
    audit.record(session, actor=actor, action="linkage.snds", object_type="study", object_id=study.code,
                 reason=purpose, after={"run": run_id, **counts})
    return run_summary(tp, run_id)


def weights_table(summary: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(summary["metrics"].get("weights", []))
