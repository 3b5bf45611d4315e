"""Mixed methods: each interviewed participant's codes beside their questionnaire scores.

The joint display that MAXQDA and NVivo build from case attributes, here from the study's own
data: codings of the latest version of every transcript linked to a participant, and the scales
that ``workbench.instruments.scoring`` stored with each response (``answers["_scores"]``), one
column per instrument, scale and time point. Rows are study pseudonyms, never names.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench import audit
from workbench.errors import NotFoundError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.qualitative.coding import CONSENSUS
from workbench.qualitative.models import QualCoding, QualDocument, QualVersion
from workbench.qualitative.store import current_codebook
from workbench.studies.models import ScheduleEvent
from workbench.studies.service import get_study

__all__ = ["mixed_methods_table", "score_column"]


def score_column(instrument: str, scale: str, event: str) -> str:
    """Name of a score column: ``qlq-c30:QL2@BL`` (instrument, scale, time point)."""
    return f"{instrument}:{scale}@{event}"


def _latest_versions(session: Session, study_id: int) -> dict[int, str]:
    """version id → participant pseudonym, for the newest version of each linked transcript."""
    newest = (select(QualVersion.document_id, func.max(QualVersion.version).label("v"))
              .group_by(QualVersion.document_id).subquery())
    rows = session.execute(
        select(QualVersion.id, QualDocument.participant)
        .join(QualDocument, QualDocument.id == QualVersion.document_id)
        .join(newest, (newest.c.document_id == QualVersion.document_id) & (newest.c.v == QualVersion.version))
        .where(QualDocument.study_id == study_id, QualDocument.participant.is_not(None)))
    return {vid: participant for vid, participant in rows}


def _code_counts(session: Session, versions: dict[int, str], coder: str | None) -> pd.DataFrame:
    query = select(QualCoding.version_id, QualCoding.code_id, QualCoding.coder, QualCoding.start,
                   QualCoding.end).where(QualCoding.version_id.in_(list(versions)),
                                         QualCoding.deleted_at.is_(None))
    query = query.where(QualCoding.coder == coder) if coder else query.where(QualCoding.coder != CONSENSUS)
    frame = pd.DataFrame(session.execute(query).all(),
                         columns=["version", "code", "coder", "start", "end"])
    # Several coders marking the same span count once: the unit is a coded passage, not a vote.
    frame = frame.drop_duplicates(["version", "code", "start", "end"])
    frame["participant"] = frame["version"].map(versions)
    if frame.empty:
        return pd.DataFrame(index=pd.Index([], name="participant"))
    return frame.groupby(["participant", "code"]).size().unstack("code", fill_value=0)


def _scores(session: Session, study_id: int, pseudonyms: Sequence[str],
            instruments: Sequence[str] | None, events: Sequence[str] | None) -> pd.DataFrame:
    query = (select(Participant.pseudonym, Response.event_code, Response.instrument_id, Response.answers)
             .join(Participant, Participant.id == Response.participant_id)
             .where(Participant.study_id == study_id, Participant.pseudonym.in_(list(pseudonyms))))
    if instruments is not None:
        query = query.where(Response.instrument_id.in_(list(instruments)))
    if events is not None:
        query = query.where(Response.event_code.in_(list(events)))
    records = [(pseudonym, score_column(instrument, scale, event), value)
               for pseudonym, event, instrument, answers in session.execute(query)
               for scale, value in (answers.get("_scores") or {}).items()]
    frame = pd.DataFrame(records, columns=["participant", "column", "value"])
    wide = frame.pivot(index="participant", columns="column", values="value")
    for column in wide.columns:  # numeric scales as floats; bands ("moderate") stay text
        values = wide[column].dropna()
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            wide[column] = wide[column].astype("float64")
    return wide


def _ordered_score_columns(session: Session, study_id: int, columns: Sequence[str]) -> list[str]:
    """Time points in schedule order, then instrument and scale names."""
    order = {code: i for i, code in enumerate(session.execute(
        select(ScheduleEvent.code).where(ScheduleEvent.study_id == study_id)
        .order_by(ScheduleEvent.day_offset, ScheduleEvent.code)).scalars())}

    def key(column: str) -> tuple[int, str, str]:
        name, _, event = column.rpartition("@")
        return order.get(event, len(order)), event, name

    return sorted(columns, key=key)


def mixed_methods_table(session: Session, study_code: str, *, viewer: str, coder: str | None = None,
                        codes: Sequence[str] | None = None, presence: bool = False,
                        instruments: Sequence[str] | None = None,
                        events: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per interviewed participant: code columns, then score columns per time point.

    - Codes: counts of coded passages in the participant's transcripts (``presence=True``: 0/1).
      ``coder=None`` pools the coders (a span marked by two coders counts once) and leaves the
      consensus layer out; ``coder="consensus"`` uses only the reconciled layer. Columns are the
      codebook's codable codes (or ``codes``), so an unused code is a column of zeros.
    - Scores: ``instrument:scale@event`` (see ``score_column``), NaN where no response was
      scored; ``instruments`` / ``events`` limit them.

    ``attrs`` lists ``code_columns`` and ``score_columns``. The read is audited (no values).
    """
    study = get_study(session, study_code)
    versions = _latest_versions(session, study.id)
    if not versions:
        raise NotFoundError(f"study {study_code} has no transcript linked to a participant")
    counts = _code_counts(session, versions, coder)
    if codes is None:
        try:
            codes = [c.id for c in current_codebook(session, study_code).codes if c.codable]
        except NotFoundError:
            codes = []
        codes = [*codes, *sorted(set(counts.columns) - set(codes))]
    else:
        unknown = sorted(set(codes) - set(counts.columns))
        book = {c.id for c in current_codebook(session, study_code).codes} if unknown else set()
        if missing := [c for c in unknown if c not in book]:
            raise ValidationError(f"unknown code {missing[0]!r}", where="codes")
    participants = sorted(set(versions.values()))
    table = counts.reindex(index=participants, columns=list(codes), fill_value=0).astype("int64")
    if presence:
        table = (table > 0).astype("int64")
    scores = _scores(session, study.id, participants, instruments, events)
    score_columns = _ordered_score_columns(session, study.id, list(scores.columns))
    table = table.join(scores.reindex(columns=score_columns), how="left")
    table.index.name = "participant"
    table = table.reset_index()
    table.columns.name = None
    table.attrs["code_columns"] = list(codes)
    table.attrs["score_columns"] = score_columns
    audit.record(session, actor=viewer, action="data.view", object_type="study", object_id=study_code,
                 after={"view": "qual.mixed_methods", "participants": len(participants),
                        "codes": len(codes), "score_columns": len(score_columns)})
    return table
