"""Exports: long/wide/REDCap/FHIR shapes, de-identification, withdrawn participants left out."""

from __future__ import annotations

from datetime import date

import pytest
from fhir.resources.bundle import Bundle
from sqlalchemy import Engine

from workbench.consent import withdraw
from workbench.participants.exports import fhir_bundle, long_table, redcap_records, wide_table
from workbench.participants.models import Participant, Response
from workbench.storage.engine import session_scope
from workbench.studies import service as studies


@pytest.fixture
def data(engine: Engine) -> None:
    with session_scope(engine) as s:
        st = studies.create_study(s, "EXP", "Exports", actor="sm")
        people = [Participant(study_id=st.id, pseudonym=f"P-EXP{i}", inclusion_date=date(2026, 1, 1),
                              arm="A" if i % 2 else "B", site="IGR") for i in range(3)]
        s.add_all(people)
        s.flush()
        for i, p in enumerate(people):
            s.add(Response(participant_id=p.id, event_code="BL", instrument_id="phq-9",
                           submission_key=f"k-{i}-bl-phq9-000000",
                           answers={f"q{n}": n % 4 for n in range(1, 11)} | {"comment": "Dr Martin was kind",
                                                                              "_scores": {"TOTAL": 9}}))
            s.add(Response(participant_id=p.id, event_code="W-6", instrument_id="gad-7",
                           submission_key=f"k-{i}-w6-gad7-000000", answers={"q1": 2, "q2": 1}))
        withdraw(s, people[2], "data_use", reason="asked to stop any use", actor="sm")


def test_shapes_and_withdrawal(engine: Engine, data: None) -> None:
    with session_scope(engine) as s:
        long = long_table(s, "EXP", actor="dm")
    assert set(long["participant"]) == {"P-EXP0", "P-EXP1"}  # P-EXP2 stopped data use
    assert "_scores" not in set(long["item"])
    wide = wide_table(long[long["instrument"] == "phq-9"])
    assert list(wide.columns[6:]) == [f"q{n}" for n in range(1, 11)] + ["comment"]
    assert len(wide) == 2  # one row per participant and form, nothing more
    assert len(wide_table(long)) == 4
    red = redcap_records(long)
    phq = [c for c in red.columns if c.startswith("phq_9_q")]
    assert phq == [f"phq_9_q{n}" for n in range(1, 11)]
    assert {"record_id", "redcap_event_name", "phq_9_q1", "phq_9_complete", "gad_7_complete"} <= set(red.columns)
    assert set(red["redcap_event_name"]) == {"bl_arm_1", "w6_arm_1"}


def test_deidentified_export_drops_text_and_shifts_dates(engine: Engine, data: None) -> None:
    with session_scope(engine) as s:
        plain = long_table(s, "EXP", actor="dm")
        shifted = long_table(s, "EXP", actor="dm", deidentify_key=b"k" * 32)
        again = long_table(s, "EXP", actor="dm", deidentify_key=b"k" * 32)
    assert "comment" in set(plain["item"]) and "comment" not in set(shifted["item"])
    assert shifted["date"].tolist() == again["date"].tolist()  # stable across exports
    per_person = shifted.groupby("participant")["date"].nunique()
    assert (per_person == plain[plain["item"] != "comment"].groupby("participant")["date"].nunique()).all()


def test_fhir_bundle_is_valid_r4(engine: Engine, data: None) -> None:
    with session_scope(engine) as s:
        bundle = fhir_bundle(s, "EXP", actor="dm", canonical_base="https://weshare.example.org/fhir")
    parsed = Bundle.model_validate(bundle) if hasattr(Bundle, "model_validate") else Bundle.parse_obj(bundle)
    assert len(parsed.entry) == 4
    first = bundle["entry"][0]["resource"]
    assert first["item"][0] == {"linkId": "q1", "answer": [{"valueInteger": 1}]}


def test_scores_table_scores_the_exported_items(engine: Engine, data: None) -> None:
    from workbench.errors import ValidationError
    from workbench.participants.exports import scores_table

    with session_scope(engine) as s:
        long = long_table(s, "EXP", actor="dm", deidentify_key=b"k" * 32)
    scores = scores_table(long, "phq-9")
    # items q1..q9 = 1,2,3,0,1,2,3,0,1 → total 13, item 9 = 1
    assert scores["TOTAL"].tolist() == [13, 13] and scores["ITEM9_FLAG"].tolist() == [1, 1]
    assert scores["SEVERITY"].tolist() == ["moderate", "moderate"]
    gad = scores_table(long, "gad-7")
    assert gad["TOTAL"].isna().all() and gad["MISSING"].tolist() == [5, 5]  # no proration
    with pytest.raises(ValidationError, match="no who-5 responses"):
        scores_table(long, "who-5")
