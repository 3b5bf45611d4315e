"""Wearable exports (steps, heart rate, sleep) → time series and daily summaries per participant.

Participants are named by their **study pseudonym**; the trusted party translates it to the
warehouse pseudonym (people opposed to reuse are withheld), and the person must already be in
the warehouse (deposited study, or imported hospital record). Formats read:

- long CSV as Apple Health or Garmin exports flatten it: ``participant,type,start,end,value,unit,source``
  (``type``: StepCount / HeartRate / RestingHeartRate / SleepAnalysis, or the HealthKit
  identifiers; ``participant`` may be left out and given once for the file);
- Fitbit-style JSON: ``activities-steps`` (daily), ``activities-heart`` (resting rate, intraday
  ``intraday`` list or ``activities-heart-intraday.dataset``) and ``sleep`` logs.

Samples go to ``weshare.wearable_sample`` (only those not held yet). Daily summaries — total
steps, mean and resting heart rate, minutes asleep (counted on the day the sleep ends) — are
recomputed from every sample of the days touched and written as OMOP ``measurement`` rows
(type concept "Wearable device"), so they sit next to questionnaire scores in cohort queries;
``sitting_covariates`` gives them per questionnaire sitting.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine

from workbench.connectors.pipeline import OPPOSED, PatientRecord, Progress, Row, commit
from workbench.connectors.report import RunReport
from workbench.connectors.state import ensure_state, samples
from workbench.connectors.vocab import ensure_connector_vocabulary
from workbench.errors import ValidationError
from workbench.trusted_party import TrustedParty
from workbench.warehouse.engine import native_duckdb
from workbench.warehouse.schema import metadata

__all__ = ["DAILY", "import_wearables", "read_wearable_file", "sitting_covariates"]

WEARABLE_TYPE = 2000000621
# Daily summary → (measurement concept, unit).
DAILY = {"steps": (2000150021, "steps"), "hr_mean": (2000000611, "/min"),
         "hr_resting": (2000150023, "/min"), "sleep_minutes": (2000150024, "min")}
_TYPES = {"stepcount": "steps", "steps": "steps", "hkquantitytypeidentifierstepcount": "steps",
          "heartrate": "heart_rate", "heart_rate": "heart_rate", "hkquantitytypeidentifierheartrate": "heart_rate",
          "restingheartrate": "resting_hr", "resting_heart_rate": "resting_hr",
          "hkquantitytypeidentifierrestingheartrate": "resting_hr", "sleepanalysis": "sleep", "sleep": "sleep",
          "hkcategorytypeidentifiersleepanalysis": "sleep"}
COLUMNS = ["participant", "metric", "start_time", "end_time", "value", "device"]


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=None) if moment.tzinfo is None else \
        (moment - moment.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]


def read_wearable_file(path: Path, report: RunReport, participant: str = "") -> list[dict[str, Any]]:
    """Samples of one export; bad lines are rejected with file and line named."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    out: list[dict[str, Any]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            report.reject(path.name, f"not JSON: {exc.msg} at line {exc.lineno}")
            return []
        if not participant:
            raise ValidationError("a Fitbit-style JSON export names no participant: give --participant",
                                  where=path.name)
        return _fitbit(data, participant, path.name, report)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    need = {"type", "start", "value"} | (set() if participant else {"participant"})
    if not need <= set(header):
        raise ValidationError(f"columns {', '.join(sorted(need - set(header)))} missing", where=path.name)
    for n, raw in enumerate(reader, start=2):
        r = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        where = f"{path.name} line {n}"
        report.read["samples"] += 1
        metric = _TYPES.get(r["type"].lower().replace(" ", ""))
        if metric is None:
            report.reject(where, f"unknown sample type {r['type'][:40]!r}")
            continue
        try:
            start = _moment(r["start"])
            end = _moment(r["end"]) if r.get("end") else None
            if metric == "sleep":
                if end is None or end <= start:
                    raise ValueError
                value = (end - start).total_seconds() / 60
            else:
                value = float(r["value"])
        except ValueError:
            report.reject(where, "unreadable time or value")
            continue
        out.append({"participant": r.get("participant") or participant, "metric": metric, "start_time": start,
                    "end_time": end, "value": value, "device": (r.get("source") or None)})
    return out


def _fitbit(data: dict[str, Any], who: str, name: str, report: RunReport) -> list[dict[str, Any]]:
    out = []

    def add(metric: str, start: datetime, value: float, end: datetime | None = None) -> None:
        report.read["samples"] += 1
        out.append({"participant": who, "metric": metric, "start_time": start, "end_time": end,
                    "value": float(value), "device": "fitbit"})

    try:
        for s in data.get("activities-steps") or []:
            day = datetime.fromisoformat(s["dateTime"])
            add("steps", day, float(s["value"]), day + timedelta(days=1))
        for h in data.get("activities-heart") or []:
            day = datetime.fromisoformat(h["dateTime"])
            resting = (h.get("value") or {}).get("restingHeartRate")
            if resting is not None:
                add("resting_hr", day, resting)
            intraday = h.get("intraday") or []
            if not intraday and len(data.get("activities-heart") or []) == 1:
                intraday = (data.get("activities-heart-intraday") or {}).get("dataset") or []
            for p in intraday:
                add("heart_rate", datetime.fromisoformat(f"{h['dateTime']}T{p['time']}"), p["value"])
        for s in data.get("sleep") or []:
            start, end = _moment(s["startTime"]), _moment(s["endTime"])
            add("sleep", start, s.get("minutesAsleep") or (end - start).total_seconds() / 60, end)
    except (KeyError, TypeError, ValueError) as exc:
        report.reject(name, f"not a Fitbit-style export: {exc.__class__.__name__} {exc}"[:120])
    return out


def _daily(frame: pd.DataFrame) -> pd.DataFrame:
    """person_id/participant × day × summary from samples (steps summed, heart rate averaged)."""
    f = frame.copy()
    f["day"] = pd.to_datetime(f["start_time"]).dt.date
    sleep = f["metric"] == "sleep"
    f.loc[sleep, "day"] = pd.to_datetime(f.loc[sleep, "end_time"]).dt.date
    parts = [f[f["metric"] == "steps"].groupby(["participant", "day"])["value"].sum().rename("steps"),
             f[f["metric"] == "heart_rate"].groupby(["participant", "day"])["value"].mean().rename("hr_mean"),
             f[f["metric"] == "resting_hr"].groupby(["participant", "day"])["value"].min().rename("hr_resting"),
             f[sleep].groupby(["participant", "day"])["value"].sum().rename("sleep_minutes")]
    return pd.concat(parts, axis=1).reset_index().melt(["participant", "day"], var_name="summary").dropna()


def import_wearables(engine: Engine, tp: TrustedParty, paths: Sequence[Path], *, study: str, actor: str,
                     participant: str = "", progress: Progress | None = None) -> RunReport:
    """Import wearable exports of participants of ``study`` (named by study pseudonym)."""
    start = time.perf_counter()
    report = RunReport("wearables", f"study:{study}")
    ensure_state(engine)
    ensure_connector_vocabulary(engine, loaded_by=actor)
    found = [s for p in paths for s in read_wearable_file(Path(p), report, participant)]
    frame = pd.DataFrame(found, columns=COLUMNS).drop_duplicates(["participant", "metric", "start_time"])
    frame["person_id"] = float("nan")
    who = sorted(frame["participant"].unique())
    translation = tp.translate(who, f"study:{study}", "warehouse", actor=actor,
                               reason=f"wearable import for study {study}") if who else None
    person = metadata.tables["person"]
    codes: dict[str, tuple[str | None, str]] = {}
    with engine.connect() as conn:
        for p, code in zip(who, translation.pseudonyms if translation else [], strict=True):
            if code is None:
                codes[f"participant/{p}"] = (None, OPPOSED if tp.opposed([p], f"study:{study}", actor=actor)[0]
                                             else f"not a participant of study {study}")
                continue
            pid = conn.execute(sa.select(person.c.person_id).where(person.c.person_source_value == code)).scalar()
            codes[f"participant/{p}"] = (code, "") if pid is not None else (
                None, "not in the warehouse yet (deposit the study or import the hospital record first)")
            if pid is not None:
                frame.loc[frame["participant"] == p, "person_id"] = pid
        known = frame.dropna(subset=["person_id"])
        held = _held(conn, known)
    merged = pd.concat([held, known.drop(columns=["person_id"])], ignore_index=True).drop_duplicates(
        ["participant", "metric", "start_time"])
    touched = set(zip(known["participant"], pd.to_datetime(known["start_time"]).dt.date, strict=True)) | \
        set(zip(known["participant"], pd.to_datetime(known["end_time"]).dt.date, strict=True))
    rows = []
    for r in _daily(merged).itertuples(index=False) if len(merged) else []:
        if (r.participant, r.day) not in touched:
            continue
        concept, unit = DAILY[r.summary]
        rows.append(Row(f"wearable/{r.participant}/{r.summary}/{r.day}", f"{r.participant} {r.day} {r.summary}",
                        "measurement", f"participant/{r.participant}",
                        {"measurement_concept_id": concept, "measurement_source_concept_id": concept,
                         "measurement_source_value": f"wearable:{r.summary}", "measurement_date": r.day,
                         "measurement_type_concept_id": WEARABLE_TYPE, "value_as_number": round(float(r.value), 3),
                         "unit_source_value": unit}))
    for key, (code, why) in sorted(codes.items()):
        if code is None:  # named by study pseudonym only in the report, never a sample value
            left = int((frame["participant"] == key.split("/", 1)[1]).sum())
            report.reject(key, f"{why} ({left} sample(s) left out)")
            if why == OPPOSED:
                report.withheld_opposed += 1
    patients = {k: PatientRecord(k, k) for k, (code, _) in codes.items() if code is not None}
    new = known.assign(person_id=known["person_id"].astype("int64"))[
        ["person_id", "metric", "start_time", "end_time", "value", "device"]] if len(known) else None

    def store(conn: Connection, person_of: dict[str, int]) -> None:
        if new is not None:
            report.samples_new = _insert_samples(conn, new)

    return commit(engine, tp, report, patients, rows, actor=actor, resolver=lambda people: codes,
                  extra=store, progress=progress, started=start)


def _held(conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """Samples already stored for the people and days of this import (for whole-day summaries)."""
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    low = pd.to_datetime(frame["start_time"]).min() - timedelta(days=1)
    high = pd.to_datetime(frame["start_time"]).max() + timedelta(days=2)
    names = dict(zip(frame["person_id"].astype("int64"), frame["participant"], strict=False))
    rows = conn.execute(sa.select(samples).where(samples.c.person_id.in_(sorted(names)),
                                                 samples.c.start_time.between(low, high))).all()
    held = pd.DataFrame([tuple(r) for r in rows], columns=["person_id", *COLUMNS[1:]])
    held.insert(0, "participant", held.pop("person_id").map(names))
    return held


def _insert_samples(conn: Connection, new: pd.DataFrame) -> int:
    table = f"{samples.schema}.{samples.name}"
    before = conn.execute(sa.select(sa.func.count()).select_from(samples)).scalar_one()
    if conn.dialect.name == "duckdb":
        raw = native_duckdb(conn)
        raw.register("_wb_samples", new)
        try:
            raw.execute(f"INSERT INTO {table} SELECT n.person_id, n.metric, n.start_time, n.end_time, n.value, "
                        f"n.device FROM _wb_samples n WHERE NOT EXISTS (SELECT 1 FROM {table} s WHERE "
                        "s.person_id = n.person_id AND s.metric = n.metric AND s.start_time = n.start_time)"
                        ).fetchall()
        finally:
            raw.unregister("_wb_samples")
    else:
        records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in new.to_dict("records")]
        for i in range(0, len(records), 10_000):
            conn.execute(pg_insert(samples).on_conflict_do_nothing(), records[i:i + 10_000])
    return int(conn.execute(sa.select(sa.func.count()).select_from(samples)).scalar_one() - before)


def sitting_covariates(engine: Engine, *, window_days: int = 7) -> pd.DataFrame:
    """One row per questionnaire sitting: its scores, and the mean daily wearable summaries over
    the ``window_days`` before it (covariates next to the questionnaire scores)."""
    sc, m, c = (metadata.tables[t] for t in ("survey_conduct", "measurement", "concept"))
    with engine.connect() as conn:
        sittings = pd.DataFrame(conn.execute(sa.select(
            sc.c.survey_conduct_id, sc.c.person_id, sc.c.survey_source_value, sc.c.timing_source_value,
            sc.c.survey_start_date)).all(), columns=["survey_conduct_id", "person_id", "survey", "timepoint", "date"])
        scores = pd.DataFrame(conn.execute(sa.select(m.c.measurement_event_id, c.c.concept_code, m.c.value_as_number)
                                           .join(c, c.c.concept_id == m.c.measurement_concept_id)
                                           .where(m.c.meas_event_field_concept_id == 2000000401)).all(),
                              columns=["survey_conduct_id", "score", "value"])
        daily = pd.DataFrame(conn.execute(sa.select(m.c.person_id, m.c.measurement_date, m.c.measurement_source_value,
                                                    m.c.value_as_number)
                                          .where(m.c.measurement_type_concept_id == WEARABLE_TYPE)).all(),
                             columns=["person_id", "day", "summary", "value"])
    out = sittings.copy()
    if not scores.empty:
        out = out.merge(scores.pivot_table(index="survey_conduct_id", columns="score", values="value").reset_index(),
                        on="survey_conduct_id", how="left")
    daily["summary"] = daily["summary"].str.removeprefix("wearable:")
    for summary in DAILY:
        part = daily[daily["summary"] == summary]
        means = []
        for pid, when in zip(out["person_id"], out["date"], strict=True):
            days = part[(part["person_id"] == pid) & (part["day"] <= when)
                        & (part["day"] > when - timedelta(days=window_days))]
            means.append(days["value"].mean() if len(days) else float("nan"))
        out[f"{summary}_{window_days}d"] = means
    return out


