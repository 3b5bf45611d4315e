"""The same cohort question asked of the operational store, the way one would without a warehouse.

Copies the benchmark cohort into an operational-style SQLite file (participants with their
condition and treatment in a JSON baseline, one response row per questionnaire sitting with its
30 QLQ-C30 items as JSON) and answers "cohort + mean global QoL per time point per arm" with
pandas: read the rows, parse the JSON, score, filter, group.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BREAST_IDS = (2000200002, 2000200003)
TREATMENT_DRUGS, TREATMENT_PROCS = (2000300001, 2000300003), (2000300005,)
ARM = 2000000402
QLQ_FIRST = 2000000101


def build(raw: Any, path: Path) -> None:
    """Write the operational twin of the warehouse held by the DuckDB connection ``raw``."""
    people = raw.execute(f"""
        SELECT p.person_id,
               (SELECT min(value_as_string) FROM observation o WHERE o.person_id = p.person_id
                AND o.observation_concept_id = {ARM}) AS arm,
               (SELECT min(condition_concept_id) FROM condition_occurrence c WHERE c.person_id = p.person_id) AS site,
               EXISTS (SELECT 1 FROM drug_exposure d WHERE d.person_id = p.person_id
                       AND d.drug_concept_id IN {TREATMENT_DRUGS})
               OR EXISTS (SELECT 1 FROM procedure_occurrence x WHERE x.person_id = p.person_id
                          AND x.procedure_concept_id IN ({TREATMENT_PROCS[0]})) AS treated
        FROM person p""").df()
    items = raw.execute(f"""
        SELECT o.observation_event_id AS sitting, s.person_id, s.timing_source_value AS event,
               s.timing_concept_id AS timing, o.observation_concept_id - {QLQ_FIRST - 1} AS item,
               o.value_as_number AS value
        FROM observation o JOIN survey_conduct s ON s.survey_conduct_id = o.observation_event_id
        WHERE o.observation_concept_id BETWEEN {QLQ_FIRST} AND {QLQ_FIRST + 29}""").df()
    wide = items.pivot_table(index=["sitting", "person_id", "event", "timing"], columns="item",
                             values="value", aggfunc="first").reset_index()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE participants (id INTEGER PRIMARY KEY, arm TEXT, baseline TEXT)")
    db.execute("CREATE TABLE responses (id INTEGER PRIMARY KEY, participant_id INTEGER, event_code TEXT, "
               "timing INTEGER, instrument_id TEXT, answers TEXT)")
    db.executemany("INSERT INTO participants VALUES (?, ?, ?)", [
        (int(r.person_id), r.arm, json.dumps({"site": int(r.site), "treated": bool(r.treated)}))
        for r in people.itertuples(index=False)])
    columns = [c for c in wide.columns if isinstance(c, int | np.integer)]
    values = wide[columns].to_numpy()
    db.executemany("INSERT INTO responses VALUES (?, ?, ?, ?, 'qlq-c30', ?)", [
        (int(s), int(p), str(e), int(t),
         json.dumps({f"q{int(c)}": int(v) for c, v in zip(columns, row, strict=True) if v == v}))
        for s, p, e, t, row in zip(wide["sitting"], wide["person_id"], wide["event"], wide["timing"], values,
                                   strict=True)])
    db.commit()
    db.close()


def cohort_means(path: Path) -> pd.DataFrame:
    """The pandas path over the operational store (read, parse JSON, score QL2, filter, group)."""
    db = sqlite3.connect(path)
    people = pd.read_sql("SELECT id, arm, baseline FROM participants", db)
    responses = pd.read_sql("SELECT participant_id, event_code, timing, answers FROM responses "
                            "WHERE instrument_id = 'qlq-c30'", db)
    db.close()
    base = pd.DataFrame([json.loads(b) for b in people["baseline"]])
    members = people.loc[base["site"].isin(BREAST_IDS) & base["treated"], ["id", "arm"]]
    answers = pd.DataFrame([json.loads(a) for a in responses["answers"]])
    raw = answers[["q29", "q30"]].mean(axis=1)  # half rule: one of two is enough
    responses = responses.assign(ql=(raw - 1) / 6 * 100)
    merged = responses.merge(members, left_on="participant_id", right_on="id")
    return (merged.groupby(["arm", "timing", "event_code"]).ql.agg(["count", "mean", "std"]).reset_index())
