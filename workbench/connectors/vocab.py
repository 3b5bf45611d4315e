"""Codes from hospital sources → warehouse concepts.

A FHIR coding names its code system by URI; OMOP names it by ``vocabulary_id``. A code is
looked up in the warehouse's ``concept`` table (the shipped mini-vocabulary, this package's
additions below, or a site's Athena bundle); a non-standard code with a ``Maps to`` relationship
(ICD-10 → SNOMED, ATC → RxNorm, a retired provisional concept → its Athena id) is followed to
its target, and the original is kept as the source concept. A code that resolves to nothing
is *unmapped*: the connectors reject the row and say which code.

``ensure_connector_vocabulary`` adds the concepts connectors need beyond the mini-vocabulary
(ICD-10 cancer sites, TNM staging and performance status, common measurements, wearable
metrics, blood pressure, the emergency visit concept, ATC drugs, a consent concept), as
provisional or custom concepts, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.warehouse.loader import LoadResult, load_tables
from workbench.warehouse.schema import LOAD_LOG, metadata
from workbench.warehouse.vocabulary import ancestors_from_relationships

__all__ = ["SYSTEMS", "Concept", "ConceptMap", "ensure_connector_vocabulary", "vocabulary_of"]

# Bumped when data/ gains concepts: a warehouse that loaded an earlier set gets only the new ones.
LOAD_ID = "vocabulary:weshare-connectors-2"
# FHIR code system URI → OMOP vocabulary_id (ICD-10 as WHO and as the French CIM-10).
SYSTEMS = {
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "http://hl7.org/fhir/sid/icd-10-fr": "ICD10",
    "urn:oid:2.16.840.1.113883.6.3": "ICD10",
    "https://smt.esante.gouv.fr/terminologie-cim-10/": "ICD10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://terminology.hl7.org/CodeSystem/icd-o-3": "ICDO3",
    "urn:oid:2.16.840.1.113883.6.43.1": "ICDO3",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://www.whocc.no/atc": "ATC",
    "http://unitsofmeasure.org": "UCUM",
    "urn:weshare:concept": "WeShare",
}
_SYSTEMS = {k.rstrip("/"): v for k, v in SYSTEMS.items()}
_DATA = resources.files("workbench.connectors") / "data"
CONCEPT = metadata.tables["concept"]
RELATIONSHIP = metadata.tables["concept_relationship"]


def vocabulary_of(system: str | None) -> str | None:
    """The OMOP vocabulary of a FHIR code system URI, or the text itself if it already is one."""
    if not system:
        return None
    text = system.strip().rstrip("/")
    if text in _SYSTEMS:
        return _SYSTEMS[text]
    return text if "/" not in text and ":" not in text else None


@dataclass(frozen=True)
class Concept:
    concept_id: int          # what goes in *_concept_id (after Maps to)
    source_concept_id: int   # the code as the source wrote it
    domain_id: str           # of the target concept: decides the OMOP table (domain rule)
    name: str


def _read(name: str) -> pa.Table:
    with resources.as_file(_DATA / name) as path:
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True, null_values=[""]))


def ensure_connector_vocabulary(engine: Engine, *, loaded_by: str = "workbench") -> LoadResult | None:
    """Load this package's concepts once; those already present (same id) are left as they are."""
    with engine.connect() as conn:
        if conn.execute(sa.select(LOAD_LOG.c.load_id).where(LOAD_LOG.c.load_id == LOAD_ID)).first():
            return None
        have = {t: set(conn.execute(sa.select(metadata.tables[t].c[k])).scalars())
                for t, k in (("concept", "concept_id"), ("vocabulary", "vocabulary_id"),
                             ("concept_class", "concept_class_id"))}
    tables = {t: _read(f"{t}.csv") for t in ("concept", "vocabulary", "concept_class",
                                              "concept_relationship")}
    for name, key in (("concept", "concept_id"), ("vocabulary", "vocabulary_id"),
                      ("concept_class", "concept_class_id")):
        if have[name]:
            tables[name] = tables[name].filter(pc.invert(pc.is_in(
                tables[name].column(key), pa.array(sorted(have[name]), tables[name].column(key).type))))
    new_ids = tables["concept"].column("concept_id").to_pylist()
    rel = tables["concept_relationship"]
    tables["concept_relationship"] = rel.filter(pc.is_in(rel.column("concept_id_1"),
                                                         pa.array(new_ids, pa.int64())))
    tables["concept_ancestor"] = ancestors_from_relationships(new_ids, tables["concept_relationship"])
    return load_tables(engine, LOAD_ID, tables, source="workbench connectors vocabulary",
                       loaded_by=loaded_by)


class ConceptMap:
    """Cached lookups of ``(vocabulary, code)`` in one warehouse connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._cache: dict[tuple[str, str], Concept | None] = {}

    def get(self, vocabulary: str | None, code: str | None) -> Concept | None:
        if not vocabulary or not code:
            return None
        key = (vocabulary, code)
        if key not in self._cache:
            self._cache[key] = self._lookup(vocabulary, code)
        return self._cache[key]

    def coding(self, codings: list[dict[str, object]] | None) -> tuple[Concept | None, str]:
        """The first coding that maps, and a label of the first coding for source values/errors."""
        label = ""
        for coding in codings or []:
            system, code = coding.get("system"), coding.get("code")
            if not label:
                label = f"{system or '?'}|{code or '?'}"
            found = self.get(vocabulary_of(str(system) if system else None),
                             str(code) if code else None)
            if found is not None:
                return found, str(code)
        return None, label

    def _lookup(self, vocabulary: str, code: str) -> Concept | None:
        rows = self.conn.execute(sa.select(CONCEPT.c.concept_id, CONCEPT.c.domain_id,
                                           CONCEPT.c.concept_name, CONCEPT.c.invalid_reason)
                                 .where(CONCEPT.c.vocabulary_id == vocabulary,
                                        CONCEPT.c.concept_code == code)).all()
        if not rows:
            return None
        rows.sort(key=lambda r: (r.invalid_reason is not None, r.concept_id))
        source = rows[0]
        target = self.conn.execute(
            sa.select(CONCEPT.c.concept_id, CONCEPT.c.domain_id, CONCEPT.c.concept_name)
            .join(RELATIONSHIP, RELATIONSHIP.c.concept_id_2 == CONCEPT.c.concept_id)
            .where(RELATIONSHIP.c.concept_id_1 == source.concept_id,
                   RELATIONSHIP.c.relationship_id == "Maps to",
                   RELATIONSHIP.c.invalid_reason.is_(None),
                   RELATIONSHIP.c.concept_id_2 != source.concept_id)
            .order_by(CONCEPT.c.concept_id)).first()
        final = target or source
        return Concept(int(final.concept_id), int(source.concept_id), str(final.domain_id),
                       str(final.concept_name))
