"""Data-subject rights requests (GDPR art. 15–21) and the study team's queue with deadlines.

A request is answered within one month of receipt (art. 12(3)); the queue shows what is overdue.
Opposition takes effect at once through the consent flags; a copy of the data is a portable JSON
file built from what the operational store holds under the participant's pseudonym.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench import audit
from workbench.consent.models import ConsentDocument, ConsentRecord
from workbench.consent.withdrawal import withdraw
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.participants.models import Participant, Response
from workbench.storage.base import Base, UTCDateTime, utcnow
from workbench.studies.models import Study

__all__ = ["KINDS", "RightsRequest", "close_request", "copy_for_request", "file_request", "portable_copy", "queue"]

KINDS = ("copy", "portability", "opposition", "rectification", "restriction", "erasure")
DEADLINE = timedelta(days=30)


class RightsRequest(Base):
    __tablename__ = "rights_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"),
                                                nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(Text)


def file_request(session: Session, participant: Participant, kind: str, details: str = "",
                 *, now: datetime | None = None) -> RightsRequest:
    """Filed by the participant from the portal; opposition is applied immediately as well."""
    if kind not in KINDS:
        raise ValidationError(f"one of {', '.join(KINDS)}", where="request type")
    if kind in {"rectification", "restriction", "erasure"} and not details.strip():
        raise ValidationError("say what should change", where="details")
    at = now or utcnow()
    request = RightsRequest(participant_id=participant.id, kind=kind, details=details.strip(),
                            received_at=at, due_at=at + DEADLINE)
    session.add(request)
    session.flush()
    audit.record(session, actor=participant.pseudonym, action="rights.file", object_type="rights_request",
                 object_id=request.id, after={"kind": kind, "due": request.due_at.isoformat()})
    if kind == "opposition" and not participant.reuse_opposed:
        withdraw(session, participant, "reuse", reason=f"opposition filed (request {request.id})",
                 actor=participant.pseudonym)
    return request


def queue(session: Session, study_code: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open requests of a study, oldest deadline first, with days left (negative = overdue)."""
    at = now or utcnow()
    rows = session.execute(
        select(RightsRequest, Participant.pseudonym)
        .join(Participant, Participant.id == RightsRequest.participant_id)
        .join(Study, Study.id == Participant.study_id)
        .where(Study.code == study_code, RightsRequest.status == "open")
        .order_by(RightsRequest.due_at)
    ).all()
    return [{"id": r.id, "participant": p, "kind": r.kind, "details": r.details,
             "received": r.received_at, "due": r.due_at, "days_left": (r.due_at.date() - at.date()).days,
             "overdue": r.due_at < at} for r, p in rows]


def close_request(session: Session, request_id: int, *, actor: str, answer: str,
                  refused: bool = False) -> RightsRequest:
    request = session.get(RightsRequest, request_id)
    if request is None:
        raise NotFoundError(f"no rights request {request_id}")
    if request.status != "open":
        raise ConflictError(f"request {request_id} is already {request.status}")
    if not answer.strip():
        raise ValidationError("write the answer sent to the participant", where="answer")
    request.status = "refused" if refused else "done"
    request.closed_at, request.handled_by, request.answer = utcnow(), actor, answer.strip()
    audit.record(session, actor=actor, action="rights.close", object_type="rights_request",
                 object_id=request_id, reason=answer.strip(), after={"status": request.status})
    return request


def portable_copy(session: Session, participant: Participant, *, actor: str) -> bytes:
    """Everything held under this pseudonym, as UTF-8 JSON (art. 15 copy and art. 20 portability)."""
    study = session.get(Study, participant.study_id)
    assert study is not None
    responses = session.execute(
        select(Response).where(Response.participant_id == participant.id).order_by(Response.submitted_at)
    ).scalars()
    consents = session.execute(
        select(ConsentRecord, ConsentDocument)
        .join(ConsentDocument, ConsentDocument.id == ConsentRecord.document_id)
        .where(ConsentRecord.participant_id == participant.id)
    ).all()
    payload = {
        "format": "weshare-participant-copy/1",
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "study": {"code": study.code, "title": study.title},
        "participant": {"pseudonym": participant.pseudonym, "site": participant.site,
                        "respondent_type": participant.respondent_type,
                        "inclusion_date": participant.inclusion_date.isoformat(),
                        "status": participant.status, "language": participant.language,
                        "opposed_to_reuse": participant.reuse_opposed},
        "questionnaires": [{"event": r.event_code, "instrument": r.instrument_id,
                            "submitted_at": r.submitted_at.isoformat(timespec="seconds"),
                            "answers": {k: v for k, v in r.answers.items() if not k.startswith("_")}}
                           for r in responses],
        "consents": [{"version": d.version, "language": d.language, "signed_at": c.signed_at.isoformat(),
                      "meaning": c.meaning, "optional": c.optional_choices, "pdf_sha256": c.pdf_sha256}
                     for c, d in consents],
    }
    audit.record(session, actor=actor, action="rights.copy", object_type="participant",
                 object_id=participant.pseudonym, after={"questionnaires": len(payload["questionnaires"])})
    return json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")


def copy_for_request(session: Session, request_id: int, *, actor: str, warehouse: Any = None,
                     tp: Any = None) -> bytes:
    """The copy answering a copy or portability request (the team sends it to the person).

    A portability request (art. 20) gets a FHIR R4 Bundle, a structured machine-readable format
    another service can import (``workbench.connectors.fhir_export``); with the warehouse and
    the trusted party it also carries what the warehouse holds for the person.
    """
    request = session.get(RightsRequest, request_id)
    if request is None:
        raise NotFoundError(f"no rights request {request_id}")
    if request.kind not in {"copy", "portability"}:
        raise ConflictError(f"request {request_id} asks for {request.kind}, not a copy of the data")
    participant = session.get(Participant, request.participant_id)
    assert participant is not None
    if request.kind == "portability":
        # Imported here: fhir.resources is loaded only when a portability copy is made.
        from workbench.connectors.fhir_export import participant_bundle_json

        return participant_bundle_json(session, participant, actor=actor, warehouse=warehouse, tp=tp)
    return portable_copy(session, participant, actor=actor)
