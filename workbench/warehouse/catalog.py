"""Catalogue descriptions of a deposited dataset: Frictionless ``datapackage.json`` and a
DCAT-AP / HealthDCAT-AP record (JSON-LD), built from warehouse contents and study metadata.

Counts published in a catalogue are aggregates about real patients, so they are rounded
(nearest 10) and small counts (< 11) are withheld, following the CASD/HDH export practice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from workbench.errors import ValidationError
from workbench.warehouse.schema import EXTENSION_TABLES, metadata, primary_key

__all__ = ["SMALL_COUNT", "StudyMetadata", "datapackage", "dcat_record", "publishable_count"]

SMALL_COUNT = 11
T = metadata.tables
_FIELD_TYPES = {"big_integer": "integer", "integer": "integer", "date": "date",
                "datetime": "datetime", "double": "number", "string": "string", "text": "string"}
ACCESS_RIGHTS = {
    "public": "http://publications.europa.eu/resource/authority/access-right/PUBLIC",
    "restricted": "http://publications.europa.eu/resource/authority/access-right/RESTRICTED",
    "non-public": "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC",
}
CODING_SYSTEMS = {"LOINC": "http://loinc.org", "SNOMED": "http://snomed.info/sct",
                  "ICDO3": "https://www.who.int/standards/classifications/other-classifications/"
                           "international-classification-of-diseases-for-oncology",
                  "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
                  "EORTC-QLQ-C30": "https://qol.eortc.org/questionnaire/eortc-qlq-c30/"}
GDPR = "http://data.europa.eu/eli/reg/2016/679/oj"
EHDS = "http://data.europa.eu/eli/reg/2025/327/oj"
OMOP_54 = "https://ohdsi.github.io/CommonDataModel/cdm54.html"


@dataclass(frozen=True)
class StudyMetadata:
    """What the study team says about a deposit; the warehouse supplies the rest."""

    identifier: str
    title: str
    description: str
    publisher: str
    contact_email: str
    access_rights: str = "non-public"
    access_url: str = ""
    keywords: tuple[str, ...] = ()
    license: str = "https://creativecommons.org/licenses/by-nc-nd/4.0/"
    language: str = "fr"
    legal_basis: str = "https://w3id.org/dpv#A9-2-j"  # GDPR art. 9(2)(j): research
    purpose: str = "https://w3id.org/dpv#AcademicResearch"
    start: date | None = None
    end: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("identifier", "title", "description", "publisher", "contact_email"):
            if not str(getattr(self, name)).strip():
                raise ValidationError("is required", where=f"study metadata {name}")
        if self.access_rights not in ACCESS_RIGHTS:
            raise ValidationError(f"{self.access_rights!r} must be one of {sorted(ACCESS_RIGHTS)}",
                                  where="study metadata access_rights")
        if "@" not in self.contact_email:
            raise ValidationError("is not an e-mail address", where="study metadata contact_email")


def publishable_count(n: int) -> int | None:
    """``n`` rounded to the nearest 10, or None when it is a small count."""
    return None if n < SMALL_COUNT else int(round(n / 10.0) * 10)


def _tables_with_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                  for name, table in T.items() if name != "load_log"}
    return {name: n for name, n in counts.items() if n}


def datapackage(engine: Engine, study: StudyMetadata) -> dict[str, Any]:
    """A Frictionless tabular Data Package describing the non-empty warehouse tables."""
    counts = _tables_with_rows(engine)
    resources = []
    for name in counts:
        table = T[name]
        fields = []
        for column in table.columns:
            spec: dict[str, Any] = {"name": column.name,
                                    "type": _FIELD_TYPES[column.type.__visit_name__]}
            constraints: dict[str, Any] = {}
            if not column.nullable:
                constraints["required"] = True
            length = getattr(column.type, "length", None)
            if length:
                constraints["maxLength"] = length
            if constraints:
                spec["constraints"] = constraints
            fields.append(spec)
        schema: dict[str, Any] = {"fields": fields}
        if primary_key(name):
            schema["primaryKey"] = primary_key(name)
        fks = [{"fields": c.name, "reference": {"resource": c.info["fk"][0], "fields": c.info["fk"][1]}}
               for c in table.columns if "fk" in c.info and c.info["fk"][0] in counts]
        if fks:
            schema["foreignKeys"] = fks
        resource = {"name": name, "path": f"data/{name}.parquet", "format": "parquet",
                    "mediatype": "application/vnd.apache.parquet", "profile": "tabular-data-resource",
                    "schema": schema}
        if name in EXTENSION_TABLES:
            resource["description"] = "WeShare extension to OMOP CDM v5.4 (columns of OMOP v6.0)"
        resources.append(resource)
    return {
        "profile": "tabular-data-package",
        "name": _slug(study.identifier), "id": study.identifier, "title": study.title,
        "description": study.description, "keywords": list(study.keywords),
        "licenses": [{"path": study.license}], "created": _now(),
        "contributors": [{"title": study.publisher, "email": study.contact_email,
                          "role": "publisher"}],
        "sources": [{"title": "OMOP CDM v5.4", "path": OMOP_54}],
        "resources": resources,
    }


def dcat_record(engine: Engine, study: StudyMetadata) -> dict[str, Any]:
    """A DCAT-AP 3 dataset with HealthDCAT-AP properties, as JSON-LD."""
    counts = _tables_with_rows(engine)
    person, period, concept = T["person"], T["observation_period"], T["concept"]
    with engine.connect() as conn:
        start, end = conn.execute(sa.select(sa.func.min(period.c.observation_period_start_date),
                                            sa.func.max(period.c.observation_period_end_date))).one()
        born = conn.execute(sa.select(sa.func.min(person.c.year_of_birth),
                                      sa.func.max(person.c.year_of_birth))).one()
        vocabularies = set(conn.execute(sa.select(concept.c.vocabulary_id).distinct()).scalars())
    start, end = study.start or start, study.end or end
    records = sum(n for name, n in counts.items() if name in (
        "observation", "measurement", "condition_occurrence", "drug_exposure",
        "procedure_occurrence", "survey_conduct"))
    dataset: dict[str, Any] = {
        "@id": f"urn:weshare:dataset:{_slug(study.identifier)}", "@type": "dcat:Dataset",
        "dct:identifier": study.identifier,
        "dct:title": {"@value": study.title, "@language": study.language},
        "dct:description": {"@value": study.description, "@language": study.language},
        "dcat:keyword": list(study.keywords),
        "dcat:theme": {"@id": "http://publications.europa.eu/resource/authority/data-theme/HEAL"},
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": study.publisher},
        "dcat:contactPoint": {"@type": "vcard:Kind", "vcard:hasEmail":
                              {"@id": f"mailto:{study.contact_email}"}},
        "dct:accessRights": {"@id": ACCESS_RIGHTS[study.access_rights]},
        "dct:conformsTo": {"@id": OMOP_54},
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/"
                                + {"fr": "FRA", "en": "ENG"}.get(study.language, "FRA")},
        "dct:provenance": {"@type": "dct:ProvenanceStatement", "rdfs:label":
                           "Pseudonymised study data pooled in the WeShare warehouse (OMOP CDM "
                           "v5.4 + survey_conduct extension)"},
        "dct:modified": {"@value": _now(), "@type": "xsd:dateTime"},
        "dcatap:applicableLegislation": [{"@id": GDPR}, {"@id": EHDS}],
        "dpv:hasPersonalData": True,
        "dpv:hasLegalBasis": {"@id": study.legal_basis},
        "dpv:hasPurpose": {"@id": study.purpose},
        "healthdcatap:healthCategory": ["patient-reported outcomes", "oncology"],
        "healthdcatap:hasCodingSystem": [{"@id": CODING_SYSTEMS[v]} for v in sorted(vocabularies)
                                         if v in CODING_SYSTEMS],
        "healthdcatap:numberOfRecords": publishable_count(records),
        "healthdcatap:numberOfUniqueIndividuals": publishable_count(counts.get("person", 0)),
    }
    if start and end:
        dataset["dct:temporal"] = {"@type": "dct:PeriodOfTime",
                                   "dcat:startDate": {"@value": str(start), "@type": "xsd:date"},
                                   "dcat:endDate": {"@value": str(end), "@type": "xsd:date"}}
        if born[0] is not None:
            # Ages rounded down/up to 5 years: a catalogue must not reveal an outlier's age.
            dataset["healthdcatap:minTypicalAge"] = max(0, (start.year - born[1]) // 5 * 5)
            dataset["healthdcatap:maxTypicalAge"] = -(-(end.year - born[0]) // 5) * 5
    if study.access_url:
        dataset["dcat:distribution"] = [{
            "@type": "dcat:Distribution", "dcat:accessURL": {"@id": study.access_url},
            "dct:format": {"@id": "http://publications.europa.eu/resource/authority/file-type/PARQUET"},
            "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/application/"
                                      "vnd.apache.parquet"},
            "dct:license": {"@id": study.license},
            "dct:conformsTo": {"@id": "https://specs.frictionlessdata.io/data-package/"}}]
    dataset = {k: v for k, v in dataset.items() if v is not None}
    return {"@context": {
        "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
        "foaf": "http://xmlns.com/foaf/0.1/", "vcard": "http://www.w3.org/2006/vcard/ns#",
        "xsd": "http://www.w3.org/2001/XMLSchema#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "dcatap": "http://data.europa.eu/r5r/", "dpv": "https://w3id.org/dpv#",
        "healthdcatap": "http://healthdataportal.eu/ns/health#"}, "@graph": [dataset]}


def _slug(text: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return slug or "dataset"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
