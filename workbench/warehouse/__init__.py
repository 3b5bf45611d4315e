"""Health data warehouse (EDS): OMOP CDM v5.4 + survey extension on DuckDB or PostgreSQL.

Public API: open and create (``connect``, ``create_schema``), load (``load_tables``,
``load_mini_vocabulary``, ``load_athena_bundle``), query (``CohortQuery`` with the criteria
objects), check (``run_checks``) and describe (``datapackage``, ``dcat_record``).
"""

from workbench.warehouse.catalog import StudyMetadata, datapackage, dcat_record
from workbench.warehouse.cohort import CohortQuery
from workbench.warehouse.criteria import Cohort, Demographics, HasCondition, HasTreatment, ScoreAt
from workbench.warehouse.engine import connect, create_schema, drop_schema, table_counts
from workbench.warehouse.loader import LoadResult, load_tables
from workbench.warehouse.quality import run_checks, write_report
from workbench.warehouse.vocabulary import load_athena_bundle, load_mini_vocabulary, resolve_codes

__all__ = [
    "Cohort",
    "CohortQuery",
    "Demographics",
    "HasCondition",
    "HasTreatment",
    "LoadResult",
    "ScoreAt",
    "StudyMetadata",
    "connect",
    "create_schema",
    "datapackage",
    "dcat_record",
    "drop_schema",
    "load_athena_bundle",
    "load_mini_vocabulary",
    "load_tables",
    "resolve_codes",
    "run_checks",
    "table_counts",
    "write_report",
]
