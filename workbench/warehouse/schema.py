"""OMOP CDM v5.4 tables the workbench uses, plus the ``survey_conduct`` extension and a load log.

One SQLAlchemy ``MetaData`` serves DuckDB and PostgreSQL. Columns follow the v5.4 field-level
specification (names, order, NOT NULL). Ids are BIGINT so pooled studies and SNDS-scale extracts fit.

Keys are kept as *metadata* (``column.info``) rather than DDL on purpose: DuckDB cannot add foreign
keys after the fact and its primary-key indexes slow bulk loads, so on DuckDB keys are checked by
SQL (:mod:`workbench.warehouse.quality`); on PostgreSQL :func:`create_schema` adds real primary keys
and deferrable foreign keys.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Double,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "CDM_TABLES",
    "EXTENSION_TABLES",
    "LOAD_LOG",
    "VOCABULARY_TABLES",
    "foreign_keys",
    "metadata",
    "primary_key",
    "required_columns",
]

metadata = MetaData()

_TYPES = {
    "id": BigInteger, "concept": Integer, "int": Integer, "date": Date, "dt": DateTime,
    "num": Double, "text": Text,
}

# Where a column that is not a concept id points to (``*_concept_id`` columns point to concept).
_FK_TARGETS = {
    "person_id": "person", "visit_occurrence_id": "visit_occurrence",
    "preceding_visit_occurrence_id": "visit_occurrence", "episode_id": "episode",
    "episode_parent_id": "episode", "survey_conduct_id": "survey_conduct",
    "response_visit_occurrence_id": "visit_occurrence",
}
# Ids OMOP declares but whose tables (provider, care_site, visit_detail, location) we do not hold.
_NO_FK = {"provider_id", "care_site_id", "location_id", "visit_detail_id"}


def _table(name: str, spec: str) -> Table:
    """Build a table from ``name:type[!][*]`` entries; ``!`` = NOT NULL, ``*`` = primary key."""
    columns = []
    for entry in spec.split():
        col, kind = entry.split(":")
        required, key = kind.endswith(("!", "!*")), kind.endswith("*")
        kind = kind.rstrip("!*")
        sql_type = String(int(kind[3:])) if kind.startswith("str") else _TYPES[kind]()
        info: dict[str, object] = {"pk": key}
        fk = _fk_for(name, col, key)
        if fk:
            info["fk"] = fk
        columns.append(Column(col, sql_type, nullable=not required, info=info))
    return Table(name, metadata, *columns)


def _fk_for(table: str, col: str, key: bool) -> tuple[str, str] | None:
    if key or col in _NO_FK:
        return None
    if col.endswith("_concept_id") or col in ("concept_id_1", "concept_id_2"):
        return None if table == "concept" else ("concept", "concept_id")
    target = _FK_TARGETS.get(col)
    if target is None:
        return None
    return target, f"{target}_id"


_table("person", """
person_id:id!* gender_concept_id:concept! year_of_birth:int! month_of_birth:int day_of_birth:int
birth_datetime:dt race_concept_id:concept! ethnicity_concept_id:concept! location_id:id
provider_id:id care_site_id:id person_source_value:str50 gender_source_value:str50
gender_source_concept_id:concept race_source_value:str50 race_source_concept_id:concept
ethnicity_source_value:str50 ethnicity_source_concept_id:concept""")
_table("observation_period", """
observation_period_id:id!* person_id:id! observation_period_start_date:date!
observation_period_end_date:date! period_type_concept_id:concept!""")
_table("visit_occurrence", """
visit_occurrence_id:id!* person_id:id! visit_concept_id:concept! visit_start_date:date!
visit_start_datetime:dt visit_end_date:date! visit_end_datetime:dt visit_type_concept_id:concept!
provider_id:id care_site_id:id visit_source_value:str50 visit_source_concept_id:concept
admitted_from_concept_id:concept admitted_from_source_value:str50 discharged_to_concept_id:concept
discharged_to_source_value:str50 preceding_visit_occurrence_id:id""")
_table("condition_occurrence", """
condition_occurrence_id:id!* person_id:id! condition_concept_id:concept! condition_start_date:date!
condition_start_datetime:dt condition_end_date:date condition_end_datetime:dt
condition_type_concept_id:concept! condition_status_concept_id:concept stop_reason:str20
provider_id:id visit_occurrence_id:id visit_detail_id:id condition_source_value:str50
condition_source_concept_id:concept condition_status_source_value:str50""")
_table("drug_exposure", """
drug_exposure_id:id!* person_id:id! drug_concept_id:concept! drug_exposure_start_date:date!
drug_exposure_start_datetime:dt drug_exposure_end_date:date! drug_exposure_end_datetime:dt
verbatim_end_date:date drug_type_concept_id:concept! stop_reason:str20 refills:int quantity:num
days_supply:int sig:text route_concept_id:concept lot_number:str50 provider_id:id
visit_occurrence_id:id visit_detail_id:id drug_source_value:str50 drug_source_concept_id:concept
route_source_value:str50 dose_unit_source_value:str50""")
_table("procedure_occurrence", """
procedure_occurrence_id:id!* person_id:id! procedure_concept_id:concept! procedure_date:date!
procedure_datetime:dt procedure_end_date:date procedure_end_datetime:dt
procedure_type_concept_id:concept! modifier_concept_id:concept quantity:int provider_id:id
visit_occurrence_id:id visit_detail_id:id procedure_source_value:str50
procedure_source_concept_id:concept modifier_source_value:str50""")
_table("measurement", """
measurement_id:id!* person_id:id! measurement_concept_id:concept! measurement_date:date!
measurement_datetime:dt measurement_time:str10 measurement_type_concept_id:concept!
operator_concept_id:concept value_as_number:num value_as_concept_id:concept unit_concept_id:concept
range_low:num range_high:num provider_id:id visit_occurrence_id:id visit_detail_id:id
measurement_source_value:str50 measurement_source_concept_id:concept unit_source_value:str50
unit_source_concept_id:concept value_source_value:str50 measurement_event_id:id
meas_event_field_concept_id:concept""")
_table("observation", """
observation_id:id!* person_id:id! observation_concept_id:concept! observation_date:date!
observation_datetime:dt observation_type_concept_id:concept! value_as_number:num
value_as_string:str60 value_as_concept_id:concept qualifier_concept_id:concept
unit_concept_id:concept provider_id:id visit_occurrence_id:id visit_detail_id:id
observation_source_value:str50 observation_source_concept_id:concept unit_source_value:str50
qualifier_source_value:str50 value_source_value:str50 observation_event_id:id
obs_event_field_concept_id:concept""")
_table("death", """
person_id:id! death_date:date! death_datetime:dt death_type_concept_id:concept
cause_concept_id:concept cause_source_value:str50 cause_source_concept_id:concept""")
_table("note", """
note_id:id!* person_id:id! note_date:date! note_datetime:dt note_type_concept_id:concept!
note_class_concept_id:concept! note_title:str250 note_text:text! encoding_concept_id:concept!
language_concept_id:concept! provider_id:id visit_occurrence_id:id visit_detail_id:id
note_source_value:str50 note_event_id:id note_event_field_concept_id:concept""")
_table("episode", """
episode_id:id!* person_id:id! episode_concept_id:concept! episode_start_date:date!
episode_start_datetime:dt episode_end_date:date episode_end_datetime:dt episode_parent_id:id
episode_number:int episode_object_concept_id:concept! episode_type_concept_id:concept!
episode_source_value:str50 episode_source_concept_id:concept""")
_table("episode_event", """
episode_id:id! event_id:id! episode_event_field_concept_id:concept!""")
_table("cdm_source", """
cdm_source_name:str255! cdm_source_abbreviation:str25! cdm_holder:str255! source_description:text
source_documentation_reference:str255 cdm_etl_reference:str255 source_release_date:date!
cdm_release_date:date! cdm_version:str10 cdm_version_concept_id:concept!
vocabulary_version:str20!""")
_table("concept", """
concept_id:concept!* concept_name:str255! domain_id:str20! vocabulary_id:str20!
concept_class_id:str20! standard_concept:str1 concept_code:str50! valid_start_date:date!
valid_end_date:date! invalid_reason:str1""")
_table("vocabulary", """
vocabulary_id:str20!* vocabulary_name:str255! vocabulary_reference:str255
vocabulary_version:str255 vocabulary_concept_id:concept!""")
_table("domain", "domain_id:str20!* domain_name:str255! domain_concept_id:concept!")
_table("concept_class", """
concept_class_id:str20!* concept_class_name:str255! concept_class_concept_id:concept!""")
_table("concept_relationship", """
concept_id_1:concept! concept_id_2:concept! relationship_id:str20! valid_start_date:date!
valid_end_date:date! invalid_reason:str1""")
_table("concept_ancestor", """
ancestor_concept_id:concept! descendant_concept_id:concept! min_levels_of_separation:int!
max_levels_of_separation:int!""")
# Extension: questionnaire sittings, with the columns of OMOP v6.0 SURVEY_CONDUCT (absent in 5.4).
_table("survey_conduct", """
survey_conduct_id:id!* person_id:id! survey_concept_id:concept! survey_start_date:date
survey_start_datetime:dt survey_end_date:date survey_end_datetime:dt! provider_id:id
assisted_concept_id:concept! respondent_type_concept_id:concept! timing_concept_id:concept!
collection_method_concept_id:concept! assisted_source_value:str50 respondent_type_source_value:str100
timing_source_value:str100 collection_method_source_value:str100 survey_source_value:str100
survey_source_concept_id:concept! survey_source_identifier:str100
validated_survey_concept_id:concept! validated_survey_source_value:str100
survey_version_number:str20 visit_occurrence_id:id response_visit_occurrence_id:id""")
# Provenance: one row per bulk load; makes loads idempotent and says where every row came from.
_table("load_log", """
load_id:str64!* source:str255! content_sha256:str64! loaded_at:dt! row_counts:text!
loaded_by:str100!""")

VOCABULARY_TABLES = ("concept", "vocabulary", "domain", "concept_class", "concept_relationship",
                     "concept_ancestor")
EXTENSION_TABLES = ("survey_conduct", "load_log")
CDM_TABLES = tuple(t for t in metadata.tables if t not in EXTENSION_TABLES)
LOAD_LOG = metadata.tables["load_log"]


def primary_key(table: str) -> list[str]:
    return [c.name for c in metadata.tables[table].columns if c.info.get("pk")]


def required_columns(table: str) -> list[str]:
    return [c.name for c in metadata.tables[table].columns if not c.nullable]


def foreign_keys(table: str) -> list[tuple[str, str, str]]:
    """``(column, target_table, target_column)`` for each reference held in ``table``."""
    return [(c.name, *c.info["fk"]) for c in metadata.tables[table].columns if "fk" in c.info]
