"""COREQ methods report: counted from the stored study, rendered by the template, exported as HTML."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from workbench.cli import main
from workbench.cli.qda import METHODS_TEMPLATE
from workbench.errors import NotFoundError
from workbench.qualitative import CONSENSUS, Code, build_transcript, load_starter_codebook, store
from workbench.qualitative.coding import CodedSegment
from workbench.qualitative.coreq import study_methods
from workbench.qualitative.recordings import Transcription, store_transcription
from workbench.qualitative.reliability import turn_agreement
from workbench.reports import ACKNOWLEDGEMENT_EN
from workbench.settings import Settings
from workbench.storage.engine import make_engine, session_scope
from workbench.storage.migrate import upgrade
from workbench.studies import service as studies

SECRET_PHRASE = "mon voisin Gaston"  # a quote that must never reach the report
TURNS = [("Interviewer", "Comment s'est passé le retour au travail ?", 0, 4000),
         ("P-COREQ001", "Difficile. J'avais peur que ça revienne, tout le temps.", 4000, 9000),
         ("Interviewer", "Qui vous a aidée ?", 9000, 11000),
         ("P-COREQ001", f"Ma sœur, et {SECRET_PHRASE}, qui conduisait.", 11000, 15000),
         ("Interviewer", "Et la fatigue ?", 15000, 17000),
         ("P-COREQ001", "Je dormais l'après-midi pendant des mois.", 17000, 24000)]


def _populate(engine: Engine, *, coders: tuple[str, ...] = ("coder1", "coder2")) -> dict[str, object]:
    book = load_starter_codebook("en")
    book = replace(book.with_code(Code("night_driving", "Being driven to care", definition="Lifts <by> "
                                       "neighbours & family", origin="emergent", since_version="2")),
                   version="2")
    codable = [c.id for c in book.codes if c.codable]
    with session_scope(engine) as s:
        studies.create_study(s, "QUAL", "Return to work interviews", actor="sm", design="qualitative")
        store.save_codebook(s, "QUAL", book, actor="sm")
        v1 = store.add_document(s, "QUAL", build_transcript("int-01", TURNS), actor="dm",
                                participant="P-COREQ001")
        recorded = build_transcript("int-02", TURNS[:2], metadata={"asr": "faster-whisper 1.2.1",
                                                                    "model": "tiny.en", "language": "fr",
                                                                    "audio_seconds": "9.00",
                                                                    "real_time_factor": "0.2"})
        v2 = store_transcription(s, "QUAL", Transcription(recorded, []), actor="dm", participant="P-COREQ002")
        t1 = store.load_version(s, v1.id, viewer="test")
        plan = {  # (version, turn index, code, coders)
            (v1.id, 1, codable[1], coders), (v1.id, 3, "night_driving", coders[:1]),
            (v1.id, 5, codable[2], coders), (v1.id, 5, codable[1], coders[1:]),
            (v2.id, 1, codable[1], coders[:1]),  # only the first coder coded int-02
        }
        for version_id, turn, code, who in sorted(plan, key=str):
            tr = t1 if version_id == v1.id else store.load_version(s, version_id, viewer="test")
            for coder in who:
                store.add_coding(s, version_id, coder=coder, code_id=code, start=tr.turns[turn].start,
                                 end=tr.turns[turn].end, codebook=book)
        if len(coders) > 1:
            store.add_coding(s, v1.id, coder=CONSENSUS, code_id=codable[1], start=t1.turns[1].start,
                             end=t1.turns[1].end, codebook=book)
        rows = store.codings(s, v1.id, viewer="lead")
        segments = [CodedSegment(str(v1.id), r.start, r.end, r.code_id, r.coder) for r in rows]
        expected = None
        if len(coders) > 1:
            used = sorted({seg.code for seg in segments if seg.coder != CONSENSUS})
            expected = turn_agreement(segments, {str(v1.id): t1}, codes=used, coders=list(coders))
    return {"book": book, "expected": expected}


def test_methods_summary_counts_what_was_stored(engine: Engine) -> None:
    made = _populate(engine)
    book, expected = made["book"], made["expected"]
    with session_scope(engine) as s:
        summary = study_methods(s, "QUAL", viewer="lead")
    assert summary.coders == ["coder1", "coder2"] and summary.consensus
    assert summary.transcripts == 2 and summary.participants == 2 and summary.turns == 8
    assert summary.recorded_minutes == pytest.approx((24_000 + 9_000) / 60_000)
    assert summary.transcribed_locally == 1
    assert summary.double_coded == 1  # int-02 was coded by one coder: not in the agreement sample
    assert summary.codebook_version == "2" and len(summary.codebook) == len(book.codes)
    assert summary.emergent == 1 and summary.a_priori == len(book.codes) - 1
    row = summary.codebook.set_index("code").loc["Being driven to care"]
    assert row["definition"] == "Lifts <by> neighbours & family" and row["origin"] == "emergent"
    got = summary.agreement.drop(columns="name").reset_index(drop=True)
    assert got.equals(expected.reset_index(drop=True))  # same figures as the direct computation
    assert list(summary.agreement["code"])[-1] == expected["code"].iloc[-1]  # pooled row last
    page = summary.to_html()
    assert "<strong>2</strong> coders: coder1, coder2" in page and "WeShare research workbench 0." in page
    assert "Lifts &lt;by&gt; neighbours &amp; family" in page  # escaped, not raw HTML
    assert f"{expected['mean_pairwise_kappa'].iloc[-1]:.3f}" in page
    assert SECRET_PHRASE not in page and "P-COREQ001" not in page


def test_one_coder_reports_no_agreement(engine: Engine) -> None:
    _populate(engine, coders=("coder1",))
    with session_scope(engine) as s:
        summary = study_methods(s, "QUAL", viewer="lead")
        assert summary.coders == ["coder1"] and summary.agreement is None and not summary.consensus
        page = summary.to_html()
        assert "Not computed: fewer than two coders" in page and "<strong>1</strong> coder:" in page
        studies.create_study(s, "EMPTY", "Nothing yet", actor="sm", design="qualitative")
        store.save_codebook(s, "EMPTY", load_starter_codebook("en"), actor="sm")
        with pytest.raises(NotFoundError, match="no transcript yet"):
            study_methods(s, "EMPTY", viewer="lead")


def test_template_is_thin_and_committed_without_outputs() -> None:
    nb = json.loads(METHODS_TEMPLATE.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) <= 3 and all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"]["tags"]


def test_cli_exports_the_report_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Settings(home=tmp_path / "var")
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    made = _populate(engine)
    engine.dispose()
    monkeypatch.setenv("WESHARE_HOME", str(cfg.home))  # the kernel inherits the environment
    monkeypatch.setenv("WESHARE_DATABASE_URL", cfg.database_url)
    out = tmp_path / "coreq.html"
    assert main(["qda", "methods-report", "NOPE", "-o", str(out)]) == 2
    assert "NOPE" in capsys.readouterr().err and not out.exists()
    assert main(["qda", "methods-report", "QUAL", "-o", str(out)]) == 0
    assert "COREQ methods report for QUAL written" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    pooled = made["expected"].iloc[-1]
    assert "Number of data coders (COREQ item 24)" in page and "<strong>2</strong>" in page
    assert html.escape("Lifts <by> neighbours & family") in page
    assert f"{pooled['krippendorff_alpha']:.3f}" in page and f"{pooled['mean_pairwise_kappa']:.3f}" in page
    assert ACKNOWLEDGEMENT_EN in page  # the platform's publication rules
    assert "load_settings" not in page  # code cells hidden
    assert SECRET_PHRASE not in page and "Traceback" not in page
