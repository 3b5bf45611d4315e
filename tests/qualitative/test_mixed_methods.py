"""Codes beside QoL scores: one row per interviewed participant, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from workbench.audit import AuditEntry
from workbench.errors import NotFoundError, ValidationError
from workbench.instruments.scoring import score_response
from workbench.participants.models import Participant
from workbench.participants.submit import submit_response
from workbench.qualitative import CONSENSUS, build_transcript, load_starter_codebook, store
from workbench.qualitative.mixed_methods import mixed_methods_table, score_column
from workbench.qualitative.models import QualVersion
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

PEOPLE = ["P-MIX00001", "P-MIX00002", "P-MIX00003"]  # the third has scores but no interview
TURNS = [("Interviewer", "Comment allez-vous depuis la fin du traitement ?", 0, 3000),
         ("Participant", "Je suis épuisée, et j'ai peur que la maladie revienne.", 3000, 8000),
         ("Interviewer", "Et au travail ?", 8000, 9000),
         ("Participant", "J'ai repris à mi-temps, mes collègues m'aident.", 9000, 14000)]


def _phq(values: list[int]) -> dict[str, int]:
    return {f"q{i}": v for i, v in enumerate(values, start=1)}


def _who(values: list[int]) -> dict[str, int]:
    return {f"q{i}": v for i, v in enumerate(values, start=1)}


@pytest.fixture
def study(engine: Engine) -> dict[str, object]:
    with session_scope(engine) as s:
        st = studies.create_study(s, "MIX", "Mixed methods", actor="sm", design="qualitative")
        studies.add_event(s, st, "M3", "Month 3", 90, actor="sm", instruments=["phq-9", "who-5"])
        studies.add_event(s, st, "BL", "Baseline", 0, actor="sm", instruments=["phq-9", "who-5"])
        ids = {}
        for p in PEOPLE:
            person = Participant(study_id=st.id, pseudonym=p, inclusion_date=date(2026, 1, 5), language="fr")
            s.add(person)
            s.flush()
            ids[p] = person.id
        book = load_starter_codebook("fr")
        store.save_codebook(s, "MIX", book, actor="sm")
        v1 = store.add_document(s, "MIX", build_transcript("int-01", TURNS), actor="dm", participant=PEOPLE[0])
        v2 = store.add_document(s, "MIX", build_transcript("int-02", TURNS), actor="dm", participant=PEOPLE[1])
        store.add_document(s, "MIX", build_transcript("int-staff", TURNS), actor="dm")  # no participant
        codable = [c.id for c in book.codes if c.codable]
        code_a, code_b, code_c = codable[0], codable[1], codable[2]
        text = v1.text
        span = (text.index("épuisée"), text.index("épuisée") + len("épuisée"))
        fear_span = (text.index("peur"), text.index("revienne") + len("revienne"))
        work_span = (text.index("repris"), text.index("mi-temps") + len("mi-temps"))
        for coder in ("coder1", "coder2"):  # both mark the same passage: it counts once
            store.add_coding(s, v1.id, coder=coder, code_id=code_a, start=span[0], end=span[1], codebook=book)
        store.add_coding(s, v1.id, coder="coder1", code_id=code_b, start=fear_span[0], end=fear_span[1],
                         codebook=book)
        store.add_coding(s, v1.id, coder="coder2", code_id=code_a, start=work_span[0], end=work_span[1],
                         codebook=book)
        store.add_coding(s, v1.id, coder=CONSENSUS, code_id=code_c, start=work_span[0], end=work_span[1],
                         codebook=book)
        store.add_coding(s, v2.id, coder="coder1", code_id=code_c, start=work_span[0], end=work_span[1],
                         codebook=book)
        removed = store.add_coding(s, v2.id, coder="coder1", code_id=code_b, start=fear_span[0],
                                   end=fear_span[1], codebook=book)
        store.remove_coding(s, removed.id, coder="coder1")  # undone: not counted
        doc2 = s.get(QualVersion, v2.id).document_id
    with session_scope(engine) as s:  # a corrected text of int-02: only its codings count
        fixed = build_transcript("int-02", [TURNS[0], TURNS[1], TURNS[2],
                                            ("Participant", "J'ai repris à mi-temps, vraiment.", 9000, 14000)])
        store.add_version(s, doc2, fixed, actor="dm")
    answers = {
        (PEOPLE[0], "BL"): (_phq([1, 2, 1, 3, 0, 1, 2, 0, 0]), _who([3, 3, 2, 4, 1])),
        (PEOPLE[0], "M3"): (_phq([0, 1, 0, 1, 0, 0, 1, 0, 0]), None),
        (PEOPLE[1], "BL"): (_phq([3, 3, 3, 3, 2, 2, 2, 1, 0]), _who([1, 0, 1, 2, 1])),
        (PEOPLE[2], "BL"): (_phq([0, 0, 0, 0, 0, 0, 0, 0, 0]), _who([5, 5, 5, 5, 5])),
    }
    for (person, event), (phq, who) in answers.items():
        submit_response(engine, ids[person], event, "phq-9", phq, uuid.uuid4().hex)
        if who is not None:
            submit_response(engine, ids[person], event, "who-5", who, uuid.uuid4().hex)
    return {"code_a": code_a, "code_b": code_b, "code_c": code_c, "answers": answers, "codable": codable}


def test_codes_and_scores_per_participant_and_time_point(engine: Engine, study: dict) -> None:  # type: ignore[type-arg]
    code_a, code_b, code_c = study["code_a"], study["code_b"], study["code_c"]
    with session_scope(engine) as s:
        table = mixed_methods_table(s, "MIX", viewer="researcher")
    assert list(table["participant"]) == PEOPLE[:2]  # interviewed participants only
    assert table.attrs["code_columns"] == study["codable"]  # every codable code, used or not
    rows = table.set_index("participant")
    assert rows.loc[PEOPLE[0], code_a] == 2 and rows.loc[PEOPLE[0], code_b] == 1
    assert rows.loc[PEOPLE[0], code_c] == 0  # the consensus layer is not pooled with the coders
    assert rows.loc[PEOPLE[1], code_c] == 1 and rows.loc[PEOPLE[1], code_b] == 0  # undone coding left out
    assert int(rows[study["codable"]].to_numpy().sum()) == 4
    # Scores: schedule order (BL before M3 although M3 was added first), one column per scale.
    columns = table.attrs["score_columns"]
    assert columns.index(score_column("phq-9", "TOTAL", "BL")) < columns.index(score_column("phq-9", "TOTAL", "M3"))
    answers = study["answers"]
    assert rows.loc[PEOPLE[0], "phq-9:TOTAL@BL"] == sum(answers[(PEOPLE[0], "BL")][0].values()) == 10
    assert rows.loc[PEOPLE[0], "phq-9:TOTAL@M3"] == 3
    assert rows.loc[PEOPLE[1], "who-5:PERCENT@BL"] == 4 * 5
    assert np.isnan(rows.loc[PEOPLE[1], "phq-9:TOTAL@M3"])  # no response at M3
    assert "who-5:RAW@M3" not in rows  # nobody answered WHO-5 at M3: no empty column
    assert rows.loc[PEOPLE[1], "phq-9:SEVERITY@BL"] == "moderately severe"  # bands stay text
    assert pd.api.types.is_float_dtype(table["phq-9:TOTAL@BL"])
    assert list(table.columns) == ["participant", *study["codable"], *columns]


def test_presence_coder_and_filters(engine: Engine, study: dict) -> None:  # type: ignore[type-arg]
    code_a, code_c = study["code_a"], study["code_c"]
    with session_scope(engine) as s:
        present = mixed_methods_table(s, "MIX", viewer="r", presence=True, codes=[code_a, code_c],
                                      instruments=["who-5"], events=["BL"]).set_index("participant")
        consensus = mixed_methods_table(s, "MIX", viewer="r", coder=CONSENSUS, codes=[code_c])
        coder2 = mixed_methods_table(s, "MIX", viewer="r", coder="coder2", codes=[code_a])
        with pytest.raises(ValidationError, match="unknown code 'nope'"):
            mixed_methods_table(s, "MIX", viewer="r", codes=["nope"])
        with pytest.raises(NotFoundError):
            mixed_methods_table(s, "NOSUCH", viewer="r")
        audited = s.execute(select(AuditEntry).where(AuditEntry.actor == "r")).scalars().all()
    assert present.loc[PEOPLE[0], code_a] == 1 and present.loc[PEOPLE[1], code_a] == 0
    who5 = sorted(score_response("who-5", _who([1, 1, 1, 1, 1])))
    assert list(present.columns) == [code_a, code_c, *(score_column("who-5", k, "BL") for k in who5)]
    assert list(consensus[code_c]) == [1, 0]
    assert list(coder2[code_a]) == [2, 0]
    assert len(audited) == 3 and all("P-MIX" not in str(a.after) for a in audited)


def test_a_study_without_linked_transcripts_says_so(engine: Engine) -> None:
    with session_scope(engine) as s:
        studies.create_study(s, "EMPTY", "No interviews", actor="sm", design="qualitative")
        with pytest.raises(NotFoundError, match="no transcript linked to a participant"):
            mixed_methods_table(s, "EMPTY", viewer="r")
