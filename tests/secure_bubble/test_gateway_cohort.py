"""Cohorts through the gateway: the extract narrowed to the people meeting every criterion, each
criterion approved and read in the extract's studies only; SQL in criteria refused and audited.
On DuckDB and PostgreSQL; then once through the served gateway and the client."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from secure_bubble.client import Cohort, Demographics, HasCondition, ScoreAt, Warehouse
from secure_bubble.gateway.extract import extract
from secure_bubble.gateway.pseudonyms import ProjectPseudonyms
from secure_bubble.gateway.rows import study_people
from tests.demo_study import deposit_demo, open_stores
from tests.secure_bubble.conftest import approve_projects
from tests.secure_bubble.served import served_gateway, wait_until_up
from workbench import audit
from workbench.errors import NotFoundError, PermissionDenied, ValidationError
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.trusted_party import TrustedParty

WOMEN_DEPRESSED_WITH_C50 = Cohort("women_c50", (
    Demographics(sex="female"), ScoreAt("LOINC:44261-6", "BL", low=10), HasCondition(("SNOMED:254837009",))))


def _truth(wh: sa.Engine, tp: TrustedParty) -> set[str]:
    """The project pseudonyms of women with a PHQ-9 total of 10 or more at baseline and a C50
    diagnosis, from the warehouse tables directly."""
    with wh.connect() as conn:
        women = set(conn.execute(sa.text("SELECT person_id FROM person WHERE gender_concept_id = 8532")).scalars())
        depressed = set(conn.execute(sa.text(
            "SELECT m.person_id FROM measurement m JOIN survey_conduct s ON s.survey_conduct_id = m.measurement_event_id "
            "WHERE m.measurement_source_value = 'phq-9.TOTAL' AND s.timing_source_value = 'BL' "
            "AND m.value_as_number >= 10")).scalars())
        c50 = set(conn.execute(sa.text(
            "SELECT person_id FROM condition_occurrence WHERE condition_source_value = 'DEMO-QOL:C50'")).scalars())
        people = study_people(conn, ["DEMO-QOL"])
    release = ProjectPseudonyms().release(tp, people, "P1", actor="test")
    slots = dict(zip(release.people["person_id"].to_pylist(), release.people["slot"].to_pylist(), strict=True))
    return {release.pseudonyms[slots[p]].as_py() for p in women & depressed & c50 if p in slots}


def _refusals(op: sa.Engine) -> list[str]:
    with session_scope(op) as s:
        return [e.reason or "" for e in s.execute(sa.select(audit.AuditEntry).where(
            audit.AuditEntry.action == "gateway.refused").order_by(audit.AuditEntry.seq)).scalars()]


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_a_cohort_narrows_the_extract_to_its_people(kind: str, tmp_path: Path, new_warehouse) -> None:  # type: ignore[no-untyped-def]
    op, tp = open_stores(Settings(home=tmp_path))
    wh = new_warehouse(kind, tmp_path)
    try:
        deposit_demo(op, tp, wh, participants=80, seed=4)
        with session_scope(op) as s:
            approve_projects(s, tp, "ana", {"P1": {"DEMO-QOL": ["phq-9.*", "demographics", "condition"]},
                                            "P2": {"DEMO-QOL": ["phq-9.*"]}})
        truth = _truth(wh, tp)
        assert 0 < len(truth) < 80  # the criteria keep some people, not all
        with session_scope(op) as s:
            table = extract(s, tp, wh, "P1", "ana", ["phq-9.*"], cohort=WOMEN_DEPRESSED_WITH_C50)
            whole = extract(s, tp, wh, "P1", "ana", ["phq-9.*"])
        assert set(table["participant"].to_pylist()) == truth
        kept = whole.filter(pd.Series(whole["participant"].to_pylist()).isin(truth).to_numpy())
        assert table.num_rows == kept.num_rows  # every row of theirs, nobody else's
        with session_scope(op) as s:
            entry = s.execute(sa.select(audit.AuditEntry).where(audit.AuditEntry.action == "gateway.extract")
                              .order_by(audit.AuditEntry.seq)).scalars().all()[-2]
        assert entry.after["in_cohort"] == len(truth) and entry.after["cohort"]["name"] == "women_c50"
        for cohort, error, message in [
            (Cohort("c", (Demographics(sex="female"),)), PermissionDenied, "'demographics' needs it approved in DEMO-QOL"),
            (Cohort("c", (HasCondition((2000200002,)),)), PermissionDenied, "'condition' needs it approved in DEMO-QOL"),
            (Cohort("c", (ScoreAt("LOINC:70274-6", "BL", low=10),)), PermissionDenied, "'gad-7.TOTAL'"),
        ]:
            with session_scope(op) as s, pytest.raises(error, match=message):
                extract(s, tp, wh, "P2", "ana", ["phq-9.*"], cohort=cohort)
        assert len(_refusals(op)) == 3
    finally:
        tp.close()
        wh.dispose()
        op.dispose()


@pytest.fixture(scope="module")
def cohort_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, sa.Engine]]:
    with served_gateway(tmp_path_factory.mktemp("cohort")) as served:  # P1: phq-9.* and condition
        wait_until_up(served[0])
        yield served


def test_the_client_sends_a_cohort(cohort_gateway: tuple[str, sa.Engine]) -> None:
    url, _op = cohort_gateway
    client = Warehouse("P1", url=url, token="tok-ana")
    whole = client.extract(["phq-9.*"])
    theirs = client.extract(["phq-9.*"], cohort=Cohort("depressed", (ScoreAt("LOINC:44261-6", "BL", low=10),)))
    totals = whole[whole["variable"] == "phq-9.q1"]  # everyone answered at baseline
    assert 0 < theirs["participant"].nunique() < totals["participant"].nunique()
    assert set(theirs["participant"]) < set(whole["participant"])
    # the same cohort as JSON (a notebook parameter) gives the same people
    described = Cohort("depressed", (ScoreAt("LOINC:44261-6", "BL", low=10),)).describe()
    assert set(client.extract(["phq-9.*"], cohort=described)["participant"]) == set(theirs["participant"])


def test_a_bad_cohort_is_refused_by_the_client_before_asking(cohort_gateway: tuple[str, sa.Engine]) -> None:
    url, op = cohort_gateway
    with session_scope(op) as s:
        before = s.execute(sa.select(sa.func.max(audit.AuditEntry.seq))).scalar_one()
    client = Warehouse("P1", url=url, token="tok-ana")
    with pytest.raises(ValidationError, match=r"cohort.criteria\[0\].sex"):
        client.extract(["phq-9.*"], cohort={"name": "x", "criteria": [{"type": "Demographics", "sex": "f' --"}]})
    with session_scope(op) as s:  # nothing reached the gateway
        assert s.execute(sa.select(sa.func.max(audit.AuditEntry.seq))).scalar_one() == before


@pytest.mark.parametrize(("cohort", "error", "message"), [
    ({"name": "x", "criteria": [{"type": "ScoreAt", "concept": "LOINC:44261-6", "timepoint": "BL' OR 1=1 --"}]},
     ValidationError, r"cohort.criteria\[0\].timepoint: .* raw SQL fragment"),
    ({"name": "x", "criteria": [{"type": "HasCondition", "concepts": ["SNOMED:1; DROP TABLE person"]}]},
     ValidationError, "raw SQL fragment"),
    ({"name": "x", "criteria": [{"type": "Raw", "sql": "SELECT 1"}]}, ValidationError, "type is one of"),
    ({"name": "x", "criteria": [{"type": "ScoreAt", "concept": "LOINC:44261-6", "timepoint": "BL", "sql": "1"}]},
     ValidationError, "ScoreAt takes"),
    ({"name": "x); DROP TABLE person; --", "criteria": [{"type": "HasCondition", "concepts": [1]}]},
     ValidationError, "raw SQL fragment"),
    ({"name": "x", "criteria": [{"type": "HasTreatment", "concepts": ["RxNorm:1"]}]}, PermissionDenied,
     "treatments are not served"),
    ({"name": "x", "criteria": [{"type": "HasCondition", "concepts": ["SNOMED:0000"]}]}, NotFoundError,
     "unknown concept"),
    ({"name": "x", "criteria": []}, ValidationError, "at least one criterion"),
])
def test_bad_or_hostile_criteria_are_refused_and_audited(cohort_gateway: tuple[str, sa.Engine], cohort: object,
                                                          error: type[Exception], message: str) -> None:
    url, op = cohort_gateway
    before = len(_refusals(op))
    reply = requests.post(f"{url}/api/extract", timeout=30, headers={"Authorization": "token tok-ana"},
                          data=json.dumps({"project": "P1", "variables": ["phq-9.*"], "cohort": cohort}))
    status = {ValidationError: 400, PermissionDenied: 403, NotFoundError: 404}[error]
    assert reply.status_code == status and reply.headers["Content-Type"].startswith("application/json")
    assert re.search(message, reply.json()["error"])
    reasons = _refusals(op)
    assert len(reasons) == before + 1 and re.search(message, reasons[-1])
