"""Health data warehouse (EDS): OMOP CDM v5.4 + survey extension on DuckDB or PostgreSQL."""

from workbench.warehouse.engine import connect, create_schema, drop_schema, table_counts
from workbench.warehouse.loader import LoadResult, load_tables
from workbench.warehouse.vocabulary import load_athena_bundle, load_mini_vocabulary, resolve_codes

__all__ = [
    "LoadResult",
    "connect",
    "create_schema",
    "drop_schema",
    "load_athena_bundle",
    "load_mini_vocabulary",
    "load_tables",
    "resolve_codes",
    "table_counts",
]
