"""Reading and writing qualitative work in the operational store (see ``models``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from workbench.qualitative.codebook import Codebook, codebook_from_dict, codebook_to_dict
from workbench.qualitative.coding import CodedSegment
from workbench.qualitative.models import QualCodebook, QualCoding, QualDocument, QualVersion
from workbench.qualitative.transcripts import Transcript, build_transcript
from workbench.qualitative.versioning import ReattachReport, reattach
from workbench.storage.base import utcnow
from workbench.studies.service import get_study

__all__ = [
    "add_coding",
    "add_document",
    "add_version",
    "codings",
    "current_codebook",
    "load_version",
    "remove_coding",
    "save_codebook",
]


def _turn_rows(transcript: Transcript) -> list[list[object]]:
    return [[t.speaker, t.text, t.start_ms, t.end_ms] for t in transcript.turns]


def add_document(session: Session, study_code: str, transcript: Transcript, *, actor: str,
                 participant: str | None = None, attributes: dict[str, str] | None = None) -> QualVersion:
    """Store an already pseudonymised transcript as version 1 of a new document."""
    study = get_study(session, study_code)
    if session.execute(select(QualDocument.id).where(
            QualDocument.study_id == study.id, QualDocument.name == transcript.name)).first():
        raise ConflictError(f"a transcript named {transcript.name!r} already exists in {study_code}")
    doc = QualDocument(study_id=study.id, name=transcript.name, participant=participant,
                       attributes=dict(attributes or {}), created_by=actor)
    session.add(doc)
    session.flush()
    version = QualVersion(document_id=doc.id, version=1, text=transcript.text,
                          turns=_turn_rows(transcript), content_hash=transcript.content_hash,
                          created_by=actor)
    session.add(version)
    session.flush()
    audit.record(session, actor=actor, action="qual.document.add", object_type="transcript",
                 object_id=version.id, after={"study": study_code, "name": transcript.name,
                                              "turns": len(transcript.turns), "sha256": transcript.content_hash})
    return version


def load_version(session: Session, version_id: int, *, viewer: str) -> Transcript:
    version = session.get(QualVersion, version_id)
    if version is None:
        raise NotFoundError(f"no transcript version {version_id}")
    doc = session.get(QualDocument, version.document_id)
    assert doc is not None
    transcript = build_transcript(doc.name, [tuple(t) for t in version.turns])  # type: ignore[misc]
    if transcript.content_hash != version.content_hash:
        raise ConflictError(f"transcript {doc.name} v{version.version} does not match its recorded hash")
    audit.record(session, actor=viewer, action="data.view", object_type="transcript", object_id=version_id)
    return transcript


def _segments(session: Session, version_id: int) -> list[tuple[QualCoding, CodedSegment]]:
    rows = session.execute(select(QualCoding).where(
        QualCoding.version_id == version_id, QualCoding.deleted_at.is_(None)).order_by(QualCoding.id)).scalars()
    return [(r, CodedSegment(str(version_id), r.start, r.end, r.code_id, r.coder, r.quote, r.created_at))
            for r in rows]


def add_version(session: Session, document_id: int, transcript: Transcript, *, actor: str) -> ReattachReport:
    """A corrected text: codings of the latest version are re-attached by their quotes."""
    latest = session.execute(select(QualVersion).where(QualVersion.document_id == document_id)
                             .order_by(QualVersion.version.desc()).limit(1)).scalar_one_or_none()
    if latest is None:
        raise NotFoundError(f"no transcript document {document_id}")
    version = QualVersion(document_id=document_id, version=latest.version + 1, text=transcript.text,
                          turns=_turn_rows(transcript), content_hash=transcript.content_hash,
                          created_by=actor)
    session.add(version)
    session.flush()
    old = _segments(session, latest.id)
    report = reattach([seg for _, seg in old], latest.text, transcript.text, new_source=str(version.id))
    memos = {(r.coder, r.code_id, r.start, r.end): r.memo for r, _ in old}
    for seg in report.attached:
        session.add(QualCoding(version_id=version.id, code_id=seg.code, coder=seg.coder, start=seg.start,
                               end=seg.end, quote=transcript.text[seg.start:seg.end],
                               memo=memos.get((seg.coder, seg.code, seg.start, seg.end), "")))
    version.locked = bool(report.attached)
    audit.record(session, actor=actor, action="qual.document.version", object_type="transcript",
                 object_id=version.id, after={"version": version.version, "reattached": len(report.attached),
                                              "unattached": len(report.unattached)})
    return report


def save_codebook(session: Session, study_code: str, codebook: Codebook, *, actor: str) -> QualCodebook:
    study = get_study(session, study_code)
    if session.execute(select(QualCodebook.id).where(
            QualCodebook.study_id == study.id, QualCodebook.version == codebook.version)).first():
        raise ConflictError(f"codebook version {codebook.version} already exists; raise the version")
    row = QualCodebook(study_id=study.id, version=codebook.version, data=codebook_to_dict(codebook),
                       created_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="qual.codebook.save", object_type="study", object_id=study_code,
                 after={"version": codebook.version, "codes": len(codebook.codes)})
    return row


def current_codebook(session: Session, study_code: str) -> Codebook:
    study = get_study(session, study_code)
    row = session.execute(select(QualCodebook).where(QualCodebook.study_id == study.id)
                          .order_by(QualCodebook.id.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"study {study_code} has no codebook yet")
    return codebook_from_dict(row.data)


def add_coding(session: Session, version_id: int, *, coder: str, code_id: str, start: int, end: int,
               codebook: Codebook, memo: str = "") -> QualCoding:
    """One coder applies one code to [start, end) in code points; the text is locked from now on."""
    version = session.get(QualVersion, version_id)
    if version is None:
        raise NotFoundError(f"no transcript version {version_id}")
    codebook.code(code_id)
    if not 0 <= start < end <= len(version.text):
        raise ValidationError(f"[{start}, {end}) is empty or outside the text (length {len(version.text)})",
                              where="selection")
    newer = session.execute(select(func.max(QualVersion.version)).where(
        QualVersion.document_id == version.document_id)).scalar_one()
    if newer != version.version:
        raise ConflictError("a newer version of this transcript exists; code that one")
    version.locked = True
    coding = QualCoding(version_id=version_id, code_id=code_id, coder=coder, start=start, end=end,
                        quote=version.text[start:end], memo=memo)
    session.add(coding)
    session.flush()
    return coding


def remove_coding(session: Session, coding_id: int, *, coder: str) -> QualCoding:
    coding = session.get(QualCoding, coding_id)
    if coding is None or coding.deleted_at is not None:
        raise NotFoundError(f"no coding {coding_id}")
    if coding.coder != coder:
        raise PermissionDenied("coders remove only their own codings")
    coding.deleted_at = utcnow()
    return coding


def codings(session: Session, version_id: int, *, viewer: str, blind: bool = False) -> list[QualCoding]:
    """Live codings of a version; in blind mode a coder sees only their own."""
    query = select(QualCoding).where(QualCoding.version_id == version_id, QualCoding.deleted_at.is_(None))
    if blind:
        query = query.where(QualCoding.coder == viewer)
    return list(session.execute(query.order_by(QualCoding.start, QualCoding.id)).scalars())
