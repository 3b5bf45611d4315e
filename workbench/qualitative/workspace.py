"""A coder's workspace on the operational store: who may code what, and audited coding actions.

``store`` holds the rows; this module adds what an interactive coding session needs on top:
role scope (a coder codes only the studies their ``coder`` role is scoped to; the study's
manager is the *lead*, who sees every layer, measures agreement and records the consensus as
its own coder), applying several codes at once, undo (soft delete and restore), memos on a
coding, and a study's coding round as the plain values agreement and analysis take. Every
change is audited with offsets and code ids only, never the quoted text or the memo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from workbench import audit
from workbench.accounts.models import Role, User
from workbench.accounts.service import get_user
from workbench.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from workbench.qualitative import store
from workbench.qualitative.codebook import Codebook
from workbench.qualitative.coding import CONSENSUS, CodedSegment
from workbench.qualitative.models import QualCoding, QualDocument, QualVersion
from workbench.qualitative.transcripts import Transcript
from workbench.studies.models import Study

__all__ = ["CodingRound", "DocumentRow", "apply_codes", "coding_role", "coding_rows", "coding_studies",
           "open_document", "remove_codings", "require_access", "restore_codings", "save_consensus",
           "set_memo", "study_documents", "study_round"]

Access = Literal["coder", "lead"]


@dataclass(frozen=True)
class DocumentRow:
    document_id: int
    version_id: int
    version: int
    name: str
    participant: str
    codings: int


@dataclass(frozen=True)
class CodingRound:
    """Latest version of every transcript of a study, its live codings and its cases."""

    segments: list[CodedSegment]
    transcripts: dict[str, Transcript]
    cases: pd.DataFrame  # source, participant, <attributes>: pseudonymous IDs only
    versions: dict[str, int]  # source name -> version id


def _holds(user: User, role: Role, study_code: str) -> bool:
    return any(a.role == role and (not a.scope_id or (a.scope_type, a.scope_id) == ("study", study_code))
               for a in user.roles)


def coding_role(user: User, study_code: str) -> Access | None:
    """``lead`` for the study's manager, ``coder`` for a coder scoped to it (or unscoped)."""
    if not user.active:
        return None
    if _holds(user, Role.STUDY_MANAGER, study_code):
        return "lead"
    if _holds(user, Role.CODER, study_code):
        return "coder"
    return None


def require_access(session: Session, username: str, study_code: str, *, lead: bool = False) -> User:
    user = get_user(session, username)
    role = coding_role(user, study_code)
    if role is None or (lead and role != "lead"):
        who = "la responsable de l'étude / the study lead" if lead else "un·e codeur·se de l'étude / a coder"
        raise PermissionDenied(f"réservé à {who} {study_code}")
    return user


def coding_studies(session: Session, username: str) -> list[tuple[str, str, Access]]:
    """(code, title, access) of every study the user may code or lead, in code order."""
    user = get_user(session, username)
    out: list[tuple[str, str, Access]] = []
    for study in session.execute(select(Study).order_by(Study.code)).scalars():
        role = coding_role(user, study.code)
        if role is not None:
            out.append((study.code, study.title, role))
    return out


def _latest_versions(session: Session, study_code: str) -> list[tuple[QualDocument, QualVersion]]:
    study = session.execute(select(Study).where(Study.code == study_code)).scalar_one_or_none()
    if study is None:
        raise NotFoundError(f"no study {study_code}")
    newest = (select(QualVersion.document_id, func.max(QualVersion.version).label("v"))
              .group_by(QualVersion.document_id).subquery())
    rows = session.execute(
        select(QualDocument, QualVersion)
        .join(QualVersion, QualVersion.document_id == QualDocument.id)
        .join(newest, (newest.c.document_id == QualVersion.document_id) & (newest.c.v == QualVersion.version))
        .where(QualDocument.study_id == study.id).order_by(QualDocument.name)).all()
    return [(d, v) for d, v in rows]


def study_documents(session: Session, study_code: str, *, viewer: str) -> list[DocumentRow]:
    require_access(session, viewer, study_code)
    pairs = _latest_versions(session, study_code)
    counts = dict(session.execute(
        select(QualCoding.version_id, func.count(QualCoding.id))
        .where(QualCoding.version_id.in_([v.id for _, v in pairs] or [-1]), QualCoding.deleted_at.is_(None))
        .group_by(QualCoding.version_id)).all())
    return [DocumentRow(d.id, v.id, v.version, d.name, d.participant or "", int(counts.get(v.id, 0)))
            for d, v in pairs]


def _study_of(session: Session, version_id: int) -> str:
    row = session.execute(select(Study.code).join(QualDocument, QualDocument.study_id == Study.id)
                          .join(QualVersion, QualVersion.document_id == QualDocument.id)
                          .where(QualVersion.id == version_id)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no transcript version {version_id}")
    return str(row)


def open_document(session: Session, version_id: int, *, viewer: str) -> tuple[str, Transcript, Codebook]:
    """The study, transcript and current codebook for a coder allowed on that study (audited view)."""
    study_code = _study_of(session, version_id)
    require_access(session, viewer, study_code)
    return study_code, store.load_version(session, version_id, viewer=viewer), store.current_codebook(
        session, study_code)


def _acting_as(session: Session, version_id: int, viewer: str, as_consensus: bool) -> tuple[str, str]:
    """(study, coder name) for a change: a coder writes their own layer, the lead the consensus."""
    study_code = _study_of(session, version_id)
    user = require_access(session, viewer, study_code, lead=as_consensus)
    if not as_consensus and coding_role(user, study_code) == "lead" and not _holds(user, Role.CODER, study_code):
        raise PermissionDenied("la responsable code la couche consensus / the lead codes the consensus layer")
    return study_code, CONSENSUS if as_consensus else viewer


def apply_codes(session: Session, version_id: int, *, viewer: str, codes: Sequence[str], start: int,
                end: int, as_consensus: bool = False, memo: str = "",
                codebook: Codebook | None = None) -> list[QualCoding]:
    """Apply each of ``codes`` to [start, end) (code points, end exclusive) in one transaction.

    ``codebook`` is the version the coder has open (default: the study's current one); codes are
    checked against it, so a coding round stays on one codebook version.
    """
    if not codes:
        raise ValidationError("choisissez au moins un code / choose at least one code", where="codes")
    if len(set(codes)) != len(codes):
        raise ValidationError("a code is listed twice", where="codes")
    study_code, coder = _acting_as(session, version_id, viewer, as_consensus)
    book = codebook or store.current_codebook(session, study_code)
    for code in codes:
        if not book.code(code).codable:
            raise ValidationError(f"{code!r} groups other codes and cannot be applied", where="codes")
    # The turns (a JSON document as long as the text) are not needed to code: leave them unread.
    session.get(QualVersion, version_id, options=[defer(QualVersion.turns)])
    rows = [store.add_coding(session, version_id, coder=coder, code_id=c, start=start, end=end,
                             codebook=book, memo=memo) for c in codes]
    audit.record(session, actor=viewer, action="qual.coding.add", object_type="transcript",
                 object_id=version_id, after={"coder": coder, "codes": list(codes), "start": start,
                                              "end": end, "ids": [r.id for r in rows]})
    return rows


def _own(session: Session, coding_ids: Sequence[int], viewer: str, as_consensus: bool,
         deleted: bool) -> list[QualCoding]:
    rows = []
    for coding_id in coding_ids:
        row = session.get(QualCoding, coding_id)
        if row is None or (row.deleted_at is not None) != deleted:
            raise NotFoundError(f"no {'removed ' if deleted else ''}coding {coding_id}")
        _study, coder = _acting_as(session, row.version_id, viewer, as_consensus)
        if row.coder != coder:
            raise PermissionDenied("on ne modifie que ses propres codages / coders change only their own codings")
        rows.append(row)
    return rows


def remove_codings(session: Session, coding_ids: Sequence[int], *, viewer: str,
                   as_consensus: bool = False) -> None:
    for row in _own(session, coding_ids, viewer, as_consensus, deleted=False):
        store.remove_coding(session, row.id, coder=row.coder)
        audit.record(session, actor=viewer, action="qual.coding.remove", object_type="coding", object_id=row.id)


def restore_codings(session: Session, coding_ids: Sequence[int], *, viewer: str,
                    as_consensus: bool = False) -> None:
    """Undo of a removal: the same row comes back (its id, memo and creation time are kept)."""
    for row in _own(session, coding_ids, viewer, as_consensus, deleted=True):
        newest = session.execute(select(func.max(QualVersion.version)).where(
            QualVersion.document_id == select(QualVersion.document_id).where(
                QualVersion.id == row.version_id).scalar_subquery())).scalar_one()
        if session.get(QualVersion, row.version_id).version != newest:  # type: ignore[union-attr]
            raise ConflictError("a newer version of this transcript exists; code that one")
        row.deleted_at = None
        audit.record(session, actor=viewer, action="qual.coding.restore", object_type="coding", object_id=row.id)


def set_memo(session: Session, coding_id: int, memo: str, *, viewer: str, as_consensus: bool = False) -> str:
    """Replace the memo of one's own coding; returns the previous memo (for undo)."""
    (row,) = _own(session, [coding_id], viewer, as_consensus, deleted=False)
    old, row.memo = row.memo, memo.strip()
    audit.record(session, actor=viewer, action="qual.coding.memo", object_type="coding", object_id=coding_id,
                 after={"length": len(row.memo)})
    return old


def coding_rows(session: Session, version_id: int, *, viewer: str, blind: bool) -> list[dict[str, object]]:
    """Live codings of a version as plain dicts; blind: only the viewer's own (and nothing else leaves)."""
    study_code = _study_of(session, version_id)
    user = require_access(session, viewer, study_code)
    if coding_role(user, study_code) == "coder" and not blind:
        blind = True  # coders code independently; only the lead sees every layer
    # Plain columns, not ORM objects: this runs after every action, on up to thousands of rows.
    query = (select(QualCoding.id, QualCoding.code_id, QualCoding.coder, QualCoding.start, QualCoding.end,
                    QualCoding.memo)
             .where(QualCoding.version_id == version_id, QualCoding.deleted_at.is_(None))
             .order_by(QualCoding.start, QualCoding.id))
    if blind:
        query = query.where(QualCoding.coder == viewer)
    return [{"id": i, "code": code, "coder": coder, "start": a, "end": b, "memo": memo}
            for i, code, coder, a, b, memo in session.execute(query).all()]


def study_round(session: Session, study_code: str, *, viewer: str) -> CodingRound:
    """Everything agreement and analysis need; the lead sees every coder, a coder only their own."""
    user = require_access(session, viewer, study_code)
    only = None if coding_role(user, study_code) == "lead" else viewer
    segments: list[CodedSegment] = []
    transcripts: dict[str, Transcript] = {}
    versions: dict[str, int] = {}
    cases = []
    for doc, version in _latest_versions(session, study_code):
        transcripts[doc.name] = store.load_version(session, version.id, viewer=viewer)
        versions[doc.name] = version.id
        cases.append({"source": doc.name, "participant": doc.participant or doc.name, **(doc.attributes or {})})
        for row in store.codings(session, version.id, viewer=viewer, blind=only is not None):
            segments.append(CodedSegment(doc.name, row.start, row.end, row.code_id, row.coder, row.quote,
                                         row.created_at, "consensus" if row.coder == CONSENSUS else "human"))
    frame = pd.DataFrame(cases, columns=None if cases else ["source", "participant"])
    return CodingRound(segments, transcripts, frame, versions)


def save_consensus(session: Session, study_code: str, proposals: Sequence[CodedSegment], *,
                   viewer: str) -> int:
    """Record proposals (e.g. ``consensus_by_majority``) as consensus codings; existing ones are kept.

    Returns how many were added; a proposal identical to a live consensus coding is skipped.
    """
    require_access(session, viewer, study_code, lead=True)
    versions = {d.name: v.id for d, v in _latest_versions(session, study_code)}
    book = store.current_codebook(session, study_code)
    added = 0
    for seg in proposals:
        if seg.source not in versions:
            raise ValidationError(f"no transcript named {seg.source!r} in {study_code}", where="consensus")
        version_id = versions[seg.source]
        exists = session.execute(select(QualCoding.id).where(
            QualCoding.version_id == version_id, QualCoding.coder == CONSENSUS, QualCoding.code_id == seg.code,
            QualCoding.start == seg.start, QualCoding.end == seg.end, QualCoding.deleted_at.is_(None))).first()
        if exists is None:
            store.add_coding(session, version_id, coder=CONSENSUS, code_id=seg.code, start=seg.start,
                             end=seg.end, codebook=book)
            added += 1
    audit.record(session, actor=viewer, action="qual.consensus.save", object_type="study", object_id=study_code,
                 after={"proposed": len(proposals), "added": added})
    return added
