"""Questionnaire scores deposited as OMOP ``measurement`` rows, next to the item ``observation``s.

Scores are recomputed from the deposited items with the same vectorised scorers as everywhere
else (half rule, no proration where the manual forbids it), so the warehouse never holds a score
its items do not support. Only instruments deposited whole are scored: a score built from items
that were not planned for deposit would leak them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

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
                       first_id: int) -> pa.Table | None:
    """``answers``: the deposit's selected sittings (``StudyAnswers.select``); ``whole``: the
    instruments deposited with all their items. Rows by instrument, scale, then sitting; None if
    there is nothing to score.

    Built as numpy columns and one Arrow table (the source values a dictionary of the few scale
    names): a pandas frame per scale and their concatenation cost more than the scoring.
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("person_id", "concept", "value", "event", "day", "code")}
    names: list[str] = []
    for instrument in sorted(whole & set(SCORE_CONCEPTS)):
        sheet = answers.sheet(instrument)
        if not len(sheet.survey_conduct_id):
            continue
        scored = score_frame(instrument, sheet.frame(), where=f"deposit of {instrument}", absent_items_blank=True)
        for scale, code in SCORE_CONCEPTS[instrument].items():
            concept = concepts.get(f"{VOCABULARY[instrument]}:{code}")
            values = pd.to_numeric(scored[scale], errors="coerce").to_numpy("float64", na_value=np.nan)
            keep = ~np.isnan(values)
            if concept is None or not keep.any():
                continue
            kept = int(keep.sum())
            parts["person_id"].append(sheet.person_id[keep].astype("int64"))
            parts["concept"].append(np.full(kept, concept, np.int32))
            parts["value"].append(values[keep])
            parts["event"].append(sheet.survey_conduct_id[keep].astype("int64"))
            parts["day"].append(sheet.day[keep].astype("datetime64[D]"))
            parts["code"].append(np.full(kept, len(names), np.int32))
            names.append(f"{instrument}.{scale}")
    if not names:
        return None
    column = {k: np.concatenate(v) for k, v in parts.items()}
    size = len(column["value"])
    return pa.table({
        "measurement_id": np.arange(size, dtype=np.int64) + first_id,
        "person_id": column["person_id"], "measurement_concept_id": column["concept"],
        "value_as_number": column["value"], "measurement_event_id": column["event"],
        "measurement_source_value": pa.DictionaryArray.from_arrays(column["code"], pa.array(names, pa.string())),
        "measurement_date": pa.array(column["day"], pa.date32()),
        "measurement_type_concept_id": np.full(size, SURVEY_DERIVED, np.int32),
        # the field concept survey_conduct.survey_conduct_id
        "meas_event_field_concept_id": np.full(size, 2000000401, np.int32),
    })
