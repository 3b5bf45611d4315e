"""Instruments a study team imported, and licensed texts a site loaded, in the operational store.

Built-in instruments live in code; what is stored are imported definitions and built-in
licensed instruments completed with the licensee's texts (the site holds the licence, the public
repository never sees them). An import is all or nothing: every file is parsed and checked before
anything is written, and the caller's transaction commits all forms or none.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.instruments.answers import check_answers
from workbench.instruments.library import LIBRARY_IDS, get_library_instrument, read_texts_file
from workbench.instruments.model import Instrument
from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow

__all__ = ["InstrumentRecord", "available_instruments", "get_instrument", "import_file",
           "load_licensed_texts", "read_file", "save_instrument", "submit_validator"]


class InstrumentRecord(Base):
    __tablename__ = "instruments"
    __table_args__ = (UniqueConstraint("instrument_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    version: Mapped[str] = mapped_column(String(32), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    definition: Mapped[Any] = mapped_column(JSONText, nullable=False)
    file_name: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id", ondelete="SET NULL"))


def read_file(path: Path | str, *, language: str = "en", fmt: str | None = None) -> tuple[list[Instrument], list[str]]:
    """Parse a REDCap dictionary (.csv), an XLSForm (.xlsx) or a FHIR Questionnaire (.json)."""
    from workbench.instruments import fhir, redcap, xlsform

    path = Path(path)
    kind = fmt or {".csv": "redcap", ".xlsx": "xlsform", ".json": "fhir"}.get(path.suffix.lower())
    if kind == "redcap":
        parsed = redcap.read_data_dictionary(path, language=language)
        return parsed.instruments, parsed.warnings
    if kind == "xlsform":
        return [xlsform.read_xlsform(path, language=language)], []
    if kind == "fhir":
        return [fhir.read_questionnaire(path, language=language)], []
    raise ValidationError("use a REDCap data dictionary (.csv), an XLSForm (.xlsx) or a FHIR "
                          "Questionnaire (.json)", where=str(path))


def save_instrument(session: Session, instrument: Instrument, *, actor: str, file_name: str = "",
                    study_id: int | None = None) -> InstrumentRecord:
    if instrument.id in LIBRARY_IDS and instrument.source != "library":
        raise ConflictError(f"{instrument.id} is a built-in instrument: rename the imported one")
    exists = session.execute(select(InstrumentRecord).where(
        InstrumentRecord.instrument_id == instrument.id, InstrumentRecord.version == instrument.version,
    )).scalar_one_or_none()
    if exists is not None:
        raise ConflictError(f"{instrument.id} version {instrument.version} is already stored; "
                            "change the version to store a new one")
    record = InstrumentRecord(instrument_id=instrument.id, version=instrument.version,
                              source=instrument.source, definition=instrument.to_dict(),
                              file_name=file_name, created_by=actor, study_id=study_id)
    session.add(record)
    session.flush()
    audit.record(session, actor=actor, action="instrument.import", object_type="instrument",
                 object_id=instrument.id, after={"version": instrument.version, "source": instrument.source,
                                                 "items": len(instrument.items), "file": file_name})
    return record


def import_file(session: Session, path: Path | str, *, actor: str, language: str = "en",
                fmt: str | None = None, study_id: int | None = None) -> tuple[list[Instrument], list[str]]:
    instruments, warnings = read_file(path, language=language, fmt=fmt)
    for instrument in instruments:  # everything parsed: now write, all in the caller's transaction
        save_instrument(session, instrument, actor=actor, file_name=Path(path).name, study_id=study_id)
    return instruments, warnings


def load_licensed_texts(session: Session, instrument_id: str, path: Path | str, *, actor: str) -> Instrument:
    """Complete a licensed built-in instrument with the licensee's texts and store it."""
    base = get_library_instrument(instrument_id)
    if not base.licensed_texts:
        raise ValidationError(f"{instrument_id} ships with its texts; nothing to load", where="instrument")
    texts = read_texts_file(Path(path), base)
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    completed = base.with_texts(texts)
    from dataclasses import replace

    completed = replace(completed, version=f"{base.version}+texts.{stamp}")
    save_instrument(session, completed, actor=actor, file_name=Path(path).name)
    return completed


def get_instrument(session: Session | None, instrument_id: str) -> Instrument:
    """The newest stored definition, else the built-in one."""
    if session is not None:
        record = session.execute(
            select(InstrumentRecord).where(InstrumentRecord.instrument_id == instrument_id)
            .order_by(InstrumentRecord.created_at.desc(), InstrumentRecord.id.desc()).limit(1)
        ).scalar_one_or_none()
        if record is not None:
            return Instrument.from_dict(record.definition)
    try:
        return get_library_instrument(instrument_id)
    except NotFoundError:
        raise NotFoundError(f"no instrument {instrument_id!r}: import it or pick one from the library") from None


def available_instruments(session: Session) -> list[tuple[str, str, str]]:
    """(id, English title, source) of every instrument a study may schedule."""
    out = {i: (i, get_library_instrument(i).title.get("en", i), "library") for i in LIBRARY_IDS}
    for record in session.execute(select(InstrumentRecord).order_by(InstrumentRecord.created_at)).scalars():
        title = record.definition.get("title", {})
        out[record.instrument_id] = (record.instrument_id, title.get("en") or next(iter(title.values()), ""),
                                     record.source)
    return list(out.values())


def submit_validator(session: Session, language: str = "en"):  # type: ignore[no-untyped-def]
    """A ``validate`` callable for ``submit_response``: the form's own checks, run again server-side."""
    def validate(instrument_id: str, answers: dict[str, Any]) -> None:
        check_answers(get_instrument(session, instrument_id), answers, language)
    return validate
