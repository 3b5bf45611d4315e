"""Consent: sign with manifestation, outdated versions, re-consent, withdrawal, tamper detection."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from workbench import audit
from workbench.consent import (
    SignatureInput,
    countersign,
    current_document,
    publish_document,
    sign,
    verify_vault,
    withdraw,
)
from workbench.errors import ConflictError, ValidationError
from workbench.participants.models import Participant
from workbench.participants.service import due_items, ensure_can_collect
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

STROKES = [[(0.1 + i * 0.05, 0.5 + (-1) ** i * 0.2) for i in range(12)]]
QUESTIONS = [{"id": "q1", "question": "Can you stop at any time?", "choices": ["Yes", "No"], "answer": 0}]
OPTIONAL = [{"code": "future_contact", "label": "Contact me about new studies"},
            {"code": "warehouse_reuse", "label": "Reuse of my data in the warehouse"}]


def _sig(**changes: object) -> SignatureInput:
    values: dict[str, object] = dict(
        printed_name="Camille Martin", strokes=STROKES, time_zone="Europe/Paris",
        auth_method="personal link + birth year", certified=True, answers={"q1": 0},
        optional_choices={"future_contact": True, "warehouse_reuse": True},
    )
    values.update(changes)
    return SignatureInput(**values)  # type: ignore[arg-type]


@pytest.fixture
def study(engine: Engine) -> int:
    with session_scope(engine) as s:
        st = studies.create_study(s, "CONS", "Consent study", actor="sm")
        studies.add_event(s, st, "BL", "Baseline", 0, actor="sm", window_after=30, instruments=["phq-9"])
        publish_document(s, "CONS", language="fr", version="1.0", title="Information et consentement",
                         body="Vous êtes invité(e) à participer…\nVous pouvez arrêter à tout moment.",
                         actor="sm", ethics_ref="CPP-2026-001", comprehension=QUESTIONS,
                         optional_consents=OPTIONAL,
                         materials=[{"kind": "video", "title": "Présentation", "url": "https://v/1"}])
        p = Participant(study_id=st.id, pseudonym="P-CONSENT1", inclusion_date=date.today(), language="fr")
        s.add(p)
        s.flush()
        return p.id


def test_signing_writes_pdf_whose_hash_is_in_the_audit_chain(engine: Engine, study: int, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        p = s.get(Participant, study)
        doc = current_document(s, p)
        record = sign(s, tmp_path, p, doc.id, _sig())
        record_id, sha = record.id, record.pdf_sha256
    pdf = (tmp_path / record.vault_path).read_bytes()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == sha
    with session_scope(engine) as s:
        entry = s.execute(select(audit.AuditEntry).where(audit.AuditEntry.action == "consent.sign")).scalar_one()
        assert entry.object_id == str(record_id) and entry.after["pdf_sha256"] == sha
        assert "Camille" not in str(entry.after)  # no name in the operational store
        assert verify_vault(s, tmp_path, "CONS").ok


def test_second_signature_and_bad_input_are_refused(engine: Engine, study: int, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        p = s.get(Participant, study)
        doc_id = current_document(s, p).id
        for bad, where in [
            (_sig(certified=False), "certification"), (_sig(printed_name=" "), "printed name"),
            (_sig(strokes=[[(0.1, 0.1)]]), "signature"), (_sig(strokes=[[(2.0, 0.1)] * 20]), "signature"),
            (_sig(time_zone="Mars/Olympus"), "time zone"), (_sig(answers={"q1": 1}), "question 1"),
            (_sig(optional_choices={"future_contact": True}), "optional consents"),
        ]:
            with pytest.raises(ValidationError, match=where):
                sign(s, tmp_path, p, doc_id, bad)
        sign(s, tmp_path, p, doc_id, _sig())
        with pytest.raises(ConflictError, match="already signed"):
            sign(s, tmp_path, p, doc_id, _sig())


def test_new_version_requires_reconsent_and_blocks_collection(engine: Engine, study: int, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        p = s.get(Participant, study)
        old = current_document(s, p).id
        sign(s, tmp_path, p, old, _sig())
        assert [d.instrument_id for d in due_items(s, p)] == ["phq-9"]
        publish_document(s, "CONS", language="fr", version="2.0", title="Consentement v2",
                         body="Nouveau texte.", actor="sm", optional_consents=OPTIONAL)
    with session_scope(engine) as s:
        p = s.get(Participant, study)
        assert p.reconsent_required and due_items(s, p) == []
        with pytest.raises(ConflictError, match="new consent version"):
            ensure_can_collect(p)
        with pytest.raises(ConflictError, match=r"replaced by version 2\.0"):
            sign(s, tmp_path, p, old, _sig())
        sign(s, tmp_path, p, current_document(s, p).id, _sig(answers={}))
        assert not p.reconsent_required and due_items(s, p)


def test_withdrawal_takes_effect_at_once(engine: Engine, study: int, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        p = s.get(Participant, study)
        sign(s, tmp_path, p, current_document(s, p).id, _sig(optional_choices={
            "future_contact": False, "warehouse_reuse": False}))
        assert p.reuse_opposed and not p.questionnaires_stopped
        with pytest.raises(ValidationError, match="reason"):
            withdraw(s, p, "questionnaires", reason=" ", actor="sm")
        withdraw(s, p, "questionnaires", reason="tired", actor="sm")
        assert due_items(s, p) == []
        with pytest.raises(ConflictError, match="stop answering"):
            ensure_can_collect(p)
        withdraw(s, p, "total", reason="not given", actor=p.pseudonym)
        assert p.status == "withdrawn" and p.data_use_stopped
        with pytest.raises(ConflictError, match="already withdrawn"):
            withdraw(s, p, "reuse", reason="x", actor="sm")
        with pytest.raises(ConflictError, match="withdrawn"):
            sign(s, tmp_path, p, current_document(s, p).id, _sig())
        actions = [e.action for e in s.execute(select(audit.AuditEntry)).scalars()]
        assert actions.count("consent.withdraw") == 2


def test_tampered_pdf_and_countersignature(engine: Engine, study: int, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        p = s.get(Participant, study)
        record = sign(s, tmp_path, p, current_document(s, p).id, _sig())
        countersign(s, tmp_path, record.id, investigator="dr.house", printed_name="Dr Gregory House",
                    strokes=STROKES, time_zone="Europe/Paris")
        with pytest.raises(ConflictError, match="already countersigned"):
            countersign(s, tmp_path, record.id, investigator="dr.house", printed_name="Dr G House",
                        strokes=STROKES, time_zone="Europe/Paris")
        path = tmp_path / record.vault_path
    path.chmod(0o640)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit anywhere in the document
    path.write_bytes(bytes(data))
    with session_scope(engine) as s:
        report = verify_vault(s, tmp_path, "CONS")
        assert not report.ok and "altered" in report.problems[0]
    path.unlink()
    with session_scope(engine) as s:
        assert "missing" in verify_vault(s, tmp_path, "CONS").problems[0]
