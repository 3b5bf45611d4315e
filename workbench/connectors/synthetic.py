"""Seeded synthetic FHIR bundles and wearable exports (demo, tests, benchmark; not real data).

Each patient gets what a hospital's oncology export typically holds: Patient (with an MRN,
name, address and e-mail that must end up at the trusted party only), a primary cancer
Condition (ICD-10, mCODE profile) with a stage summary, TNM category Observations focused on
it, an ECOG performance status, a surgery, hormone therapy and chemotherapy, a completed PHQ-9
QuestionnaireResponse and a research Consent.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

__all__ = ["synthetic_bundle", "wearable_csv", "wearable_fitbit_json"]

_FIRST = ["Marie", "Jeanne", "Louise", "Camille", "Paul", "Jean", "Lucas", "Hugo", "Emma", "Chloé"]
_LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"]
_SITES = [("C50.9", "female"), ("C34.9", "male"), ("C18.9", "male"), ("C61", "male"), ("C56.9", "female")]
_ICD10 = "http://hl7.org/fhir/sid/icd-10"
_SCT, _LOINC = "http://snomed.info/sct", "http://loinc.org"
_MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
_ANSWERS = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]


def _cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _patient_resources(i: int, rng: random.Random) -> list[dict[str, Any]]:
    pid = f"p{i}"
    site, gender = _SITES[i % len(_SITES)]
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 45))
    diagnosed = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 900))
    subject = {"reference": f"Patient/{pid}"}
    day = diagnosed.isoformat()
    later = (diagnosed + timedelta(days=30)).isoformat()
    out: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": pid,
         "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                              "code": "MR"}]},
                         "system": "urn:oid:1.2.250.1.999.1", "value": f"MRN{100000 + i}"}],
         "name": [{"use": "official", "family": _LAST[rng.randrange(10)] + f"{i}",
                   "given": [_FIRST[rng.randrange(10)]]}],
         "gender": gender, "birthDate": born.isoformat(),
         "address": [{"city": "Lyon", "postalCode": f"690{i % 10:02d}"}],
         "telecom": [{"system": "email", "value": f"patient{i}@example.org"}]},
        {"resourceType": "Condition", "id": f"c{i}", "meta": {"profile": [_MCODE + "mcode-primary-cancer-condition"]},
         "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
         "category": [_cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")],
         "code": _cc(_ICD10, site), "subject": subject, "onsetDateTime": day,
         "stage": [{"summary": {"coding": [{"system": "http://cancerstaging.org", "code": "IIA"}]},
                    "type": _cc(_LOINC, "21908-9")}]},
    ]
    for code, value in (("21905-5", "cT2"), ("21906-3", "cN0"), ("21907-1", "cM0")):
        out.append({"resourceType": "Observation", "id": f"tnm{code[:5]}-{i}", "status": "final",
                    "meta": {"profile": [_MCODE + "mcode-tnm-primary-tumor-category"]},
                    "code": _cc(_LOINC, code), "subject": subject, "effectiveDateTime": day,
                    "focus": [{"reference": f"Condition/c{i}"}],
                    "valueCodeableConcept": {"coding": [{"system": "http://cancerstaging.org", "code": value}]}})
    out += [
        {"resourceType": "Observation", "id": f"ecog{i}", "status": "final", "code": _cc(_LOINC, "89247-1"),
         "subject": subject, "effectiveDateTime": day, "valueInteger": rng.randrange(0, 3)},
        {"resourceType": "Observation", "id": f"wt{i}", "status": "final", "code": _cc(_LOINC, "29463-7"),
         "subject": subject, "effectiveDateTime": day,
         "valueQuantity": {"value": round(rng.uniform(45, 95), 1), "unit": "kg",
                           "system": "http://unitsofmeasure.org", "code": "kg"}},
        {"resourceType": "Procedure", "id": f"s{i}", "status": "completed", "code": _cc(_SCT, "387713003"),
         "subject": subject, "performedDateTime": later},
        {"resourceType": "MedicationStatement", "id": f"ms{i}", "status": "active",
         "medicationCodeableConcept": _cc("http://www.whocc.no/atc", "L02BA01"), "subject": subject,
         "effectivePeriod": {"start": later, "end": (diagnosed + timedelta(days=400)).isoformat()}},
        {"resourceType": "MedicationAdministration", "id": f"ma{i}", "status": "completed",
         "medicationCodeableConcept": _cc("http://www.nlm.nih.gov/research/umls/rxnorm", "56946"),
         "subject": subject, "effectiveDateTime": later + "T10:00:00+01:00",
         "dosage": {"dose": {"value": 175, "unit": "mg/m2"}}},
        {"resourceType": "QuestionnaireResponse", "id": f"qr{i}", "status": "completed",
         "questionnaire": "http://loinc.org/q/44249-1", "subject": subject,
         "authored": later + "T09:30:00Z",
         "item": [{"linkId": code, "answer": [{"valueCoding": {"system": _LOINC,
                                                               "code": _ANSWERS[rng.randrange(4)]}}]}
                  for code in ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2",
                               "44252-5", "44253-3", "44260-8")]},
        {"resourceType": "Consent", "id": f"consent{i}", "status": "active",
         "scope": _cc("http://terminology.hl7.org/CodeSystem/consentscope", "research"),
         "category": [_cc(_LOINC, "57016-8")], "patient": subject, "dateTime": day + "T08:00:00Z",
         "policyRule": _cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"),
         "provision": {"type": "permit"}},
    ]
    return out


def synthetic_bundle(patients: int, *, seed: int = 0, first: int = 0) -> dict[str, Any]:
    """A collection Bundle for patients ``first`` … ``first + patients - 1`` (12 resources each)."""
    entries = []
    for i in range(first, first + patients):
        rng = random.Random(seed * 1_000_003 + i)
        for resource in _patient_resources(i, rng):
            entries.append({"fullUrl": f"urn:weshare:test:{resource['resourceType']}/{resource['id']}",
                            "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _minutes(days: int, start: date, rng: random.Random, every: int) -> list[tuple[datetime, float, int]]:
    rows = []
    for d in range(days):
        base = datetime(start.year, start.month, start.day) + timedelta(days=d)
        for m in range(7 * 60, 23 * 60, every):
            rows.append((base + timedelta(minutes=m), float(rng.randrange(55, 120)), rng.randrange(0, 300)))
    return rows


def wearable_csv(participant: str, *, days: int = 3, start: date = date(2024, 3, 1), seed: int = 0,
                 every: int = 60) -> str:
    """A Garmin/Apple-Health-like long CSV: participant,type,start,end,value,unit,source."""
    rng = random.Random(seed)
    lines = ["participant,type,start,end,value,unit,source"]
    for moment, hr, steps in _minutes(days, start, rng, every):
        end = moment + timedelta(minutes=every)
        lines.append(f"{participant},HeartRate,{moment.isoformat()},,{hr:.0f},count/min,watch")
        lines.append(f"{participant},StepCount,{moment.isoformat()},{end.isoformat()},{steps},count,watch")
    for d in range(days):
        night = datetime(start.year, start.month, start.day) + timedelta(days=d, hours=-1)
        lines.append(f"{participant},SleepAnalysis,{night.isoformat()},"
                     f"{(night + timedelta(hours=7, minutes=rng.randrange(0, 60))).isoformat()},,min,watch")
    return "\n".join(lines) + "\n"


def wearable_fitbit_json(*, days: int = 3, start: date = date(2024, 3, 1), seed: int = 0) -> dict[str, Any]:
    """A Fitbit-style export: daily steps, intraday heart rate and sleep logs in one document."""
    rng = random.Random(seed)
    steps = [{"dateTime": (start + timedelta(days=d)).isoformat(), "value": str(rng.randrange(2000, 12000))}
             for d in range(days)]
    heart = []
    for d in range(days):
        day = start + timedelta(days=d)
        heart.append({"dateTime": day.isoformat(), "value": {"restingHeartRate": rng.randrange(55, 70)},
                      "intraday": [{"time": f"{h:02d}:00:00", "value": rng.randrange(60, 110)}
                                   for h in range(8, 22)]})
    sleep = [{"dateOfSleep": (start + timedelta(days=d)).isoformat(),
              "startTime": f"{(start + timedelta(days=d - 1)).isoformat()}T23:10:00.000",
              "endTime": f"{(start + timedelta(days=d)).isoformat()}T06:40:00.000",
              "minutesAsleep": 400 + rng.randrange(0, 60)} for d in range(days)]
    return {"activities-steps": steps, "activities-heart": heart, "sleep": sleep}
