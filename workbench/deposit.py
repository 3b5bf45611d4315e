"""Depositing a closed study into the warehouse: only the planned variables, only people who did
not oppose, re-pseudonymised by the trusted party, loaded as one all-or-nothing unit.

The load id is ``deposit:<STUDY>``: a second run finds it and only finishes the bookkeeping, so a
crash between the warehouse load and the study's status change is resumed by running again, and
a crash during the load leaves the warehouse as it was (the loader's single transaction).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench import audit
from workbench.deposit_answers import StudyAnswers
from workbench.deposit_scores import score_measurements
from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Participant
from workbench.studies.models import Study
from workbench.studies.service import get_study, set_status
from workbench.trusted_party import TrustedParty
from workbench.warehouse.engine import native_duckdb
from workbench.warehouse.loader import open_load, to_arrow
from workbench.warehouse.schema import metadata as warehouse_metadata

__all__ = ["DepositReport", "deposit_study", "plan_variables"]

Progress = Callable[[str, int, int], None]
SURVEY_NAMES = {"qlq-c30": "QLQ-C30", "phq-9": "PHQ-9", "gad-7": "GAD-7"}
SURVEY_CONCEPT_NAMES = {"qlq-c30": "EORTC QLQ-C30 version 3.0", "phq-9": "PHQ-9 quick depression assessment panel",
                        "gad-7": "GAD-7 panel"}
GENDER = {"M": 8507, "F": 8532}
PATIENT_FILLED_SURVEY = 32862
REGISTRY = 32879
# Cancer sites of the studies → SNOMED codes of the mini-vocabulary (others: malignant neoplasm).
CANCER_SITES = {"breast": "254837009", "lung": "363358000", "colorectal": "363406005",
                "prostate": "399068003", "ovary": "363443007"}
GENERIC_CANCER = "363346000"
ARM_CONCEPT = "WeShare:arm"


@dataclass
class DepositReport:
    study: str
    load_id: str
    participants: int = 0
    excluded_opposed: int = 0
    excluded_unknown: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0
    already_loaded: bool = False

    def __str__(self) -> str:
        rows = ", ".join(f"{k} {v}" for k, v in sorted(self.rows.items()))
        if self.already_loaded:
            return f"{self.study} was already in the warehouse as {self.load_id}; rows: {rows}"
        return (f"{self.study} deposited as {self.load_id}: {self.participants} participants "
                f"({self.excluded_opposed} left out for opposition or withdrawal, "
                f"{self.excluded_unknown} unknown to the trusted party); rows: {rows}")


def plan_variables(session: Session, study: Study, answers: pd.DataFrame | None = None,
                   ) -> dict[str, set[str] | None]:
    """The deposit plan checked against what the study collects: name → items (None = all).

    ``answers`` holds the study's (instrument, item) pairs (``StudyAnswers.pairs``) when the caller has them.
    """
    plan = list(study.deposit_plan or [])
    if not plan:
        raise ValidationError(f"study {study.code} has no variables planned for deposit", where="deposit plan")
    if "demographics" not in plan:
        raise ValidationError("must include 'demographics' (OMOP needs each person's sex and birth year)",
                              where="deposit plan")
    instruments = {i for e in study.events for i in e.instruments}
    if answers is None:
        with StudyAnswers.read(session, study.id) as stored:
            answers = stored.pairs()
    pairs = answers[["instrument", "item"]].drop_duplicates().itertuples(index=False)
    items: dict[str, set[str]] = {}
    for instrument, item in pairs:
        if not item.startswith("_"):
            items.setdefault(instrument, set()).add(item)
    chosen: dict[str, set[str] | None] = {}
    for entry in plan:
        if entry in ("demographics", "condition"):
            chosen[entry] = None
            continue
        if entry == "arm":
            if not study.arms:
                raise ValidationError(f"planned variable 'arm': study {study.code} has no arms",
                                      where="deposit plan")
            chosen[entry] = None
            continue
        instrument, _, item = entry.partition(".")
        if instrument not in instruments or instrument not in SURVEY_NAMES:
            raise ValidationError(f"planned variable {entry!r} is not collected by study {study.code}",
                                  where="deposit plan")
        if item in ("", "*"):
            chosen[instrument] = None
        elif item in items.get(instrument, set()):
            current = chosen.setdefault(instrument, set())
            if current is not None:
                current.add(item)
        else:
            raise ValidationError(f"planned variable {entry!r} does not exist in study {study.code}",
                                  where="deposit plan")
    return chosen


def _concepts(conn: sa.Connection) -> dict[str, int]:
    concept = warehouse_metadata.tables["concept"]
    rows = conn.execute(sa.select(concept.c.concept_name, concept.c.concept_code, concept.c.vocabulary_id,
                                  concept.c.concept_id)).all()
    out = {r.concept_name: int(r.concept_id) for r in rows}
    out.update({f"{r.vocabulary_id}:{r.concept_code}": int(r.concept_id) for r in rows})
    return out


def _next_ids(conn: sa.Connection) -> dict[str, int]:
    out = {}
    for table, column in (("person", "person_id"), ("observation_period", "observation_period_id"),
                          ("condition_occurrence", "condition_occurrence_id"),
                          ("survey_conduct", "survey_conduct_id"), ("observation", "observation_id"),
                          ("measurement", "measurement_id")):
        t = warehouse_metadata.tables[table]
        out[table] = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.c[column]), 0))).scalar_one()) + 1
    return out


def _known_people(conn: sa.Connection, codes: list[str]) -> dict[str, int]:
    """Warehouse pseudonym → person_id of the people the warehouse already holds.

    On DuckDB one join against the codes as an Arrow table (an ``IN`` list of 10^4–10^5 bound
    values costs more to compile and bind than to run); elsewhere ``IN`` in slices.
    """
    if conn.dialect.name == "duckdb":
        raw = native_duckdb(conn)
        raw.register("_wb_codes", pa.table({"code": pa.array(codes, pa.string())}))
        try:
            return dict(raw.execute("SELECT p.person_source_value, p.person_id FROM person p "
                                    "JOIN _wb_codes c ON c.code = p.person_source_value").fetchall())
        finally:
            raw.unregister("_wb_codes")
    person = warehouse_metadata.tables["person"]
    known: dict[str, int] = {}
    for i in range(0, len(codes), 10_000):
        known.update(conn.execute(sa.select(person.c.person_source_value, person.c.person_id)
                                  .where(person.c.person_source_value.in_(codes[i:i + 10_000]))).all())
    return known


def _item_concept(variable: str, concepts: dict[str, int]) -> int | None:
    instrument, _, item = variable.partition(".")
    label = SURVEY_NAMES.get(instrument)
    if label is None or not (item.startswith("q") and item[1:].isdigit()):
        return None
    return concepts.get(f"{label} item {int(item[1:])}")


def deposit_study(session: Session, tp: TrustedParty, warehouse: sa.Engine, study_code: str, *,
                  actor: str, progress: Progress | None = None) -> DepositReport:
    """Move the planned variables of a closed study into the warehouse and mark it deposited."""
    tick = progress or (lambda stage, done, total: None)
    study = get_study(session, study_code)
    load_id = f"deposit:{study.code}"
    load_log = warehouse_metadata.tables["load_log"]
    with warehouse.connect() as conn:
        done = conn.execute(sa.select(load_log.c.row_counts).where(load_log.c.load_id == load_id)).first()
    if done is None and study.status != "closed":
        raise ConflictError(f"study {study.code} is {study.status}: only a closed study can be deposited")
    if done is not None:
        report = DepositReport(study.code, load_id, already_loaded=True, rows=json.loads(done.row_counts))
        if study.status == "closed":
            set_status(session, study.code, "deposited", actor=actor, reason="deposit resumed")
        return report
    every_answer = StudyAnswers.read(session, study.id)
    chosen = plan_variables(session, study, every_answer.pairs())
    tick("participants", 0, 1)
    people = pd.DataFrame(session.execute(
        sa.select(Participant.id, Participant.pseudonym, Participant.inclusion_date, Participant.baseline,
                  Participant.reuse_opposed, Participant.data_use_stopped, Participant.arm)
        .where(Participant.study_id == study.id)).all(),
        columns=["pid", "pseudonym", "inclusion", "baseline", "opposed", "stopped", "arm"])
    report = DepositReport(study.code, load_id)
    allowed = people[~(people["opposed"] | people["stopped"])]
    translation = tp.translate(allowed["pseudonym"].tolist(), f"study:{study.code}", "warehouse",
                               actor=actor, reason=f"deposit of {study.code}")
    allowed = allowed.assign(wh=translation.pseudonyms)
    report.excluded_opposed = int(len(people) - len(allowed) + translation.withheld_opposed)
    report.excluded_unknown = int(translation.unknown)
    allowed = allowed[allowed["wh"].notna()]
    missing_demo = [p for p, b in zip(allowed["pseudonym"], allowed["baseline"], strict=True)
                    if not str(b.get("birth_year", "")).isdigit()]
    if missing_demo:
        raise ValidationError(f"{len(missing_demo)} participant(s) have no birth year, e.g. {missing_demo[0]}",
                              where="demographics")
    tick("participants", 1, 1)
    with warehouse.connect() as conn:
        concepts, ids = _concepts(conn), _next_ids(conn)
        known = _known_people(conn, allowed["wh"].tolist())
    new = [c for c in allowed["wh"] if c not in known]
    person_ids = {**known, **{c: ids["person"] + i for i, c in enumerate(new)}}
    allowed = allowed.assign(person_id=allowed["wh"].map(person_ids))
    # Each table goes to the warehouse as soon as it is built: the loader checks and inserts it
    # (DuckDB, without the GIL) while the next one is built, all in the load's one transaction.
    with every_answer, open_load(warehouse, load_id, source=f"study {study.code} (operational store)",
                                 loaded_by=actor) as load:
        _build(study, allowed, chosen, concepts, ids, set(new), tick, every_answer, load.add)
        result = load.finish()
    report.participants, report.rows, report.load_seconds = len(allowed), result.row_counts, result.seconds
    set_status(session, study.code, "deposited", actor=actor, reason=f"deposit {load_id}")
    audit.record(session, actor=actor, action="warehouse.deposit", object_type="study", object_id=study.code,
                 after={"load_id": load_id, "rows": result.row_counts, "participants": len(allowed),
                        "excluded": report.excluded_opposed, "plan": sorted(chosen)})
    return report


def _build(study: Study, people: pd.DataFrame, chosen: dict[str, set[str] | None],
           concepts: dict[str, int], ids: dict[str, int], new_people: set[str], tick: Progress,
           every_answer: StudyAnswers, emit: Callable[[str, pd.DataFrame | pa.Table], None]) -> None:
    """Build the deposit's tables and ``emit`` each, parents first, the largest as early as can be."""
    fresh = people[people["wh"].isin(new_people)]
    emit("person", pd.DataFrame({
        "person_id": fresh["person_id"].astype("int64"),
        "gender_concept_id": [GENDER.get(str(b.get("sex", "")), 0) for b in fresh["baseline"]],
        "year_of_birth": [int(b["birth_year"]) for b in fresh["baseline"]],
        "race_concept_id": 0, "ethnicity_concept_id": 0,
        "person_source_value": fresh["wh"], "gender_source_value": [str(b.get("sex", "")) for b in fresh["baseline"]],
    }))
    if "condition" in chosen:
        codes = [f"SNOMED:{CANCER_SITES.get(str(b.get('cancer_site')), GENERIC_CANCER)}" for b in people["baseline"]]
        emit("condition_occurrence", pd.DataFrame({
            "condition_occurrence_id": range(ids["condition_occurrence"], ids["condition_occurrence"] + len(people)),
            "person_id": people["person_id"].astype("int64"),
            "condition_concept_id": [concepts.get(c, concepts[f"SNOMED:{GENERIC_CANCER}"]) for c in codes],
            "condition_start_date": [date.fromisoformat(b.get("diagnosis_date") or str(i))
                                     for b, i in zip(people["baseline"], people["inclusion"], strict=True)],
            "condition_type_concept_id": REGISTRY,
            "condition_source_value": [f"{study.code}:{b.get('icd10', b.get('cancer_site', ''))}"[:50]
                                       for b in people["baseline"]],
        }))
    surveys = [k for k in chosen if k in SURVEY_NAMES]
    tick("questionnaires", 0, 1)
    # Sittings, item rows and score pivots are SQL over the answers exploded once in DuckDB:
    # Arrow columns throughout, no Python object per answer.
    sittings = every_answer.select(pa.table({"pid": people["pid"].to_numpy("int64"),
                                             "person_id": people["person_id"].to_numpy("int64")}),
                                   surveys, ids["survey_conduct"])
    # Arrow columns as they come: constants are one shared array, the study code a dictionary.
    size = sittings.num_rows
    survey_concepts = {k: concepts[SURVEY_CONCEPT_NAMES[k]] for k in SURVEY_NAMES}
    zero = pa.array(np.zeros(size, np.int32))
    emit("survey_conduct", pa.table({
        "survey_conduct_id": sittings["survey_conduct_id"], "person_id": sittings["person_id"],
        "survey_concept_id": pc.take(pa.array(np.array(list(survey_concepts.values()), np.int32)),
                                     pc.index_in(sittings["instrument"], pa.array(list(survey_concepts)))),
        "survey_start_date": sittings["day"], "survey_end_datetime": sittings["submitted_at"],
        "timing_source_value": sittings["event"],
        "survey_source_identifier": pa.DictionaryArray.from_arrays(pa.array(np.zeros(size, np.int32)),
                                                                   pa.array([study.code])),
        "survey_source_value": sittings["instrument"],
        "assisted_concept_id": zero, "respondent_type_concept_id": zero, "timing_concept_id": zero,
        "collection_method_concept_id": zero, "survey_source_concept_id": zero, "validated_survey_concept_id": zero,
    }))
    seen = sittings.group_by("person_id").aggregate([("day", "max")])
    last_seen = dict(zip(seen["person_id"].to_pylist(), seen["day_max"].to_pylist(), strict=True))
    emit("observation_period", pd.DataFrame({
        "observation_period_id": range(ids["observation_period"], ids["observation_period"] + len(people)),
        "person_id": people["person_id"].astype("int64"),
        "observation_period_start_date": people["inclusion"].tolist(),
        "observation_period_end_date": [max(last_seen.get(p, i), i) for p, i in
                                        zip(people["person_id"], people["inclusion"], strict=True)],
        "period_type_concept_id": REGISTRY,
    }))
    # Few distinct variables: map each once rather than parsing every row.
    variables: dict[str, dict[str, int]] = {}
    for instrument, item in every_answer.pairs().itertuples(index=False):
        wanted, concept = chosen.get(instrument, set()), _item_concept(f"{instrument}.{item}", concepts)
        if instrument in surveys and (wanted is None or item in wanted) and concept is not None:
            variables.setdefault(instrument, {})[item] = concept
    # The scores first: their insert runs while the observation rows are placed, and the
    # largest insert, the observations', follows.
    scores = score_measurements(every_answer, {k for k, v in chosen.items() if v is None}, concepts,
                                ids["measurement"])
    if scores is not None:
        emit("measurement", scores)
    observations = every_answer.observations(variables, ids["observation"], PATIENT_FILLED_SURVEY)
    if "arm" in chosen:
        arms = to_arrow("observation", _arm_rows(study.code, people, concepts,
                                                 ids["observation"] + observations.num_rows))
        observations = pa.concat_tables([to_arrow("observation", observations), arms], promote_options="default")
    emit("observation", observations)
    tick("questionnaires", 1, 1)




def _arm_rows(study_code: str, people: pd.DataFrame, concepts: dict[str, int], first_id: int) -> pd.DataFrame:
    """One observation per randomised participant: the arm as text, dated at inclusion.

    The source value names the study (``S1:arm``) because one warehouse person may have been
    randomised in several studies; the gateway serves a study's arm by it.
    """
    randomised = people[people["arm"].notna() & (people["arm"].astype(str) != "")]
    return pd.DataFrame({
        "observation_id": np.arange(len(randomised), dtype="int64") + first_id,
        "person_id": randomised["person_id"].astype("int64").to_numpy(),
        "observation_concept_id": concepts[ARM_CONCEPT],
        "observation_date": pd.to_datetime(randomised["inclusion"]).to_numpy(),
        "value_as_string": randomised["arm"].astype(str).to_numpy(),
        "observation_source_value": f"{study_code}:arm"[:50],
        "observation_type_concept_id": REGISTRY,
    })
