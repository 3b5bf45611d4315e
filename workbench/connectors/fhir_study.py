"""Import FHIR R4/R4B bundles from a hospital into an existing study of the operational store.

The bundle's Patients become participants of the study: identifiers, name, birth date and
contact details go to the trusted party only (``source_pseudonyms`` registers them through the
usual record linkage, keyed on the MRN so a re-run finds the same person), and the participant
is known by their study-domain pseudonym, with the baseline the deposit reads (sex, birth year,
and from an mCODE primary cancer Condition the ICD-10 code, cancer site, diagnosis date and
stage). QuestionnaireResponses to the study's instruments become Responses, checked and scored
as a form submission is; a Consent that denies research use records the participant's
opposition to reuse (``withdraw(..., "reuse")``) and the trusted party's flag.

Idempotent: each response's submission key is derived from the source and the resource id, so
a re-run stores nothing twice. Each patient is written in its own savepoint: a patient whose
write fails leaves nothing behind, the others are kept.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench import audit
from workbench.connectors.fhir_import import validated_entries
from workbench.connectors.fhir_map import (
    INSTRUMENTS,
    ITEM_POSITION,
    LOINC_ORDINAL,
    answered_items,
    denies_research,
    fhir_date,
    instrument_of,
    patient_record,
    reference,
)
from workbench.connectors.pipeline import PatientRecord, Progress, new_run_id
from workbench.connectors.report import RunReport
from workbench.connectors.vocab import vocabulary_of
from workbench.consent.withdrawal import withdraw
from workbench.errors import ConflictError, ValidationError, WorkbenchError
from workbench.instruments.answers import check_answers
from workbench.instruments.model import Instrument
from workbench.instruments.scoring import score_response
from workbench.instruments.store import get_instrument
from workbench.participants.models import Participant, Response
from workbench.participants.service import collection_blocked
from workbench.studies import alerts
from workbench.studies.models import ScheduleEvent, Study
from workbench.studies.service import get_study
from workbench.trusted_party import TrustedParty
from workbench.trusted_party.sources import source_pseudonyms

__all__ = ["STUDY_RESOURCES", "import_fhir_into_study"]

STUDY_RESOURCES = ("Patient", "Condition", "QuestionnaireResponse", "Consent")
_SEX = {"male": "M", "female": "F", "other": "X"}
# Baseline cancer_site values the deposit maps to SNOMED (workbench.deposit.CANCER_SITES).
_ICD10_SITES = {"C50": "breast", "C34": "lung", "C18": "colorectal", "C19": "colorectal",
                "C20": "colorectal", "C61": "prostate", "C56": "ovary"}
_SNOMED_SITES = {"254837009": "breast", "363358000": "lung", "363406005": "colorectal",
                 "399068003": "prostate", "363443007": "ovary"}
_EVENT_EXTENSION = "urn:weshare:event"
_LOCAL_REFERENCE = re.compile(r"[A-Za-z]+/[A-Za-z0-9\-.]{1,64}")  # FHIR Type/id


@dataclass
class _Answer:
    where: str
    key: str
    instrument: str
    authored: datetime
    answers: dict[str, Any]
    event: str | None                 # from the urn:weshare:event extension, if any


@dataclass
class _Patient:
    record: PatientRecord
    language: str = "fr"
    baseline: dict[str, Any] = field(default_factory=dict)
    permit_on: date | None = None     # earliest active research Consent (the inclusion date)
    deny: bool = False
    answers: list[_Answer] = field(default_factory=list)


def import_fhir_into_study(session: Session, tp: TrustedParty, paths: Sequence[Path], *, study: str,
                           source: str, actor: str, site: str = "",
                           progress: Progress | None = None) -> RunReport:
    """Enrol the bundle's patients in ``study`` and store their answers; returns the run report.

    Writes in ``session`` (the caller commits); identities go to ``tp`` only.
    """
    if not source.strip() or len(source) > 100:
        raise ValidationError("name the source (the establishment), 1 to 100 characters", where="source")
    start = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    found = get_study(session, study.strip().upper())
    if found.status != "active":
        raise ConflictError(f"study {found.code} is {found.status}: participants are enrolled in an "
                            "active study only")
    if site and site not in {s.code for s in found.sites}:
        raise ValidationError(f"study {found.code} has no site {site!r}", where="site")
    report = RunReport("fhir-study", source, run_id=new_run_id())
    instruments = {i for e in found.events if e.respondent_type == "patient" for i in e.instruments}
    patients, skipped = _read(paths, report, source, instruments, tick)
    if skipped:
        report.notes.append("not used by a study import (import them into the warehouse without "
                            "--study): " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    ready: list[_Patient] = []
    for p in patients.values():
        if p.record.year_of_birth is None:
            report.reject(p.record.where, "no birth date: a participant needs a birth year "
                                          f"({len(p.answers)} response(s) left out)")
        else:
            ready.append(p)
    tick("pseudonyms", 0, 1)
    sources = [replace(p.record.source, opposed=p.deny) for p in ready]  # type: ignore[type-var]
    codes = source_pseudonyms(tp, sources, f"study:{found.code}", actor=actor,
                              reason=f"FHIR import from {source} into study {found.code}"
                              ).pseudonyms if ready else []
    tick("pseudonyms", 1, 1)
    events = list(found.events)
    opposed = 0
    for n, (p, code) in enumerate(zip(ready, codes, strict=True)):
        tick("participants", n, len(ready))
        assert code is not None  # study pseudonyms are issued even to people opposed to reuse
        try:
            with session.begin_nested():
                opposed += _write_patient(session, found, events, p, code, report, source=source,
                                          actor=actor, site=site)
        except (WorkbenchError, IntegrityError) as exc:
            reason = str(exc) if isinstance(exc, WorkbenchError) else "the store refused the write"
            report.reject(p.record.where, f"{reason}: nothing of this patient was written")
    tick("participants", len(ready), len(ready))
    if opposed:
        report.notes.append(f"{opposed} participant(s) whose Consent denies research use: enrolled, "
                            "opposition to reuse recorded")
    report.seconds = time.perf_counter() - start
    audit.record(session, actor=actor, action="connector.fhir.study", object_type="study",
                 object_id=found.code, reason=f"FHIR import from {source}", after=report.to_dict())
    return report


def _read(paths: Sequence[Path], report: RunReport, source: str, instruments: set[str],
          tick: Progress) -> tuple[dict[str, _Patient], Counter[str]]:
    """Validated resources grouped by patient; what cannot be used is rejected with its reason."""
    skipped: Counter[str] = Counter()
    entries, urls = validated_entries(paths, report, STUDY_RESOURCES, tick,
                                      lambda _where, kind: skipped.update([kind]))
    patients: dict[str, _Patient] = {}
    for where, key, resource in entries:
        if resource["resourceType"] == "Patient":
            record, _death = patient_record(resource, key, where, source)
            patients[key] = _Patient(record, _language(resource))
            patients[key].baseline = {"sex": _SEX.get(record.gender_source_value, "U"),
                                      "birth_year": record.year_of_birth}
    orphans: Counter[str] = Counter()
    for where, key, resource in entries:
        kind = resource["resourceType"]
        if kind == "Patient":
            continue
        if resource.get("status") == "entered-in-error":
            report.reject(where, "status entered-in-error")
            continue
        subject = reference(resource.get("subject") or resource.get("patient"), urls)
        patient = patients.get(subject or "")
        if patient is None:  # a conditional reference (Patient?identifier=…|MRN) is not echoed
            orphans[subject if subject and _LOCAL_REFERENCE.fullmatch(subject) else
                    "(a subject that is not a Type/id reference)" if subject else "(no subject)"] += 1
            continue
        if kind == "Condition" and not _is_primary_cancer(resource):
            skipped["Condition (not an mCODE primary cancer condition)"] += 1
        elif kind == "Condition":
            _condition(resource, where, patient, report)
        elif kind == "Consent":
            if denies_research(resource):
                patient.deny = True
            elif resource.get("status") == "active":
                day = fhir_date(resource.get("dateTime"))
                if day and (patient.permit_on is None or day < patient.permit_on):
                    patient.permit_on = day
        else:
            answer = _questionnaire(resource, key, where, instruments, report)
            if answer is not None:
                patient.answers.append(answer)
    for subject, count in sorted(orphans.items()):
        report.reject(subject, f"not a Patient of this input: send the Patient with its resources "
                               f"({count} record(s) left out)")
    return patients, skipped


def _language(resource: dict[str, Any]) -> str:
    for item in resource.get("communication") or []:
        for coding in (item.get("language") or {}).get("coding") or []:
            code = str(coding.get("code") or "")[:2].lower()
            if code in ("fr", "en"):
                return code
    return "fr"


def _is_primary_cancer(resource: dict[str, Any]) -> bool:
    profiles = (resource.get("meta") or {}).get("profile") or []
    return any("mcode-primary-cancer-condition" in str(p) for p in profiles)


def _condition(resource: dict[str, Any], where: str, patient: _Patient, report: RunReport) -> None:
    """The baseline diagnosis from an mCODE primary cancer Condition (the earliest, if several)."""
    icd10, site, label = None, None, ""
    for coding in (resource.get("code") or {}).get("coding") or []:
        vocabulary, code = vocabulary_of(coding.get("system")), str(coding.get("code") or "")
        label = label or f"{coding.get('system') or '?'}|{code or '?'}"
        if vocabulary in ("ICD10", "ICD10CM") and code:
            icd10 = icd10 or code
            site = site or _ICD10_SITES.get(code[:3].upper())
        elif vocabulary == "SNOMED":
            site = site or _SNOMED_SITES.get(code)
    if icd10 is None and site is None:
        report.reject(where, f"unmapped cancer site {label or '(no code)'}")
        return
    diagnosed = fhir_date(resource.get("onsetDateTime") or (resource.get("onsetPeriod") or {}).get("start")
                          or resource.get("recordedDate"))
    known = patient.baseline.get("diagnosis_date")
    if "cancer_site" in patient.baseline and (
            diagnosed is None or (known and date.fromisoformat(known) <= diagnosed)):
        return  # the earliest dated primary cancer is the baseline one (a dated one beats an undated one)
    for name in ("icd10", "cancer_site", "diagnosis_date", "stage"):  # never mix two Conditions
        patient.baseline.pop(name, None)
    values: dict[str, Any] = {"icd10": icd10, "cancer_site": site or "other",
                              "diagnosis_date": diagnosed.isoformat() if diagnosed else None}
    for stage in resource.get("stage") or []:
        summary = stage.get("summary") or {}
        code = next((c.get("code") for c in summary.get("coding") or [] if c.get("code")), None)
        if code or summary.get("text"):
            values["stage"] = str(code or summary["text"])[:20]
            break
    patient.baseline.update({k: v for k, v in values.items() if v is not None})


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        day = fhir_date(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _questionnaire(resource: dict[str, Any], key: str, where: str, instruments: set[str],
                   report: RunReport) -> _Answer | None:
    if resource.get("status") not in ("completed", "amended"):
        report.reject(where, f"status {resource.get('status')}: only completed answers are imported")
        return None
    url = str(resource.get("questionnaire") or "")
    name = instrument_of(url)
    if name is None:
        tail = url.rstrip("/").split("/")[-1].split("|")[0].lower()
        name = tail if tail in instruments else None
    if name not in instruments:
        listed = ", ".join(sorted(instruments)) or "none"
        report.reject(where, f"questionnaire {url or '(none given)'} is not an instrument of this study "
                             f"(instruments: {listed})")
        return None
    authored = _moment(resource.get("authored"))
    if authored is None:
        report.reject(where, "no date (authored)")
        return None
    event = next((e.get("valueString") for e in resource.get("extension") or []
                  if e.get("url") == _EVENT_EXTENSION), None)
    raw: dict[str, Any] = {}
    for item in answered_items(resource.get("item") or []):
        if item.get("answer"):
            raw[str(item.get("linkId") or "").strip("/")] = item["answer"][0]
    return _Answer(where, key, name, authored, raw, event)


def _answers(instrument: Instrument, answer: _Answer, report: RunReport) -> dict[str, Any]:
    """QuestionnaireResponse items → the instrument's item names (by name, LOINC code or position)."""
    asked = [i.name for i in instrument.items if i.answered]
    lookup = {n.lower(): n for n in asked}
    codes = INSTRUMENTS[instrument.id][2] if instrument.id in INSTRUMENTS else []
    out: dict[str, Any] = {}
    for link, given in answer.answers.items():
        name = lookup.get(link.lower())
        if name is None and link in codes:
            position = codes.index(link) + 1
            name = asked[position - 1] if position <= len(asked) else None
        match = ITEM_POSITION.match(link)
        if name is None and match and 1 <= int(match.group(1)) <= len(asked):
            name = asked[int(match.group(1)) - 1]
        if name is None:
            report.reject(f"{answer.where} item {link}", f"unmapped item {link!r} of {instrument.id}")
            continue
        coding = given.get("valueCoding")
        if coding:
            code = str(coding.get("code") or "")
            choices = next(i.choice_codes() for i in instrument.items if i.name == name) or []
            value: Any = code if code in choices else LOINC_ORDINAL.get(code, code)
        else:
            value = next((given[k] for k in ("valueInteger", "valueDecimal", "valueString", "valueBoolean",
                                             "valueDate", "valueDateTime", "valueTime") if k in given), None)
        out[name] = value
    return out


def _event_for(events: list[ScheduleEvent], answer: _Answer, inclusion: date) -> ScheduleEvent:
    fitting = [e for e in events if e.respondent_type == "patient" and answer.instrument in e.instruments]
    if answer.event:
        named = next((e for e in fitting if e.code == answer.event), None)
        if named is None:
            raise ValidationError(f"event {answer.event!r} does not schedule {answer.instrument} in this study",
                                  where="event")
        return named
    day = (answer.authored.date() - inclusion).days
    inside = [e for e in fitting if e.day_offset - e.window_before <= day <= e.day_offset + e.window_after]
    if not inside:
        raise ValidationError(f"answered on day {day} after inclusion: no window of the schedule holds "
                              f"{answer.instrument} then", where="event")
    return min(inside, key=lambda e: abs(e.day_offset - day))


def _submission_key(source: str, study: str, key: str) -> str:
    return "fhir:" + hashlib.sha256(f"{source}|{study}|{key}".encode()).hexdigest()[:48]


def _write_patient(session: Session, study: Study, events: list[ScheduleEvent], p: _Patient, code: str,
                   report: RunReport, *, source: str, actor: str, site: str) -> int:
    """One patient, inside the caller's savepoint; returns 1 if their reuse opposition was recorded."""
    participant = session.execute(select(Participant).where(Participant.pseudonym == code)).scalar_one_or_none()
    if participant is not None and participant.study_id != study.id:
        raise ConflictError("pseudonym already used by another study's participant")
    first_answer = min((a.authored.date() for a in p.answers), default=None)
    report.mapped["participants"] += 1
    if participant is None:
        participant = Participant(study_id=study.id, pseudonym=code, respondent_type="patient", site=site,
                                  inclusion_date=p.permit_on or first_answer or datetime.now(UTC).date(),
                                  language=p.language, baseline=dict(p.baseline))
        session.add(participant)
        session.flush()
        report.inserted["participants"] += 1
        report.persons_new += 1
        created = True
    else:
        missing = {k: v for k, v in p.baseline.items() if k not in (participant.baseline or {})}
        if missing:
            participant.baseline = {**(participant.baseline or {}), **missing}
            report.updated["participants"] += 1
        else:
            report.unchanged += 1
        created = False
    opposed = 0
    if p.deny and not participant.reuse_opposed:
        withdraw(session, participant, "reuse", reason=f"FHIR Consent from {source} denies research use",
                 actor=actor)
        opposed = 1
    stored = 0
    for answer in sorted(p.answers, key=lambda a: a.authored):
        stored += _write_response(session, events, participant, answer, report, source=source,
                                  study=study.code)
    audit.record(session, actor=actor, action="participant.import", object_type="participant",
                 object_id=participant.pseudonym, reason=f"FHIR import from {source}",
                 after={"created": created, "responses": stored, "reuse_opposed": participant.reuse_opposed})
    return opposed


def _write_response(session: Session, events: list[ScheduleEvent], participant: Participant, answer: _Answer,
                    report: RunReport, *, source: str, study: str) -> int:
    """Store one response (1), or count it unchanged or reject it (0); answers are never echoed."""
    report.mapped["responses"] += 1
    key = _submission_key(source, study, answer.key)
    if session.execute(select(Response.id).where(Response.submission_key == key)).first() is not None:
        report.unchanged += 1
        return 0
    blocked = collection_blocked(participant)
    if blocked:
        report.reject(answer.where, blocked)
        return 0
    try:
        event = _event_for(events, answer, participant.inclusion_date)
    except ValidationError as exc:
        report.reject(answer.where, str(exc))
        return 0
    taken = session.execute(select(Response.id).where(
        Response.participant_id == participant.id, Response.event_code == event.code,
        Response.instrument_id == answer.instrument)).first()
    if taken is not None:
        report.reject(answer.where, f"{answer.instrument} at {event.code} is already answered "
                                    "(a stored response is not replaced)")
        return 0
    instrument = get_instrument(session, answer.instrument)
    try:
        cleaned = check_answers(instrument, _answers(instrument, answer, report), participant.language)
    except ValidationError as exc:
        report.reject(answer.where, f"answers refused: {exc}")
        return 0
    scores = score_response(answer.instrument, cleaned)
    response = Response(participant_id=participant.id, event_code=event.code, instrument_id=answer.instrument,
                        submission_key=key, submitted_at=answer.authored,
                        answers={**cleaned, "_scores": scores} if scores else cleaned)
    session.add(response)
    session.flush()
    numbers = {k: float(v) for k, v in {**cleaned, **scores}.items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    alerts.evaluate(session, response, numbers)
    report.inserted["responses"] += 1
    return 1
