"""Exports of collected questionnaires: tidy long and wide tables, REDCap-compatible records and a
FHIR R4 QuestionnaireResponse bundle, with optional de-identification.

Participants who asked to stop any further use of their data are left out of every export, at
once. De-identification drops free text and shifts dates by a per-participant offset derived from
a key (stable across exports, unknown without the key, intervals within a person preserved).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ValidationError
from workbench.participants.models import Participant, Response
from workbench.studies.models import Study
from workbench.studies.service import get_study

__all__ = ["fhir_bundle", "long_table", "redcap_records", "scores_table", "wide_table"]

MAX_SHIFT_DAYS = 180


def _shift_days(key: bytes, pseudonym: str) -> int:
    digest = hmac.new(key, f"date-shift:{pseudonym}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") % (2 * MAX_SHIFT_DAYS + 1) - MAX_SHIFT_DAYS


def long_table(session: Session, study_code: str, *, actor: str, instrument: str | None = None,
               deidentify_key: bytes | None = None) -> pd.DataFrame:
    """One row per answered item: participant, arm, site, event, instrument, item, value, date."""
    study = get_study(session, study_code)
    query = (select(Participant.pseudonym, Participant.arm, Participant.site, Participant.respondent_type,
                    Response.event_code, Response.instrument_id, Response.submitted_at, Response.answers)
             .join(Participant, Participant.id == Response.participant_id)
             .where(Participant.study_id == study.id, Participant.data_use_stopped.is_(False))
             .order_by(Participant.pseudonym, Response.submitted_at))
    if instrument:
        query = query.where(Response.instrument_id == instrument)
    records = []
    for pseudonym, arm, site, respondent, event, instr, at, answers in session.execute(query):
        day = at.date()
        if deidentify_key is not None:
            day = day + timedelta(days=_shift_days(deidentify_key, pseudonym))
        for item, value in answers.items():
            if item.startswith("_"):
                continue
            if deidentify_key is not None and isinstance(value, str) and not _numeric(value):
                continue  # free text can name people or places
            records.append((pseudonym, arm, site, respondent, event, instr, item, value, day))
    frame = pd.DataFrame(records, columns=["participant", "arm", "site", "respondent_type", "event",
                                           "instrument", "item", "value", "date"])
    audit.record(session, actor=actor, action="data.export", object_type="study", object_id=study_code,
                 after={"format": "long", "rows": len(frame), "instrument": instrument,
                        "deidentified": deidentify_key is not None})
    return frame


def _numeric(value: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", value.strip()))


def _item_order(item: str) -> tuple[int, str, int]:
    """q1, q2, … q10 in questionnaire order, then unnumbered fields (comments) by name."""
    match = re.fullmatch(r"(\D*)(\d+)", item)
    return (0, match.group(1), int(match.group(2))) if match else (1, item, 0)


def wide_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per participant, event and instrument; items as columns in questionnaire order."""
    if long.empty:
        return pd.DataFrame(columns=["participant", "arm", "site", "event", "instrument", "date"])
    keys = ["participant", "arm", "site", "event", "instrument", "date"]
    # unstack keeps only the combinations present (pivot_table with dropna=False would build the
    # full cross product of the keys) and keeps rows whose arm is empty.
    wide = long.set_index([*keys, "item"])["value"].unstack("item").reset_index()
    wide.columns.name = None
    items = sorted((c for c in wide.columns if c not in keys), key=_item_order)
    return wide[keys + items]


def scores_table(long: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """One row per response of one instrument: items, then its scales scored from the items.

    Scores are recomputed here from the exported items, so a de-identified export and its scores
    always agree.
    """
    from workbench.instruments.scoring import score_frame

    part = long[long["instrument"] == instrument]
    if part.empty:
        raise ValidationError(f"no {instrument} responses to score", where="--instrument")
    return score_frame(instrument, wide_table(part), absent_items_blank=True)


def _unique_event_name(code: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", code.lower().replace("-", "")).strip("_")
    return f"{name}_arm_1"


def redcap_records(long: pd.DataFrame) -> pd.DataFrame:
    """REDCap's record export shape: record_id, redcap_event_name, fields, <form>_complete = 2."""
    if long.empty:
        return pd.DataFrame(columns=["record_id", "redcap_event_name"])
    frames = []
    for instrument, part in long.groupby("instrument", sort=True):
        form = re.sub(r"[^a-z0-9]+", "_", str(instrument).lower()).strip("_")
        wide = part.set_index(["participant", "event", "item"])["value"].unstack("item")
        wide = wide[sorted(wide.columns, key=_item_order)]
        wide.columns = [f"{form}_{c}" for c in wide.columns]
        wide = wide.reset_index()
        wide[f"{form}_complete"] = 2
        frames.append(wide)
    merged = frames[0]
    for other in frames[1:]:
        merged = merged.merge(other, on=["participant", "event"], how="outer")
    merged.insert(1, "redcap_event_name", merged.pop("event").map(_unique_event_name))
    return merged.rename(columns={"participant": "record_id"})


def fhir_bundle(session: Session, study_code: str, *, actor: str, canonical_base: str,
                participant: str | None = None) -> dict[str, Any]:
    """A FHIR R4 collection Bundle of QuestionnaireResponse resources (subject = study pseudonym)."""
    if not canonical_base.startswith(("http://", "https://")):
        raise ValidationError("must be an absolute URL", where="questionnaire canonical base")
    study = get_study(session, study_code)
    query = (select(Participant.pseudonym, Participant.respondent_type, Response)
             .join(Participant, Participant.id == Response.participant_id)
             .join(Study, Study.id == Participant.study_id)
             .where(Study.id == study.id, Participant.data_use_stopped.is_(False)))
    if participant:
        query = query.where(Participant.pseudonym == participant)
    entries = []
    for pseudonym, respondent, response in session.execute(query.order_by(Response.id)):
        items = [{"linkId": k, "answer": [_fhir_value(v)]}
                 for k, v in sorted(response.answers.items(), key=lambda kv: _item_order(kv[0]))
                 if not k.startswith("_") and v is not None]
        resource = {
            "resourceType": "QuestionnaireResponse",
            "id": f"{study.code.lower()}-{response.id}",
            "questionnaire": f"{canonical_base.rstrip('/')}/Questionnaire/{response.instrument_id}",
            "status": "completed",
            "subject": {"identifier": {"system": f"urn:weshare:study:{study.code}", "value": pseudonym}},
            "authored": response.submitted_at.isoformat(timespec="seconds"),
            "source": {"type": "RelatedPerson" if respondent == "carer" else "Patient"},
            "extension": [{"url": "urn:weshare:event", "valueString": response.event_code}],
            "item": items,
        }
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    audit.record(session, actor=actor, action="data.export", object_type="study", object_id=study_code,
                 after={"format": "fhir", "resources": len(entries), "participant": participant})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _fhir_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}
