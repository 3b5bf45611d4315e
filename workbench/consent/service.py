"""Publishing consent versions, signing, countersigning and verifying the signed PDFs."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workbench import audit
from workbench.consent.models import ConsentDocument, ConsentRecord
from workbench.consent.pdf import SignatureBlock, render_consent_pdf
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.participants.models import Participant
from workbench.storage.base import utcnow
from workbench.studies.models import Study
from workbench.studies.service import get_study

__all__ = ["SignatureInput", "countersign", "current_document", "publish_document", "sign"]

MEANING = {"fr": "Consentement à participer à l'étude", "en": "Consent to take part in the study"}
COUNTERSIGN_MEANING = "Person who conducted the consent discussion / Personne ayant recueilli le consentement"
MAX_POINTS = 5000


def _content_hash(doc: ConsentDocument) -> str:
    canonical = repr((doc.title, doc.body, doc.materials, doc.comprehension, doc.optional_consents))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def publish_document(
    session: Session, study_code: str, *, language: str, version: str, title: str, body: str,
    actor: str, site: str = "", ethics_ref: str = "", effective_from: date | None = None,
    materials: list[dict[str, str]] | None = None, comprehension: list[dict[str, Any]] | None = None,
    optional_consents: list[dict[str, str]] | None = None,
) -> ConsentDocument:
    """Publish a version; it replaces the previous one and flags its signers for re-consent."""
    study = get_study(session, study_code)
    if language not in ("fr", "en"):
        raise ValidationError("must be 'fr' or 'en'", where="consent language")
    if not version.strip() or not title.strip() or not body.strip():
        raise ValidationError("version, title and text are all required", where="consent document")
    for i, q in enumerate(comprehension or [], 1):
        if not q.get("choices") or not 0 <= int(q.get("answer", -1)) < len(q["choices"]):
            raise ValidationError("needs choices and the index of the right answer",
                                  where=f"comprehension question {i}")
    for m in materials or []:
        if m.get("kind") not in {"pdf", "video", "audio", "link"} or not m.get("url"):
            raise ValidationError("each material needs a kind (pdf, video, audio, link) and a url",
                                  where="consent materials")
    previous = _current(session, study.id, site, language)
    if previous is not None and previous.version == version:
        raise ConflictError(f"version {version} already exists for {study_code} ({language})")
    doc = ConsentDocument(
        study_id=study.id, site=site, language=language, version=version, title=title, body=body,
        ethics_ref=ethics_ref, effective_from=effective_from or date.today(),
        materials=materials or [], comprehension=comprehension or [],
        optional_consents=optional_consents or [], created_by=actor,
    )
    doc.content_hash = _content_hash(doc)
    session.add(doc)
    flagged = 0
    if previous is not None:
        previous.superseded_at = utcnow()
        signed = select(ConsentRecord.participant_id).where(
            ConsentRecord.document_id == previous.id
        )
        flagged = session.execute(
            update(Participant)
            .where(Participant.id.in_(signed), Participant.status == "active")
            .values(reconsent_required=True)
        ).rowcount or 0
    session.flush()
    audit.record(session, actor=actor, action="consent.publish", object_type="study",
                 object_id=study_code, after={"version": version, "language": language, "site": site,
                                              "content_sha256": doc.content_hash,
                                              "reconsent_flagged": flagged},
                 before={"version": previous.version} if previous else None)
    return doc


def _current(session: Session, study_id: int, site: str, language: str) -> ConsentDocument | None:
    return session.execute(
        select(ConsentDocument)
        .where(ConsentDocument.study_id == study_id, ConsentDocument.site == site,
               ConsentDocument.language == language, ConsentDocument.superseded_at.is_(None))
    ).scalar_one_or_none()


def current_document(session: Session, participant: Participant) -> ConsentDocument:
    """The version this participant must sign: their site's if any, else the study-wide one."""
    for site in (participant.site, ""):
        for language in (participant.language, "fr", "en"):
            doc = _current(session, participant.study_id, site, language)
            if doc is not None:
                return doc
    raise NotFoundError("no consent document is published for this study yet")


@dataclass(frozen=True)
class SignatureInput:
    printed_name: str
    strokes: list[list[tuple[float, float]]]
    time_zone: str
    auth_method: str
    certified: bool
    answers: dict[str, int]
    optional_choices: dict[str, bool]


def _check_signature(sig: SignatureInput) -> ZoneInfo:
    if not sig.certified:
        raise ValidationError("please confirm the certification statement before signing",
                              where="certification")
    if not 2 <= len(sig.printed_name.strip()) <= 200:
        raise ValidationError("type your full name", where="printed name")
    points = [p for stroke in sig.strokes for p in stroke]
    if not sig.strokes or len(points) < 10 or any(len(s) < 2 for s in sig.strokes):
        raise ValidationError("draw your signature in the box", where="signature")
    if len(points) > MAX_POINTS or any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in points):
        raise ValidationError("the drawn signature is outside the box or too long", where="signature")
    try:
        return ZoneInfo(sig.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {sig.time_zone!r}", where="time zone") from None


def _write_vault(vault: Path, study: str, pseudonym: str, pdf: bytes) -> tuple[str, str]:
    """Content-addressed, written atomically; returns (sha256, path relative to the vault)."""
    sha = hashlib.sha256(pdf).hexdigest()
    relative = Path(study) / pseudonym / f"{sha}.pdf"
    target = vault / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(pdf)
    os.chmod(tmp, 0o440)
    tmp.replace(target)
    return sha, str(relative)


def sign(
    session: Session, vault: Path, participant: Participant, document_id: int, sig: SignatureInput,
    *, now: datetime | None = None,
) -> ConsentRecord:
    """Refuse outdated versions, second signatures and withdrawn participants; else sign."""
    if participant.status != "active":
        raise ConflictError("this participant has withdrawn from the study; nothing can be signed")
    doc = session.get(ConsentDocument, document_id)
    if doc is None or doc.study_id != participant.study_id:
        raise NotFoundError("this consent document does not exist for your study")
    current = current_document(session, participant)
    if doc.superseded_at is not None or doc.id != current.id:
        raise ConflictError(f"version {doc.version} has been replaced by version {current.version}: "
                            "please read and sign the new version")
    if session.execute(select(ConsentRecord.id).where(
            ConsentRecord.document_id == doc.id,
            ConsentRecord.participant_id == participant.id)).first():
        raise ConflictError(f"this consent (version {doc.version}) is already signed")
    zone = _check_signature(sig)
    answered = []
    for i, q in enumerate(doc.comprehension, 1):
        qid = str(q.get("id", i))
        given = sig.answers.get(qid)
        if given is None or not 0 <= given < len(q["choices"]):
            raise ValidationError("please answer this question", where=f"question {i}")
        if given != int(q["answer"]):
            raise ValidationError("this answer is not right: please read the information again",
                                  where=f"question {i}")
        answered.append((q["question"], q["choices"][given]))
    codes = {o["code"]: o["label"] for o in doc.optional_consents}
    if set(sig.optional_choices) != set(codes):
        missing = sorted(set(codes) - set(sig.optional_choices)) or sorted(set(sig.optional_choices) - set(codes))
        raise ValidationError(f"answer yes or no for: {', '.join(missing)}", where="optional consents")
    signed_at = now or utcnow()
    study = session.get(Study, participant.study_id)
    assert study is not None
    meaning = MEANING.get(doc.language, MEANING["en"])
    pdf = render_consent_pdf(
        title=doc.title, study=study.code, version=doc.version, language=doc.language, body=doc.body,
        answers=answered, optional_choices=[(codes[c], sig.optional_choices[c]) for c in codes],
        signatures=[SignatureBlock(sig.printed_name.strip(), "participant", meaning,
                                   signed_at.astimezone(zone), sig.time_zone, sig.auth_method,
                                   sig.strokes)],
        footer_id=f"{participant.pseudonym} · {signed_at.isoformat(timespec='seconds')}",
    )
    sha, relative = _write_vault(vault, study.code, participant.pseudonym, pdf)
    record = ConsentRecord(
        document_id=doc.id, participant_id=participant.id, meaning=meaning, signed_at=signed_at,
        time_zone=sig.time_zone, auth_method=sig.auth_method,
        answers={str(k): v for k, v in sig.answers.items()}, optional_choices=dict(sig.optional_choices),
        pdf_sha256=sha, vault_path=relative,
    )
    session.add(record)
    participant.reconsent_required = False
    if sig.optional_choices.get("warehouse_reuse") is False:
        participant.reuse_opposed = True
    session.flush()
    audit.record(session, actor=participant.pseudonym, action="consent.sign", object_type="consent",
                 object_id=record.id, at=signed_at,
                 after={"document": doc.id, "version": doc.version, "pdf_sha256": sha,
                        "meaning": meaning, "auth": sig.auth_method,
                        "optional": dict(sig.optional_choices)})
    return record


def countersign(
    session: Session, vault: Path, record_id: int, *, investigator: str, printed_name: str,
    strokes: list[list[tuple[float, float]]], time_zone: str,
) -> ConsentRecord:
    """A second PDF, bound to the participant's by quoting its SHA-256 (the original stays as is)."""
    record = session.get(ConsentRecord, record_id)
    if record is None:
        raise NotFoundError(f"no consent record {record_id}")
    if record.countersigned_at is not None:
        raise ConflictError("this consent is already countersigned")
    zone = _check_signature(SignatureInput(printed_name, strokes, time_zone, "hub login + TOTP",
                                           True, {}, {}))
    participant = session.get(Participant, record.participant_id)
    doc = session.get(ConsentDocument, record.document_id)
    assert participant is not None and doc is not None
    study = session.get(Study, participant.study_id)
    assert study is not None
    at = utcnow()
    pdf = render_consent_pdf(
        title=f"Countersignature — {doc.title}", study=study.code, version=doc.version,
        language=doc.language,
        body=(f"Countersignature of consent record {record.id} signed by participant "
              f"{participant.pseudonym} on {record.signed_at.isoformat(timespec='seconds')}.\n"
              f"Signed consent PDF SHA-256: {record.pdf_sha256}"),
        answers=[], optional_choices=[],
        signatures=[SignatureBlock(printed_name.strip(), "investigator", COUNTERSIGN_MEANING,
                                   at.astimezone(zone), time_zone, "hub login + TOTP", strokes)],
        footer_id=f"countersignature of {record.pdf_sha256[:16]}",
    )
    sha, _relative = _write_vault(vault, study.code, participant.pseudonym, pdf)
    record.countersigned_by, record.countersigned_at, record.countersign_sha256 = investigator, at, sha
    audit.record(session, actor=investigator, action="consent.countersign", object_type="consent",
                 object_id=record.id, at=at, after={"pdf_sha256": sha, "signed_pdf": record.pdf_sha256})
    return record
