"""Warehouse benchmark: Arrow bulk load and cohort extraction on DuckDB.

Fills a fresh DuckDB warehouse with the seeded sample cohort (100,000 participants ≈ 25 M
observation + measurement rows; ``--quick``: 2,000) through ``load_tables`` and compares with a
bare Arrow insert of the same batches (no checks, no load log) in the same run. Then times the
cohort extraction + mean score per time point per arm through ``CohortQuery`` against the same
queries hand-written in DuckDB SQL on the same file, and against pandas on in-memory frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _operational as operational
from _harness import report, timed

from workbench.warehouse import (
    Cohort,
    CohortQuery,
    HasCondition,
    HasTreatment,
    connect,
    create_schema,
    load_mini_vocabulary,
    load_tables,
)
from workbench.warehouse.engine import native_duckdb
from workbench.warehouse.sample import sample_cohort

COHORT = Cohort("breast_treated", (HasCondition(("SNOMED:254837009",)),
                                   HasTreatment(("RxNorm:10324", "RxNorm:56946", "SNOMED:387713003"))))
BREAST_IDS = (2000200002, 2000200003)  # breast and its descendant in the mini-vocabulary
TREATMENT_DRUGS, TREATMENT_PROCS = (2000300001, 2000300003), (2000300005,)
QL, ARM, SURVEY_FIELD = 2000000201, 2000000402, 2000000401

HAND_MEMBERS = f"""
SELECT p.person_id FROM person p
WHERE p.person_id IN (SELECT person_id FROM condition_occurrence
                      WHERE condition_concept_id IN {BREAST_IDS})
  AND (p.person_id IN (SELECT person_id FROM drug_exposure WHERE drug_concept_id IN {TREATMENT_DRUGS})
       OR p.person_id IN (SELECT person_id FROM procedure_occurrence
                          WHERE procedure_concept_id IN ({TREATMENT_PROCS[0]})))"""
HAND_PARTICIPANTS = f"""
WITH cohort AS ({HAND_MEMBERS}),
arm AS (SELECT person_id, min(value_as_string) AS arm FROM observation
        WHERE observation_concept_id = {ARM} GROUP BY person_id)
SELECT p.person_id, CASE p.gender_concept_id WHEN 8532 THEN 'female' WHEN 8507 THEN 'male'
       ELSE 'other' END AS gender, p.year_of_birth, arm.arm
FROM person p JOIN cohort c ON c.person_id = p.person_id
LEFT JOIN arm ON arm.person_id = p.person_id ORDER BY p.person_id"""
HAND_MEANS = f"""
WITH cohort AS ({HAND_MEMBERS}),
arm AS (SELECT person_id, min(value_as_string) AS arm FROM observation
        WHERE observation_concept_id = {ARM} GROUP BY person_id)
SELECT arm.arm, s.timing_source_value AS timepoint, count(m.value_as_number) AS n,
       avg(m.value_as_number) AS mean, stddev_samp(m.value_as_number) AS sd
FROM measurement m JOIN cohort c ON c.person_id = m.person_id
JOIN survey_conduct s ON s.survey_conduct_id = m.measurement_event_id
     AND m.meas_event_field_concept_id = {SURVEY_FIELD}
LEFT JOIN arm ON arm.person_id = m.person_id
WHERE m.measurement_concept_id = {QL}
GROUP BY arm.arm, s.timing_source_value, s.timing_concept_id ORDER BY arm.arm, s.timing_concept_id"""


def _fill(folder: Path, persons: int, chunk: int) -> tuple[object, float, float, int, int, float, float]:
    """Load through load_tables and, batch by batch, through a bare insert into a twin file.

    Wall and CPU seconds of both (CPU summed over threads): on a shared machine the wall figure
    follows the other jobs; the rows per CPU-second do not.
    """
    engine = connect(f"duckdb:///{folder / 'warehouse.duckdb'}")
    bare = connect(f"duckdb:///{folder / 'bare.duckdb'}")
    for e in (engine, bare):
        create_schema(e)
        load_mini_vocabulary(e)
    checked = plain = checked_cpu = plain_cpu = 0.0
    rows = obs_rows = 0
    for i, batch in enumerate(sample_cohort(persons, seed=42, chunk=chunk)):
        start, cpu = time.perf_counter(), time.process_time()
        result = load_tables(engine, f"bench-{i}", batch, source="bench", loaded_by="bench")
        checked += time.perf_counter() - start
        checked_cpu += time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        with bare.begin() as conn:
            raw = native_duckdb(conn)
            for name, table in batch.items():
                raw.register("_t", table)
                cols = ", ".join(table.column_names)
                raw.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _t").fetchall()
                raw.unregister("_t")
        plain += time.perf_counter() - start
        plain_cpu += time.process_time() - cpu
        rows += sum(result.row_counts.values())
        obs_rows += result.row_counts["observation"] + result.row_counts["measurement"]
    bare.dispose()
    return engine, checked, plain, rows, obs_rows, checked_cpu, plain_cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 participants, seconds")
    parser.add_argument("--persons", type=int, default=None)
    args = parser.parse_args()
    persons = args.persons or (2_000 if args.quick else 100_000)
    chunk = 1_000 if args.quick else 10_000
    with tempfile.TemporaryDirectory(prefix="bench_wh_") as tmp:
        engine, checked, plain, rows, obs_rows, checked_cpu, plain_cpu = _fill(Path(tmp), persons, chunk)
        report("warehouse load (load_tables, all tables)", rows / checked, "rows/s",
               baseline=rows / plain, baseline_name="bare Arrow insert, no checks",
               persons=persons, rows=rows, seconds=round(checked, 2), cpu_seconds=round(checked_cpu, 2))
        report("warehouse load, observation+measurement rows", obs_rows / checked, "rows/s",
               target=">= 1e6 rows/s on DuckDB", rows=obs_rows)
        report("warehouse load per CPU-second (all threads; independent of the machine's other jobs)",
               rows / checked_cpu, "rows/CPU-s", baseline=rows / plain_cpu,
               baseline_name="bare Arrow insert, no checks", cores=os.cpu_count())
        log: list[dict] = []
        query = CohortQuery(engine, audit=log.append, actor="bench", purpose="benchmark")

        def builder() -> tuple[pd.DataFrame, pd.DataFrame]:
            return query.participants(COHORT), query.mean_score_by_arm(COHORT, "EORTC-QLQ-C30:QL")

        with engine.connect() as conn:
            raw = native_duckdb(conn)

            def hand() -> tuple[pd.DataFrame, pd.DataFrame]:
                return raw.execute(HAND_PARTICIPANTS).df(), raw.execute(HAND_MEANS).df()

            builder()  # warm caches for both paths alike
            hand()
            built_s, (members, means) = timed(builder, repeat=5)
            hand_s, (hand_members, hand_means) = timed(hand, repeat=5)
            frames = {t: raw.execute(f"SELECT * FROM {t}").df() for t in (
                "condition_occurrence", "drug_exposure", "procedure_occurrence", "survey_conduct")}
            frames["person"] = raw.execute("SELECT person_id, gender_concept_id, year_of_birth "
                                           "FROM person").df()
            frames["arm"] = raw.execute(f"SELECT person_id, value_as_string AS arm FROM observation "
                                        f"WHERE observation_concept_id = {ARM}").df()
            frames["m"] = raw.execute(
                "SELECT person_id, measurement_event_id, value_as_number FROM measurement "
                f"WHERE measurement_concept_id = {QL}").df()
        assert members.person_id.tolist() == hand_members.person_id.tolist()
        assert np.allclose(means["mean"].astype(float), hand_means["mean"].astype(float))

        def with_pandas() -> pd.DataFrame:
            cond, drug, proc = frames["condition_occurrence"], frames["drug_exposure"], \
                frames["procedure_occurrence"]
            ids = set(cond.person_id[cond.condition_concept_id.isin(BREAST_IDS)]) & (
                set(drug.person_id[drug.drug_concept_id.isin(TREATMENT_DRUGS)])
                | set(proc.person_id[proc.procedure_concept_id.isin(TREATMENT_PROCS)]))
            m = frames["m"][frames["m"].person_id.isin(ids)]
            m = m.merge(frames["survey_conduct"][["survey_conduct_id", "timing_source_value",
                                                   "timing_concept_id"]],
                        left_on="measurement_event_id", right_on="survey_conduct_id")
            m = m.merge(frames["arm"].groupby("person_id").arm.min().reset_index(), on="person_id")
            return (m.groupby(["arm", "timing_concept_id", "timing_source_value"])
                    .value_as_number.agg(["count", "mean", "std"]).reset_index())

        pandas_s, pandas_means = timed(with_pandas, repeat=3)
        assert np.allclose(pandas_means["mean"], means["mean"].astype(float))
        report("cohort + mean score per time point per arm (CohortQuery)", built_s, "s",
               baseline=hand_s, baseline_name="hand-written DuckDB SQL",
               target="<= 1 s and <= 1.5x hand SQL", persons=persons, cohort=len(members))
        report("cohort + mean score per time point per arm (CohortQuery) vs pandas", built_s, "s",
               baseline=pandas_s, baseline_name="pandas on in-memory frames (load excluded)")
        if persons > 200_000:  # the JSON copy of 1 M participants' items does not fit in memory
            print("operational-store baseline skipped above 200,000 participants", flush=True)
            engine.dispose()
            return 0
        with engine.connect() as conn:
            operational.build(native_duckdb(conn), Path(tmp) / "operational.sqlite")
        store_s, store_means = timed(lambda: operational.cohort_means(Path(tmp) / "operational.sqlite"))
        assert np.allclose(store_means["mean"], means["mean"].astype(float))
        report("cohort + mean score per time point per arm (CohortQuery) vs the operational store",
               built_s, "s", baseline=store_s,
               baseline_name="pandas over the operational SQLite store (read, parse JSON, score, group)")
        assert len(log) >= 2 and all(r["event"] == "warehouse.query" for r in log)
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
