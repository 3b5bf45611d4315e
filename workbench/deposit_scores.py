"""Questionnaire scores deposited as OMOP ``measurement`` rows, next to the item ``observation``s.

Scores are recomputed from the deposited items with the same vectorised scorers as everywhere
else (half rule, no proration where the manual forbids it), so the warehouse never holds a score
its items do not support. Only instruments deposited whole are scored: a score built from items
that were not planned for deposit would leak them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.deposit_answers import StudyAnswers
from workbench.instruments.scoring import score_frame

__all__ = ["SCORE_CONCEPTS", "score_measurements"]

# instrument → scale code → concept key in the vocabulary ("VOCABULARY:code")
SCORE_CONCEPTS: dict[str, dict[str, str]] = {
    "qlq-c30": {"QL2": "QL", "PF2": "PF", "RF2": "RF", "EF": "EF", "CF": "CF", "SF": "SF", "FA": "FA",
                "NV": "NV", "PA": "PA", "DY": "DY", "SL": "SL", "AP": "AP", "CO": "CO", "DI": "DI",
                "FI": "FI", "SUMMARY": "SUMMARY"},
    "phq-9": {"TOTAL": "44261-6"},
    "gad-7": {"TOTAL": "70274-6"},
}
VOCABULARY = {"qlq-c30": "EORTC-QLQ-C30", "phq-9": "LOINC", "gad-7": "LOINC"}
SURVEY_DERIVED = 32862  # "Patient filled survey" measurement type, as for the items


def score_measurements(answers: StudyAnswers, whole: set[str], concepts: dict[str, int],
                       first_id: int) -> pd.DataFrame:
    """``answers``: the deposit's selected sittings (``StudyAnswers.select``); ``whole``: the
    instruments deposited with all their items."""
    frames = []
    for instrument in sorted(whole & set(SCORE_CONCEPTS)):
        sheet = answers.sheet(instrument)
        if not len(sheet.survey_conduct_id):
            continue
        scored = score_frame(instrument, sheet.frame(), where=f"deposit of {instrument}", absent_items_blank=True)
        for scale, code in SCORE_CONCEPTS[instrument].items():
            concept = concepts.get(f"{VOCABULARY[instrument]}:{code}")
            values = pd.to_numeric(scored[scale], errors="coerce")
            keep = values.notna().to_numpy()
            if concept is None or not keep.any():
                continue
            frames.append(pd.DataFrame({
                "person_id": sheet.person_id[keep].astype("int64"),
                "measurement_concept_id": concept,
                "value_as_number": values.to_numpy()[keep].astype("float64"),
                "measurement_event_id": sheet.survey_conduct_id[keep].astype("int64"),
                "measurement_source_value": f"{instrument}.{scale}",
                "measurement_date": sheet.day[keep],
            }))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "measurement_id", np.arange(len(out), dtype="int64") + first_id)
    out["measurement_type_concept_id"] = SURVEY_DERIVED
    out["meas_event_field_concept_id"] = 2000000401  # the field concept survey_conduct.survey_conduct_id
    return out
