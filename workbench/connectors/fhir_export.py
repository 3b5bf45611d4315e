"""A participant's data as one FHIR R4 collection Bundle (GDPR art. 20 data portability).

What the operational store holds under the study pseudonym — the Patient as the study knows
them (sex, birth year, no name: identities stay with the trusted party), the cancer diagnosis
recorded at baseline, every questionnaire answered, every consent signed — plus, when a
warehouse and the trusted party are given, what the warehouse holds for the same person
(hospital conditions, results, procedures, treatments, wearable daily summaries), found
through the study → warehouse translation. Every resource is validated with
``fhir.resources`` before the bundle is returned, so the participant gets valid FHIR.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from workbench import audit
from workbench.connectors.vocab import SYSTEMS
from workbench.consent.models import ConsentDocument, ConsentRecord
from workbench.errors import ValidationError
from workbench.participants.models import Participant, Response
from workbench.storage.base import utcnow
from workbench.studies.models import Study
from workbench.trusted_party import TrustedParty
from workbench.warehouse.schema import metadata

__all__ = ["participant_bundle", "participant_bundle_json"]

_URI = {v: k for k, v in reversed(list(SYSTEMS.items()))}  # vocabulary → first URI listed
_SEX = {"F": "female", "M": "male", "X": "other"}
_TABLES = {  # warehouse table → (resource, concept column, date column, id column)
    "condition_occurrence": ("Condition", "condition_concept_id", "condition_start_date", "condition_occurrence_id"),
    "procedure_occurrence": ("Procedure", "procedure_concept_id", "procedure_date", "procedure_occurrence_id"),
    "drug_exposure": ("MedicationStatement", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_id"),
    "measurement": ("Observation", "measurement_concept_id", "measurement_date", "measurement_id"),
    "observation": ("Observation", "observation_concept_id", "observation_date", "observation_id"),
}


def _code(vocabulary: str, code: str, name: str) -> dict[str, Any]:
    system = _URI.get(vocabulary, f"urn:weshare:vocabulary:{vocabulary}")
    return {"coding": [{"system": system, "code": code, "display": name}], "text": name}


def _answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}


def _local(session: Session, participant: Participant, study: Study, subject: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    baseline = participant.baseline or {}
    if baseline.get("icd10") or baseline.get("cancer_site"):
        code = baseline.get("icd10")
        concept = _code("ICD10", str(code), str(code)) if code else {"text": str(baseline["cancer_site"])}
        condition: dict[str, Any] = {"resourceType": "Condition", "id": f"{participant.pseudonym}-dx",
                                     "code": concept, "subject": subject}
        if baseline.get("diagnosis_date"):
            condition["onsetDateTime"] = str(baseline["diagnosis_date"])
        out.append(condition)
    responses = session.execute(select_responses(participant)).scalars()
    for r in responses:
        items = [{"linkId": k, "answer": [_answer(v)]} for k, v in sorted(r.answers.items())
                 if not k.startswith("_") and v is not None]
        out.append({"resourceType": "QuestionnaireResponse", "id": f"{participant.pseudonym}-qr{r.id}",
                    "questionnaire": f"urn:weshare:Questionnaire/{r.instrument_id}", "status": "completed",
                    "subject": subject, "authored": r.submitted_at.isoformat(timespec="seconds"),
                    "extension": [{"url": "urn:weshare:event", "valueString": r.event_code}],
                    **({"item": items} if items else {})})
    consents = session.execute(sa.select(ConsentRecord, ConsentDocument)
                               .join(ConsentDocument, ConsentDocument.id == ConsentRecord.document_id)
                               .where(ConsentRecord.participant_id == participant.id)).all()
    for record, document in consents:
        out.append({"resourceType": "Consent", "id": f"{participant.pseudonym}-consent{record.id}",
                    "status": "inactive" if participant.data_use_stopped else "active",
                    "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                          "code": "research"}]},
                    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                    "patient": subject, "dateTime": record.signed_at.isoformat(timespec="seconds"),
                    "policy": [{"uri": f"urn:weshare:consent:{study.code}:{document.version}:{document.language}"}],
                    "provision": {"type": "deny" if participant.reuse_opposed else "permit"}})
    return out


def select_responses(participant: Participant) -> sa.Select[tuple[Response]]:
    return sa.select(Response).where(Response.participant_id == participant.id).order_by(Response.submitted_at)


def _warehouse(engine: Engine, person_code: str, subject: dict[str, str], prefix: str) -> list[dict[str, Any]]:
    person, concept = metadata.tables["person"], metadata.tables["concept"]
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        pid = conn.execute(sa.select(person.c.person_id).where(person.c.person_source_value == person_code)).scalar()
        if pid is None:
            return out
        for table, (kind, concept_col, date_col, id_col) in _TABLES.items():
            t = metadata.tables[table]
            query = (sa.select(t, concept.c.vocabulary_id, concept.c.concept_code, concept.c.concept_name)
                     .join(concept, concept.c.concept_id == t.c[concept_col]).where(t.c.person_id == pid))
            if table == "observation":  # questionnaire answers come from the study itself
                query = query.where(sa.or_(t.c.obs_event_field_concept_id.is_(None),
                                           t.c.obs_event_field_concept_id != 2000000401))
            for r in conn.execute(query.order_by(t.c[id_col])):
                day = r._mapping[date_col].isoformat()
                resource: dict[str, Any] = {"resourceType": kind, "id": f"{prefix}-{table[:4]}{r._mapping[id_col]}"}
                code = _code(r.vocabulary_id, r.concept_code, r.concept_name)
                if kind == "Condition":
                    resource.update(code=code, subject=subject, onsetDateTime=day)
                elif kind == "Procedure":
                    resource.update(status="completed", code=code, subject=subject, performedDateTime=day)
                elif kind == "MedicationStatement":
                    resource.update(status="completed", medicationCodeableConcept=code, subject=subject,
                                    effectivePeriod={"start": day,
                                                     "end": r._mapping["drug_exposure_end_date"].isoformat()})
                else:
                    resource.update(status="final", code=code, subject=subject, effectiveDateTime=day)
                    number, text = r._mapping.get("value_as_number"), (
                        r._mapping.get("value_as_string") or r._mapping.get("value_source_value"))
                    if number is not None:
                        unit = r._mapping.get("unit_source_value")
                        resource["valueQuantity"] = {"value": number, **({"unit": unit} if unit else {})}
                    elif text:
                        resource["valueString"] = str(text)
                out.append(resource)
    return out


def participant_bundle(session: Session, participant: Participant, *, actor: str,
                       warehouse: Engine | None = None, tp: TrustedParty | None = None) -> dict[str, Any]:
    """The participant's data as a FHIR R4 ``collection`` Bundle (validated), audited."""
    study = session.get(Study, participant.study_id)
    assert study is not None
    subject = {"reference": f"Patient/{participant.pseudonym}"}
    baseline = participant.baseline or {}
    patient: dict[str, Any] = {"resourceType": "Patient", "id": participant.pseudonym,
                               "identifier": [{"system": f"urn:weshare:study:{study.code}",
                                               "value": participant.pseudonym}],
                               "gender": _SEX.get(str(baseline.get("sex", "")), "unknown")}
    if str(baseline.get("birth_year", "")).isdigit():
        patient["birthDate"] = str(baseline["birth_year"])
    resources = [patient, *_local(session, participant, study, subject)]
    from_warehouse = 0
    if warehouse is not None and tp is not None and not participant.reuse_opposed:
        code = tp.translate([participant.pseudonym], f"study:{study.code}", "warehouse", actor=actor,
                            reason="data portability request").pseudonyms[0]
        if code is not None:
            extra = _warehouse(warehouse, code, subject, participant.pseudonym)
            from_warehouse = len(extra)
            resources += extra
    for resource in resources:
        model = get_fhir_model_class(resource["resourceType"])
        try:
            model.model_validate(resource)
        except ValueError as exc:  # a bug here, not the participant's data: say which resource
            raise ValidationError(f"export produced invalid FHIR: {exc}"[:300],
                                  where=f"{resource['resourceType']}/{resource['id']}") from None
    audit.record(session, actor=actor, action="rights.portability", object_type="participant",
                 object_id=participant.pseudonym,
                 after={"resources": len(resources), "from_warehouse": from_warehouse})
    return {"resourceType": "Bundle", "type": "collection",
            "timestamp": utcnow().isoformat(timespec="seconds"),
            "entry": [{"fullUrl": f"urn:weshare:{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}


def participant_bundle_json(session: Session, participant: Participant, *, actor: str,
                            warehouse: Engine | None = None, tp: TrustedParty | None = None) -> bytes:
    bundle = participant_bundle(session, participant, actor=actor, warehouse=warehouse, tp=tp)
    return json.dumps(bundle, ensure_ascii=False, indent=1, default=_default).encode("utf-8")


def _default(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
