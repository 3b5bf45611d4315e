"""Deposit: planned variables only, opposed and withdrawn people left out, all-or-nothing, idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select

from workbench.consent import withdraw
from workbench.demo import seed_demo
from workbench.deposit import deposit_study
from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies.models import Study
from workbench.studies.service import set_status
from workbench.trusted_party import TrustedParty, init_store, open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary, table_counts


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[tuple[TrustedParty, sa.Engine]]:
    cfg = Settings(home=tmp_path)
    init_store(cfg, actor="test")
    tp = open_trusted_party(cfg)
    warehouse = connect(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    create_schema(warehouse)
    load_mini_vocabulary(warehouse)
    with session_scope(engine) as s:
        seed_demo(s, tp, participants=60, seed=11)
    yield tp, warehouse
    tp.close()
    warehouse.dispose()


def _close(engine: Engine) -> None:
    with session_scope(engine) as s:
        set_status(s, "DEMO-QOL", "closed", actor="sm")


def test_deposit_moves_planned_variables_of_consenting_people(engine: Engine, world) -> None:  # type: ignore[no-untyped-def]
    tp, warehouse = world
    with session_scope(engine) as s, pytest.raises(ConflictError, match="only a closed study"):
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    with session_scope(engine) as s:
        people = s.execute(select(Participant).order_by(Participant.id)).scalars().all()
        withdraw(s, people[0], "reuse", reason="opposed to reuse", actor="sm")
        withdraw(s, people[1], "data_use", reason="stop all use", actor="sm")
        study = s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one()
        study.deposit_plan = ["demographics", "phq-9.q9", "gad-7.*"]  # no QLQ-C30, no condition
    _close(engine)
    with session_scope(engine) as s:
        report = deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    assert report.participants == 58 and report.excluded_opposed == 2
    counts = table_counts(warehouse)
    assert counts["person"] == 58 and counts["condition_occurrence"] == 0
    with warehouse.connect() as conn:
        sources = set(conn.exec_driver_sql("SELECT DISTINCT observation_source_value FROM observation").scalars())
        person_codes = set(conn.exec_driver_sql("SELECT person_source_value FROM person").scalars())
    assert sources <= {"phq-9.q9"} | {f"gad-7.q{i}" for i in range(1, 8)} and "phq-9.q9" in sources
    with session_scope(engine) as s:
        study_codes = set(s.execute(select(Participant.pseudonym)).scalars())
        assert s.execute(select(Study.status).where(Study.code == "DEMO-QOL")).scalar_one() == "deposited"
    assert not (person_codes & study_codes)  # warehouse pseudonyms differ from the study's
    with session_scope(engine) as s:  # a second run is a no-op
        again = deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    assert again.already_loaded and table_counts(warehouse) == counts


@pytest.mark.parametrize(("plan", "message"), [
    (["phq-9.*"], "must include 'demographics'"),
    (["demographics", "who-5.*"], "not collected"),
    (["demographics", "phq-9.q42"], "does not exist"),
    ([], "no variables planned"),
])
def test_bad_plans_are_refused_and_nothing_moves(engine: Engine, world, plan: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    tp, warehouse = world
    with session_scope(engine) as s:
        s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one().deposit_plan = plan
    _close(engine)
    before = table_counts(warehouse)
    with session_scope(engine) as s, pytest.raises(ValidationError, match=message):
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    assert table_counts(warehouse) == before


def test_interrupted_load_leaves_the_warehouse_as_it_was(engine: Engine, world,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    tp, warehouse = world
    _close(engine)
    before = table_counts(warehouse)
    import workbench.warehouse.loader as loader

    real = loader._insert
    calls = {"n": 0}

    def crash_midway(conn, name, table):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk unplugged")
        real(conn, name, table)

    monkeypatch.setattr(loader, "_insert", crash_midway)
    with session_scope(engine) as s, pytest.raises(OSError):
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    assert table_counts(warehouse) == before
    monkeypatch.setattr(loader, "_insert", real)
    with session_scope(engine) as s:
        assert s.execute(select(Study.status).where(Study.code == "DEMO-QOL")).scalar_one() == "closed"
        report = deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")  # resumed by a re-run
    assert report.participants == 60 and table_counts(warehouse)["observation"] > 0


def test_scores_of_whole_instruments_are_deposited_as_measurements(engine: Engine, world) -> None:  # type: ignore[no-untyped-def]
    from workbench.instruments.scoring import score_response

    tp, warehouse = world
    with session_scope(engine) as s:
        study = s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one()
        study.deposit_plan = ["demographics", "qlq-c30.*", "phq-9.q9"]  # PHQ-9 partial: not scored
    _close(engine)
    with session_scope(engine) as s:
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
        responses = s.execute(select(Response).where(Response.instrument_id == "qlq-c30")).scalars().all()
    with warehouse.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT m.measurement_source_value, m.value_as_number, s.survey_source_value "
            "FROM measurement m JOIN survey_conduct s ON s.survey_conduct_id = m.measurement_event_id").all()
    sources = {r[0] for r in rows}
    assert "qlq-c30.SUMMARY" in sources and "qlq-c30.PF2" in sources
    assert not any(s.startswith("phq-9") for s in sources) and {r[2] for r in rows} == {"qlq-c30"}
    expected = [score_response("qlq-c30", r.answers)["PF2"] for r in responses]
    got = sorted(round(r[1], 6) for r in rows if r[0] == "qlq-c30.PF2")
    assert got == sorted(round(v, 6) for v in expected if v is not None)


def test_planned_arm_is_deposited_per_study_and_read_by_cohort_queries(engine: Engine, world) -> None:  # type: ignore[no-untyped-def]
    from workbench.warehouse.cohort import CohortQuery
    from workbench.warehouse.criteria import Cohort

    tp, warehouse = world
    with session_scope(engine) as s:
        study = s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one()
        study.deposit_plan = ["demographics", "arm", "phq-9.*"]
        people = s.execute(select(Participant).order_by(Participant.id)).scalars().all()
        arms = {p.pseudonym: p.arm for p in people}
        people[0].arm = None  # included, never randomised: no arm row
        expected = sorted(a for p, a in arms.items() if p != people[0].pseudonym)
    _close(engine)
    with session_scope(engine) as s:
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    with warehouse.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT o.value_as_string, o.observation_source_value, o.observation_date, c.concept_code "
            "FROM observation o JOIN concept c ON c.concept_id = o.observation_concept_id "
            "WHERE o.value_as_string IS NOT NULL").all()
        answers = conn.exec_driver_sql(
            "SELECT count(*) FROM observation WHERE observation_source_value LIKE 'phq-9.%'").scalar_one()
    assert sorted(r[0] for r in rows) == expected and answers > 0
    assert {r[1] for r in rows} == {"DEMO-QOL:arm"} and {r[3] for r in rows} == {"arm"}
    query = CohortQuery(warehouse, audit=lambda record: None, actor="t", purpose="test")
    found = query.participants(Cohort("all"), ("person_id", "arm"))
    assert sorted(found["arm"].dropna()) == expected  # the cohort API's arm column reads them


def test_arm_planned_for_a_study_without_arms_is_refused(engine: Engine, world) -> None:  # type: ignore[no-untyped-def]
    from workbench.studies.models import StudyArm

    tp, warehouse = world
    with session_scope(engine) as s:
        study = s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one()
        study.deposit_plan = ["demographics", "arm"]
        s.execute(sa.delete(StudyArm).where(StudyArm.study_id == study.id))
    _close(engine)
    before = table_counts(warehouse)
    with session_scope(engine) as s, pytest.raises(ValidationError, match="has no arms"):
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    assert table_counts(warehouse) == before


def _expected_number(value: object) -> float | None:
    """What a stored answer deposits as: numbers, numeric text and yes/no as numbers, else nothing."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def test_deposited_items_are_the_stored_answers(engine: Engine, world) -> None:  # type: ignore[no-untyped-def]
    """Every numeric answer of a planned item becomes one observation with its value, however it
    was stored (number, numeric text with spaces, yes/no); empty and absent answers give none."""
    tp, warehouse = world
    with session_scope(engine) as s:
        responses = s.execute(select(Response).order_by(Response.id)).scalars().all()
        gad, phq = (next(r for r in responses if r.instrument_id == i) for i in ("gad-7", "phq-9"))
        gad.answers = {**gad.answers, "q1": "3", "q2": " 2 ", "q3": None}
        phq.answers = {k: v for k, v in phq.answers.items() if k != "q4"} | {"q5": True}
        study = s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one()
        study.deposit_plan = ["demographics", "gad-7.*", "phq-9.*"]
        expected = sorted(
            (f"{r.instrument_id}.{item}", r.event_code, number) for r in responses
            if r.instrument_id in ("gad-7", "phq-9") for item, value in r.answers.items()
            if item[1:].isdigit() and (number := _expected_number(value)) is not None)
    _close(engine)
    with session_scope(engine) as s:
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    with warehouse.connect() as conn:
        got = sorted((src, event, number) for src, event, number in conn.exec_driver_sql(
            "SELECT o.observation_source_value, s.timing_source_value, o.value_as_number FROM observation o "
            "JOIN survey_conduct s ON s.survey_conduct_id = o.observation_event_id").all())
        ids = conn.exec_driver_sql("SELECT observation_id, observation_event_id FROM observation "
                                   "ORDER BY observation_id").all()
    assert got == expected and ("gad-7.q2", gad.event_code, 2.0) in got
    assert [e for _, e in ids] == sorted(e for _, e in ids)  # ids follow the sittings


def test_a_text_answer_to_a_scored_item_is_named(engine: Engine, world) -> None:  # type: ignore[no-untyped-def]
    tp, warehouse = world
    with session_scope(engine) as s:
        gad = s.execute(select(Response).where(Response.instrument_id == "gad-7")).scalars().first()
        assert gad is not None
        gad.answers = {**gad.answers, "q4": "often"}
        study = s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one()
        study.deposit_plan = ["demographics", "gad-7.*"]
    _close(engine)
    before = table_counts(warehouse)
    with session_scope(engine) as s, pytest.raises(ValidationError, match="often"):
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    assert table_counts(warehouse) == before


def test_people_already_in_the_warehouse_keep_their_person_id(engine: Engine, world) -> None:  # type: ignore[no-untyped-def]
    """Someone deposited before (another study, same warehouse pseudonym) is not added twice."""
    tp, warehouse = world
    with session_scope(engine) as s:
        first = s.execute(select(Participant).order_by(Participant.id)).scalars().first()
        assert first is not None
        (code,) = tp.translate([first.pseudonym], "study:DEMO-QOL", "warehouse", actor="test").pseudonyms
        s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one().deposit_plan = ["demographics", "gad-7.*"]
    with warehouse.begin() as conn:
        conn.exec_driver_sql("INSERT INTO person (person_id, gender_concept_id, year_of_birth, race_concept_id, "
                             f"ethnicity_concept_id, person_source_value) VALUES (500, 0, 1950, 0, 0, '{code}')")
    _close(engine)
    with session_scope(engine) as s:
        report = deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
    with warehouse.connect() as conn:
        persons = conn.exec_driver_sql("SELECT count(*), count(DISTINCT person_source_value) FROM person").one()
        theirs = conn.exec_driver_sql("SELECT count(*) FROM observation WHERE person_id = 500").scalar_one()
    assert report.rows["person"] == 59 and tuple(persons) == (60, 60) and theirs > 0


@pytest.mark.postgres
def test_deposit_into_postgresql_holds_the_same_rows_as_into_duckdb(  # type: ignore[no-untyped-def]
        engine: Engine, world, new_warehouse, tmp_path: Path) -> None:
    """The PostgreSQL warehouse gets the deposit through COPY: same rows as DuckDB's Arrow path."""
    tp, duck = world
    postgres = new_warehouse("postgresql", tmp_path)
    _close(engine)
    query = ("SELECT o.observation_source_value, o.value_as_number, o.value_as_string, o.observation_date, "
             "s.timing_source_value FROM observation o LEFT JOIN survey_conduct s "
             "ON s.survey_conduct_id = o.observation_event_id")
    scores = "SELECT measurement_source_value, value_as_number, measurement_date FROM measurement"
    found = []
    for warehouse in (duck, postgres):
        with session_scope(engine) as s:
            s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one().status = "closed"
        with session_scope(engine) as s:
            report = deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
        with warehouse.connect() as conn:
            found.append((report.rows, sorted(map(tuple, conn.exec_driver_sql(query).all()), key=repr),
                          sorted(map(tuple, conn.exec_driver_sql(scores).all()), key=repr)))
    postgres.dispose()
    assert found[0] == found[1] and found[0][0]["observation"] > 0 and found[0][0]["measurement"] > 0
