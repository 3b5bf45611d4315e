"""Qualitative storage: immutable versions, concurrent coders, blind mode, undo, re-attachment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from workbench.errors import ConflictError, PermissionDenied, ValidationError
from workbench.qualitative import build_transcript, load_starter_codebook, store
from workbench.qualitative.models import QualVersion
from workbench.storage.engine import session_scope
from workbench.studies import service as studies

TURNS = [("Interviewer", "Comment s'est passé le retour au travail ?", 0, 4000),
         ("P-QUAL0001", "Difficile. J'avais peur que ça revienne — la récidive 😟, tout le temps.", 4000, 9000)]


@pytest.fixture
def version_id(engine: Engine) -> int:
    with session_scope(engine) as s:
        studies.create_study(s, "QUAL", "Interviews", actor="sm", design="qualitative")
        store.save_codebook(s, "QUAL", load_starter_codebook("fr"), actor="sm")
        return store.add_document(s, "QUAL", build_transcript("entretien-01", TURNS), actor="sm",
                                  participant="P-QUAL0001").id


def _code_ids(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return [c.id for c in store.current_codebook(s, "QUAL").codes if c.codable][:3]


def test_concurrent_coders_keep_all_their_work(engine: Engine, version_id: int) -> None:
    codes = _code_ids(engine)

    def code_as(i: int) -> None:
        with session_scope(engine) as s:
            book = store.current_codebook(s, "QUAL")
            store.add_coding(s, version_id, coder=f"coder{i % 3}", code_id=codes[i % len(codes)],
                             start=50 + i, end=80 + i, codebook=book)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(code_as, range(18)))
    with session_scope(engine) as s:
        rows = store.codings(s, version_id, viewer="coder0")
        assert len(rows) == 18 and {r.coder for r in rows} == {"coder0", "coder1", "coder2"}
        assert len(store.codings(s, version_id, viewer="coder0", blind=True)) == 6


def test_offsets_are_code_points_and_quotes_are_kept(engine: Engine, version_id: int) -> None:
    with session_scope(engine) as s:
        text = store.load_version(s, version_id, viewer="coder0").text
        start = text.index("la récidive")
        end = text.index(", tout")
        book = store.current_codebook(s, "QUAL")
        coding = store.add_coding(s, version_id, coder="coder0", code_id=book.codes[1].id,
                                  start=start, end=end, codebook=book, memo="peur")
        assert coding.quote == "la récidive 😟"
        with pytest.raises(ValidationError, match="outside the text"):
            store.add_coding(s, version_id, coder="c", code_id=book.codes[1].id, start=0,
                             end=len(text) + 1, codebook=book)
        with pytest.raises(PermissionDenied, match="own"):
            store.remove_coding(s, coding.id, coder="someone-else")
        store.remove_coding(s, coding.id, coder="coder0")  # undo
        assert store.codings(s, version_id, viewer="coder0") == []


def test_new_version_reattaches_and_locks_the_old_one(engine: Engine, version_id: int) -> None:
    with session_scope(engine) as s:
        book = store.current_codebook(s, "QUAL")
        text = store.load_version(s, version_id, viewer="coder0").text
        start = text.index("peur")
        store.add_coding(s, version_id, coder="coder0", code_id=book.codes[1].id, start=start,
                         end=start + len("peur que ça revienne"), codebook=book)
        store.add_coding(s, version_id, coder="coder1", code_id=book.codes[1].id, start=0, end=11,
                         codebook=book)  # "Interviewer" label: removed in the new version
        doc_id = s.get(QualVersion, version_id).document_id
        fixed = build_transcript("entretien-01", [("Enquêtrice", TURNS[0][1], 0, 4000), TURNS[1]])
        report = store.add_version(s, doc_id, fixed, actor="sm")
        assert len(report.attached) == 1 and len(report.unattached) == 1
        with pytest.raises(ConflictError, match="newer version"):
            store.add_coding(s, version_id, coder="coder0", code_id=book.codes[1].id, start=0, end=3,
                             codebook=book)
