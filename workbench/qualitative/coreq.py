"""The COREQ "analysis" items of a study, computed from what was stored, for the methods section.

COREQ (Tong, Sainsbury & Craig 2007) asks a qualitative paper to report the number of data
coders (item 24), the coding tree (25), how themes were derived (26), the software (27) and the
recordings and transcripts behind the data (19–21). Everything here is counted from the study's
documents, codebook and codings, so the report states what was done rather than what was
planned. Agreement is on speaker turns (see ``reliability.turn_agreement``), over the
transcripts every coder coded; the consensus layer is left out. No quote or name is included.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.audit import AuditEntry
from workbench.errors import NotFoundError
from workbench.qualitative.coding import CONSENSUS, CodedSegment
from workbench.qualitative.models import QualCoding, QualDocument, QualVersion
from workbench.qualitative.reliability import turn_agreement
from workbench.qualitative.store import current_codebook
from workbench.qualitative.transcripts import Transcript, build_transcript
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies.service import get_study

__all__ = ["MethodsSummary", "methods_summary", "study_methods"]


@dataclass(frozen=True)
class MethodsSummary:
    study: str
    title: str
    software: str
    transcripts: int
    participants: int
    turns: int
    recorded_minutes: float | None  # from turn timestamps, where transcripts have them
    transcribed_locally: int  # transcripts made by ``weshare qda transcribe``
    coders: list[str]
    consensus: bool
    codebook_version: str
    codebook: pd.DataFrame  # COREQ item 25: path, definition, criteria, origin, version
    themes: pd.DataFrame
    a_priori: int
    emergent: int
    double_coded: int  # transcripts coded by every coder: the agreement sample
    agreement: pd.DataFrame | None  # per code and pooled; None with fewer than two coders
    notes: list[str] = field(default_factory=list)

    def to_html(self) -> str:
        """The methods section as HTML (tables escaped), for a notebook or an exported report."""
        e = html.escape
        minutes = (f"{self.recorded_minutes:.1f} minutes of recorded interview"
                   if self.recorded_minutes is not None else "no timestamps, so no recorded duration")
        coders = ", ".join(e(c) for c in self.coders) or "none"
        parts = [
            f"<h2>Methods — study {e(self.study)}: {e(self.title)}</h2>",
            "<h3>Data (COREQ items 19–21)</h3>",
            f"<p>{_n(self.transcripts, 'transcript')} from {_n(self.participants, 'participant')} "
            f"({self.turns} speaker turns; {minutes}); {self.transcribed_locally} transcribed from "
            f"the audio recording on the platform, without sending it out.</p>",
            "<h3>Number of data coders (COREQ item 24)</h3>",
            f"<p><strong>{len(self.coders)}</strong> {'coder' if len(self.coders) == 1 else 'coders'}: {coders}"
            + ("; disagreements reconciled in a separate consensus layer." if self.consensus else ".")
            + "</p>",
            f"<h3>Coding tree (COREQ item 25) — codebook version {e(self.codebook_version)}</h3>",
            self.codebook.to_html(index=False, na_rep="", escape=True, border=0),
            "<h3>Derivation of themes (COREQ item 26)</h3>",
            f"<p>{self.a_priori} codes defined in advance (a priori), {self.emergent} derived from "
            f"the data (emergent); {len(self.themes)} themes.</p>",
        ]
        if len(self.themes):
            parts.append(self.themes.to_html(index=False, escape=True, border=0))
        parts.append("<h3>Inter-coder agreement</h3>")
        if self.agreement is None:
            parts.append("<p>Not computed: fewer than two coders.</p>")
        else:
            parts.append(f"<p>On speaker turns of the {_n(self.double_coded, 'transcript')} coded by "
                         f"every coder: per code and pooled (κ pooled after De Vries et al. 2008).</p>")
            parts.append(self.agreement.to_html(index=False, na_rep="—", escape=True, border=0,
                                                float_format=lambda v: f"{v:.3f}"))
        parts += [f"<p>{e(n)}</p>" for n in self.notes]
        parts += ["<h3>Software (COREQ item 27)</h3>", f"<p>{e(self.software)}.</p>"]
        style = ("<style>.weshare-coreq td, .weshare-coreq th {text-align: left; vertical-align: top}"
                 "</style>")
        return "\n".join([style, '<div class="weshare-coreq">', *parts, "</div>"])


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _software() -> str:
    try:
        return f"WeShare research workbench {version('weshare-workbench')}"
    except PackageNotFoundError:
        return "WeShare research workbench (development copy)"


def _latest(session: Session, study_id: int) -> list[tuple[QualVersion, QualDocument]]:
    newest = (select(QualVersion.document_id, func.max(QualVersion.version).label("v"))
              .group_by(QualVersion.document_id).subquery())
    return list(session.execute(
        select(QualVersion, QualDocument).join(QualDocument, QualDocument.id == QualVersion.document_id)
        .join(newest, (newest.c.document_id == QualVersion.document_id) & (newest.c.v == QualVersion.version))
        .where(QualDocument.study_id == study_id).order_by(QualDocument.name)).all())  # type: ignore[arg-type]


def study_methods(session: Session, study_code: str, *, viewer: str) -> MethodsSummary:
    """What COREQ's analysis domain asks, counted from the stored study."""
    study = get_study(session, study_code)
    book = current_codebook(session, study_code)
    latest = _latest(session, study.id)
    if not latest:
        raise NotFoundError(f"study {study_code} has no transcript yet")
    transcripts: dict[str, Transcript] = {
        str(v.id): build_transcript(d.name, [tuple(t) for t in v.turns]) for v, d in latest}  # type: ignore[misc]
    rows = session.execute(select(QualCoding).where(
        QualCoding.version_id.in_([v.id for v, _ in latest]), QualCoding.deleted_at.is_(None))).scalars()
    segments = [CodedSegment(str(r.version_id), r.start, r.end, r.code_id, r.coder, r.quote) for r in rows]
    coders = sorted({s.coder for s in segments} - {CONSENSUS})
    coded_by = {src: {s.coder for s in segments if s.source == src} for src in transcripts}
    double = [src for src in transcripts if coders and set(coders) <= coded_by[src]]
    notes: list[str] = []
    agreement = None
    if len(coders) >= 2 and double:
        used = sorted({s.code for s in segments if s.source in double and s.coder != CONSENSUS})
        agreement = turn_agreement(segments, transcripts, codes=used, coders=coders, sources=double)
        names = {c.id: c.name for c in book.codes}
        agreement.insert(1, "name", agreement["code"].map(names).fillna(""))
    elif len(coders) >= 2:
        notes.append("No transcript has been coded by every coder yet, so agreement is not computed.")
    ended = [max((t.end_ms for t in tr.turns if t.end_ms is not None), default=None)
             for tr in transcripts.values()]
    known = [ms for ms in ended if ms is not None]
    first_versions = select(QualVersion.id).where(QualVersion.document_id.in_([d.id for _, d in latest]))
    asr = session.execute(select(func.count(func.distinct(AuditEntry.object_id))).where(
        AuditEntry.action == "qual.document.transcribe",
        AuditEntry.object_id.in_([str(i) for i in session.execute(first_versions).scalars()]))).scalar_one()
    themes = pd.DataFrame([{"theme": t.name, "description": t.description,
                            "codes": ", ".join(book.code(c).name for c in t.codes)} for t in book.themes],
                          columns=["theme", "description", "codes"])
    summary = MethodsSummary(
        study=study.code, title=study.title, software=_software(), transcripts=len(latest),
        participants=len({d.participant for _, d in latest if d.participant}),
        turns=sum(len(t.turns) for t in transcripts.values()),
        recorded_minutes=sum(known) / 60_000 if known else None, transcribed_locally=int(asr),
        coders=coders, consensus=any(s.coder == CONSENSUS for s in segments),
        codebook_version=book.version, codebook=pd.DataFrame(book.table()), themes=themes,
        a_priori=sum(c.origin == "a_priori" for c in book.codes),
        emergent=sum(c.origin == "emergent" for c in book.codes),
        double_coded=len(double), agreement=agreement, notes=notes)
    audit.record(session, actor=viewer, action="data.view", object_type="study", object_id=study_code,
                 after={"view": "qual.methods_report", "transcripts": summary.transcripts,
                        "coders": len(coders)})
    return summary


def methods_summary(settings: Settings, study_code: str, *, viewer: str) -> MethodsSummary:
    """``study_methods`` on the site's operational store (for notebooks and the CLI)."""
    engine = open_operational(settings)
    try:
        with session_scope(engine) as session:
            return study_methods(session, study_code, viewer=viewer)
    finally:
        engine.dispose()
