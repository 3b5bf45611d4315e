"""FHIR R4/R4B resources (already validated) → OMOP rows, following the domain rule.

- Patient → a ``PatientRecord``: identifier, name, birth date and contact details go to the
  trusted party only; the warehouse gets gender, year of birth and death.
- Condition → condition_occurrence; its ``stage`` summaries and mCODE staging Observations
  (TNM, stage group, performance status) → measurement linked to the condition
  (``measurement_event_id`` + ``meas_event_field_concept_id`` 1147127, OMOP oncology model).
- Observation, Procedure, MedicationAdministration/MedicationStatement → the table of their
  concept's domain (measurement, observation, procedure_occurrence, drug_exposure); each
  Observation ``component`` (blood pressure's systolic and diastolic) is a row of its own.
- Encounter → visit_occurrence; a Condition, Observation or Procedure whose ``encounter`` was
  imported gets its ``visit_occurrence_id``.
- QuestionnaireResponse → survey_conduct + one observation per answer (scores by domain).
- Consent → an observation (permit); an active Consent that *denies* research use records the
  patient's opposition at the trusted party, and none of their rows is imported.

Each mapper returns rows or raises ``Unmapped`` with the reason the row is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from workbench.connectors.pipeline import PatientRecord, Row
from workbench.connectors.vocab import Concept, ConceptMap
from workbench.errors import ValidationError
from workbench.trusted_party.identity import Identity
from workbench.trusted_party.sources import SourcePatient

__all__ = ["ITEM_POSITION", "TABLE_OF_DOMAIN", "Unmapped", "answered_items", "instrument_of", "map_resource",
           "patient_record"]

EHR, SURVEY = 32817, 32862
CONDITION_FIELD, SURVEY_FIELD, CONSENT = 1147127, 2000000401, 2000000601
GENDER = {"male": (8507, "M"), "female": (8532, "F"), "other": (0, "X"), "unknown": (0, "U")}
VISITS = {"AMB": 9202, "IMP": 9201, "EMER": 9203}  # v3 ActCode class → OMOP visit concept
TABLE_OF_DOMAIN = {"Condition": "condition_occurrence", "Procedure": "procedure_occurrence",
                   "Drug": "drug_exposure", "Measurement": "measurement"}
_COLUMNS = {  # table → (concept, source concept, source value, start date, datetime, type)
    "condition_occurrence": ("condition_concept_id", "condition_source_concept_id", "condition_source_value",
                             "condition_start_date", "condition_start_datetime", "condition_type_concept_id"),
    "procedure_occurrence": ("procedure_concept_id", "procedure_source_concept_id", "procedure_source_value",
                             "procedure_date", "procedure_datetime", "procedure_type_concept_id"),
    "drug_exposure": ("drug_concept_id", "drug_source_concept_id", "drug_source_value",
                      "drug_exposure_start_date", "drug_exposure_start_datetime", "drug_type_concept_id"),
    "measurement": ("measurement_concept_id", "measurement_source_concept_id", "measurement_source_value",
                    "measurement_date", "measurement_datetime", "measurement_type_concept_id"),
    "observation": ("observation_concept_id", "observation_source_concept_id", "observation_source_value",
                    "observation_date", "observation_datetime", "observation_type_concept_id"),
}
_EVENT = {"measurement": ("measurement_event_id", "meas_event_field_concept_id"),
          "observation": ("observation_event_id", "obs_event_field_concept_id")}
# Questionnaires: canonical URL patterns → (instrument, survey concept, item codes by position).
PHQ9 = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
GAD7 = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
INSTRUMENTS = {
    "phq-9": (("LOINC", "44249-1"), "LOINC", PHQ9),
    "gad-7": (("LOINC", "69737-5"), "LOINC", GAD7),
    "qlq-c30": (("EORTC-QLQ-C30", "QLQ-C30"), "EORTC-QLQ-C30", [f"q{i:02d}" for i in range(1, 31)]),
}
_PANELS = {"44249-1": "phq-9", "69737-5": "gad-7"}
LOINC_ORDINAL = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
ITEM_POSITION = re.compile(r"^(?:q|item|i)?[-_.]?0*(\d{1,2})$", re.IGNORECASE)  # q1, q01, item-3, 7
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class Unmapped(Exception):
    """The resource (or one of its parts) cannot be written; the message is the reason."""


def fhir_date(text: str | None) -> date | None:
    """A FHIR date or dateTime (possibly partial: YYYY, YYYY-MM) as a date."""
    if not text:
        return None
    head = text[:10]
    parts = head.split("-")
    try:
        return date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1,
                    int(parts[2][:2]) if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        return None


def fhir_datetime(text: str | None) -> datetime | None:
    if not text or len(text) <= 10:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:  # the warehouse keeps naive UTC times
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def reference(obj: dict[str, Any] | None, urls: dict[str, str]) -> str | None:
    """The record key a Reference points to (``Type/id``), through the bundle's fullUrls."""
    if not obj or not obj.get("reference"):
        return None
    ref = str(obj["reference"])
    if ref in urls:
        return urls[ref]
    match = re.search(r"([A-Za-z]+/[A-Za-z0-9\-.]{1,64})(/_history/.*)?$", ref)
    return match.group(1) if match else ref


def patient_record(resource: dict[str, Any], key: str, where: str, source: str) -> tuple[PatientRecord, Row | None]:
    """Identity for the trusted party, demographics for the warehouse; a death row if deceased."""
    identifiers = [i for i in resource.get("identifier") or [] if i.get("value")]
    mrn = next((i for i in identifiers if any(c.get("code") == "MR" for c in
                                               (i.get("type") or {}).get("coding") or [])), None)
    chosen = mrn or (identifiers[0] if identifiers else None)
    system, value = ((chosen.get("system") or f"urn:weshare:{source}:identifier", chosen["value"])
                     if chosen else (f"urn:weshare:{source}:Patient", resource.get("id") or key))
    gender, sex = GENDER.get(resource.get("gender") or "unknown", (0, "U"))
    born = fhir_date(resource.get("birthDate"))
    death = fhir_date(resource.get("deceasedDateTime"))
    identity = _identity(resource, born, sex)
    record = PatientRecord(key, where, SourcePatient(system, str(value), identity), gender,
                           resource.get("gender") or "", born.year if born else None, death)
    row = None
    if death is not None:
        row = Row(f"{key}#death", where, "death", key, {"death_date": death, "death_type_concept_id": EHR})
    return record, row


def _identity(resource: dict[str, Any], born: date | None, sex: str) -> Identity | None:
    names = resource.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    family, given = name.get("family") or "", " ".join(name.get("given") or [])
    if not family or not given or born is None:
        return None
    telecom = resource.get("telecom") or []
    email = next((t.get("value") or "" for t in telecom if t.get("system") == "email"), "")
    phone = next((t.get("value") or "" for t in telecom if t.get("system") in ("phone", "sms")), "")
    postcode = next((a.get("postalCode") or "" for a in resource.get("address") or []), "")
    full = Identity(given, family, born, sex, postcode=postcode, email=email, phone=phone,
                    language="fr")
    for candidate in (full, replace(full, email="", phone="", postcode="")):
        try:
            return candidate.validated()
        except ValidationError:
            continue  # badly formatted contact details are dropped, never echoed
    return None


def _need(concept: Concept | None, label: str, what: str = "code") -> Concept:
    if concept is None:
        raise Unmapped(f"unmapped {what} {label or '(none given)'}")
    return concept


def _event(table: str, concept: Concept, label: str, day: date, moment: datetime | None) -> dict[str, Any]:
    c, sc, sv, d, dt, t = _COLUMNS[table]
    out = {c: concept.concept_id, sc: concept.source_concept_id, sv: label[:50], d: day, dt: moment, t: EHR}
    if table == "drug_exposure":  # required; callers with a period set the real end
        out["drug_exposure_end_date"] = day
    return out


def _when(resource: dict[str, Any], *fields: str) -> tuple[date, datetime | None]:
    for name in fields:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start")
        if value:
            day = fhir_date(value)
            if day is not None:
                return day, fhir_datetime(value)
    raise Unmapped(f"no date ({' or '.join(fields)})")


def _value(table: str, resource: dict[str, Any], cmap: ConceptMap) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "valueQuantity" in resource:
        q = resource["valueQuantity"]
        out["value_as_number"] = float(q["value"]) if q.get("value") is not None else None
        out["unit_source_value"] = (q.get("unit") or q.get("code") or None)
    elif "valueCodeableConcept" in resource:
        found, label = cmap.coding(resource["valueCodeableConcept"].get("coding"))
        out["value_as_concept_id"] = found.concept_id if found else 0
        codes = [c.get("code") for c in resource["valueCodeableConcept"].get("coding") or [] if c.get("code")]
        out["value_source_value"] = (codes[0] if codes else resource["valueCodeableConcept"].get("text")
                                     or label)[:50]
    elif "valueInteger" in resource or "valueDecimal" in resource:
        out["value_as_number"] = float(resource.get("valueInteger", resource.get("valueDecimal")))
    elif "valueBoolean" in resource:
        out["value_as_number"] = 1.0 if resource["valueBoolean"] else 0.0
    elif "valueString" in resource:
        key = "value_as_string" if table == "observation" else "value_source_value"
        out[key] = str(resource["valueString"])[:60 if table == "observation" else 50]
    return out


def _table(concept: Concept) -> str:
    return TABLE_OF_DOMAIN.get(concept.domain_id, "observation")


def map_resource(kind: str, resource: dict[str, Any], key: str, where: str, urls: dict[str, str],
                 cmap: ConceptMap, reject: Callable[[str, str], None]) -> list[Row]:
    """Rows for one clinical resource; ``Unmapped`` says why it cannot be imported."""
    if resource.get("status") == "entered-in-error":
        raise Unmapped("status entered-in-error")
    patient = reference(resource.get("subject") or resource.get("patient"), urls)
    if not patient or (not patient.startswith("Patient/") and patient not in urls.values()):
        raise Unmapped("no subject Patient reference")
    if kind == "Condition":
        return _condition(resource, key, where, patient, urls, cmap)
    if kind == "Observation":
        return _observation(resource, key, where, patient, urls, cmap, reject)
    if kind == "Encounter":
        return _encounter(resource, key, where, patient)
    if kind == "Procedure":
        if resource.get("status") == "not-done":
            raise Unmapped("status not-done: nothing happened")
        concept, label = cmap.coding((resource.get("code") or {}).get("coding"))
        concept = _need(concept, label)
        day, moment = _when(resource, "performedDateTime", "performedPeriod")
        table = _table(concept)
        table = table if table in _COLUMNS else "observation"
        return [Row(key, where, table, patient, _event(table, concept, label, day, moment),
                    optional=_visit(resource, urls))]
    if kind in ("MedicationAdministration", "MedicationStatement"):
        if resource.get("status") in ("not-taken", "not-done"):
            raise Unmapped(f"status {resource['status']}: not taken")
        if "medicationCodeableConcept" not in resource:
            raise Unmapped("medicationReference is not followed: give medicationCodeableConcept")
        concept, label = cmap.coding(resource["medicationCodeableConcept"].get("coding"))
        concept = _need(concept, label, "medication code")
        day, moment = _when(resource, "effectiveDateTime", "effectivePeriod", "dateAsserted")
        period = resource.get("effectivePeriod") or {}
        values = _event("drug_exposure", concept, label, day, moment)
        values["drug_exposure_end_date"] = fhir_date(period.get("end")) or day
        dose = ((resource.get("dosage") or {}).get("dose") or {}) if kind == "MedicationAdministration" else {}
        if dose.get("value") is not None:
            values["quantity"] = float(dose["value"])
            values["dose_unit_source_value"] = (dose.get("unit") or dose.get("code") or None)
        return [Row(key, where, "drug_exposure", patient, values)]
    if kind == "Consent":
        day, moment = _when(resource, "dateTime")
        provision = (resource.get("provision") or {}).get("type") or "permit"
        values = _event("observation", Concept(CONSENT, CONSENT, "Observation", "consent"),
                        "consent", day, moment)
        values.update({"value_as_string": f"{resource.get('status', '')} {provision}"[:60]})
        return [Row(key, where, "observation", patient, values)]
    if kind == "QuestionnaireResponse":
        return _questionnaire(resource, key, where, patient, cmap, reject)
    raise Unmapped(f"resource type {kind} is not imported")


def _visit(resource: dict[str, Any], urls: dict[str, str]) -> dict[str, str]:
    """``visit_occurrence_id`` → the Encounter referred to; set only if that Encounter is imported."""
    encounter = reference(resource.get("encounter"), urls)
    return {"visit_occurrence_id": encounter} if encounter and encounter.startswith("Encounter/") else {}


def _has_value(element: dict[str, Any]) -> bool:
    return any(name.startswith("value") for name in element)


def _observation(resource: dict[str, Any], key: str, where: str, patient: str, urls: dict[str, str],
                 cmap: ConceptMap, reject: Callable[[str, str], None]) -> list[Row]:
    """One row for the Observation's own value, one per ``component`` (blood pressure: systolic and
    diastolic); a panel without a value of its own gives only its components."""
    day, moment = _when(resource, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
    focus = [reference(f, urls) for f in (resource.get("focus") or [])]
    condition = next((f for f in focus if f and f.startswith("Condition/")), None)
    visit = _visit(resource, urls)
    components = resource.get("component") or []

    def row(part: dict[str, Any], concept: Concept, label: str, row_key: str, row_where: str) -> Row:
        table = _table(concept)
        table = table if table in _EVENT else "observation"
        values = _event(table, concept, label, day, moment)
        values.update(_value(table, part, cmap))
        links = {}
        if condition:
            links[_EVENT[table][0]] = condition
            values[_EVENT[table][1]] = CONDITION_FIELD
        return Row(row_key, row_where, table, patient, values, links, visit)

    rows = []
    if _has_value(resource) or not components:
        concept, label = cmap.coding((resource.get("code") or {}).get("coding"))
        rows.append(row(resource, _need(concept, label), label, key, where))
    for n, part in enumerate(components, start=1):
        concept, label = cmap.coding((part.get("code") or {}).get("coding"))
        if concept is None:  # this component is rejected, the others are kept
            reject(f"{where} component {n}", f"unmapped code {label or '(none given)'}")
        elif not _has_value(part):
            reject(f"{where} component {n}", f"component {label} has no value")
        else:
            rows.append(row(part, concept, label, f"{key}#component-{label}", f"{where} component {n}"))
    return rows


def _encounter(resource: dict[str, Any], key: str, where: str, patient: str) -> list[Row]:
    """Encounter → visit_occurrence (class AMB/IMP/EMER → outpatient, inpatient, emergency visit)."""
    status = resource.get("status")
    if status in ("planned", "cancelled", "unknown"):
        raise Unmapped(f"status {status}: no visit took place")
    code = str((resource.get("class") or {}).get("code") or "")
    if code not in VISITS:
        raise Unmapped(f"unmapped encounter class {code or '(none given)'} (known: {', '.join(VISITS)})")
    day, moment = _when(resource, "period")
    period = resource.get("period") or {}
    end = fhir_date(period.get("end")) or day
    if end < day:
        raise Unmapped("period.end is before period.start")
    return [Row(key, where, "visit_occurrence", patient, {
        "visit_concept_id": VISITS[code], "visit_source_value": code, "visit_source_concept_id": 0,
        "visit_start_date": day, "visit_start_datetime": moment, "visit_end_date": end,
        "visit_end_datetime": fhir_datetime(period.get("end")), "visit_type_concept_id": EHR})]


def denies_research(resource: dict[str, Any]) -> bool:
    """An active Consent whose base provision denies (the patient refused research reuse)."""
    return resource.get("status") == "active" and (resource.get("provision") or {}).get("type") == "deny"


def _condition(resource: dict[str, Any], key: str, where: str, patient: str, urls: dict[str, str],
               cmap: ConceptMap) -> list[Row]:
    concept, label = cmap.coding((resource.get("code") or {}).get("coding"))
    if concept is None:  # mCODE: the histology-morphology-behavior extension may carry ICD-O-3
        for ext in resource.get("extension") or []:
            if "histology-morphology-behavior" in str(ext.get("url")):
                concept, _ = cmap.coding((ext.get("valueCodeableConcept") or {}).get("coding"))
    concept = _need(concept, label)
    day, moment = _when(resource, "onsetDateTime", "onsetPeriod", "recordedDate")
    table = _table(concept)
    table = table if table in _COLUMNS else "observation"
    values = _event(table, concept, label, day, moment)
    if table == "condition_occurrence":
        values["condition_end_date"] = fhir_date(resource.get("abatementDateTime"))
        status = ((resource.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
        values["condition_status_source_value"] = (status or None)
    rows = [Row(key, where, table, patient, values, optional=_visit(resource, urls))]
    for n, stage in enumerate(resource.get("stage") or [], start=1):
        summary = stage.get("summary")
        if not summary:
            continue
        kind, kind_label = cmap.coding((stage.get("type") or {}).get("coding"))
        kind = kind or cmap.get("LOINC", "21908-9")
        if kind is None:
            continue
        measure = _event("measurement", kind, kind_label or "LOINC:21908-9", day, moment)
        measure.update(_value("measurement", {"valueCodeableConcept": summary}, cmap))
        measure["meas_event_field_concept_id"] = CONDITION_FIELD
        rows.append(Row(f"{key}#stage{n}", f"{where} stage {n}", "measurement", patient, measure,
                        {"measurement_event_id": key}))
    return rows


def instrument_of(url: str) -> str | None:
    low = url.lower().rstrip("/")
    for code, name in _PANELS.items():
        if low.endswith(code) or f"/q/{code}" in low:
            return name
    tail = re.split(r"[/|]", low)[-1] if low else ""
    tail = tail.split("|")[0]
    return tail if tail in INSTRUMENTS else None


def answered_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out.extend(answered_items(item.get("item") or []))
        for answer in item.get("answer") or []:
            out.extend(answered_items(answer.get("item") or []))
    return out


def _questionnaire(resource: dict[str, Any], key: str, where: str, patient: str, cmap: ConceptMap,
                   reject: Callable[[str, str], None]) -> list[Row]:
    if resource.get("status") not in ("completed", "amended"):
        raise Unmapped(f"status {resource.get('status')}: only completed answers are imported")
    url = str(resource.get("questionnaire") or "")
    name = instrument_of(url)
    if name is None:
        raise Unmapped(f"unmapped questionnaire {url or '(none given)'}")
    (survey_vocab, survey_code), item_vocab, codes = INSTRUMENTS[name]
    survey = _need(cmap.get(survey_vocab, survey_code), f"{survey_vocab}:{survey_code}", "questionnaire")
    day, moment = _when(resource, "authored")
    event = next((e.get("valueString") for e in resource.get("extension") or []
                  if e.get("url") == "urn:weshare:event"), None)
    rows = [Row(key, where, "survey_conduct", patient, {
        "survey_concept_id": survey.concept_id, "survey_start_date": day,
        "survey_end_datetime": moment or datetime(day.year, day.month, day.day),
        "assisted_concept_id": 0, "respondent_type_concept_id": 0, "timing_concept_id": 0,
        "collection_method_concept_id": 0, "survey_source_concept_id": 0, "validated_survey_concept_id": 0,
        "survey_source_value": name, "survey_source_identifier": (resource.get("id") or "")[:100] or None,
        "timing_source_value": event})]
    for item in answered_items(resource.get("item") or []):
        answers = item.get("answer") or []
        if not answers:
            continue
        link = str(item.get("linkId") or "").strip("/")
        code = link if link in codes else None
        position = ITEM_POSITION.match(link)
        if code is None and position and 1 <= int(position.group(1)) <= len(codes):
            code = codes[int(position.group(1)) - 1]
        concept = cmap.get(item_vocab, code) if code else cmap.get("LOINC", link)
        if concept is None:  # this answer is rejected, the others are kept
            reject(f"{where} item {link}", f"unmapped item {link!r} of {name}")
            continue
        table = _table(concept)
        table = table if table in _EVENT else "observation"
        values = _event(table, concept, f"{name}.{link}", day, moment)
        values[_COLUMNS[table][5]] = SURVEY
        values[_EVENT[table][1]] = SURVEY_FIELD
        answer = answers[0]
        coding = answer.get("valueCoding")
        if coding:
            found = cmap.get("LOINC", coding.get("code")) if coding.get("code") else None
            values["value_as_concept_id"] = found.concept_id if found else 0
            values["value_source_value"] = str(coding.get("code") or "")[:50]
            ordinal = LOINC_ORDINAL.get(str(coding.get("code")))
            values["value_as_number"] = float(ordinal) if ordinal is not None else None
        else:
            raw = next((answer[k] for k in ("valueInteger", "valueDecimal", "valueString") if k in answer), None)
            if raw is not None and _NUMBER.match(str(raw)):
                values["value_as_number"] = float(raw)
            values["value_source_value"] = str(raw)[:50] if raw is not None else None
        rows.append(Row(f"{key}#{link}", f"{where} item {link}", table, patient, values,
                        {_EVENT[table][0]: key}))
    return rows
