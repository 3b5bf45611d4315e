"""`weshare warehouse init|counts|sample|load-vocabulary|check|describe` — the EDS store."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from workbench import warehouse
from workbench.cli._common import add_command, settings
from workbench.errors import ValidationError
from workbench.warehouse.engine import record_cdm_source
from workbench.warehouse.sample import sample_cohort

CLI_ACTOR = "cli"


@contextmanager
def _engine(args: argparse.Namespace) -> Iterator[Engine]:
    # Disposed before exit: DuckDB complains at interpreter shutdown about open connections.
    engine = warehouse.connect(args.url or settings().warehouse_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _init(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        warehouse.create_schema(engine)
        result = warehouse.load_mini_vocabulary(engine, loaded_by=CLI_ACTOR)
        record_cdm_source(engine, name=args.name, abbreviation=args.abbreviation,
                          holder=args.holder, vocabulary_version="weshare-mini-1")
    state = "already loaded" if result.already_loaded else "loaded"
    print(f"warehouse ready at {engine.url!r}; mini-vocabulary {state} "
          f"({result.row_counts['concept']} concepts)")
    return 0


def _counts(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        counts = warehouse.table_counts(engine)
    for name, n in counts.items():
        print(f"{name:<22} {n:>12,}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    total = 0
    with _engine(args) as engine:
        for i, batch in enumerate(sample_cohort(args.persons, seed=args.seed, chunk=args.chunk)):
            result = warehouse.load_tables(
                engine, f"sample:{args.seed}:{args.persons}:{i}", batch,
                source="workbench.warehouse.sample", loaded_by=CLI_ACTOR)
            total += sum(result.row_counts.values())
    print(f"loaded a seeded sample cohort of {args.persons} persons ({total:,} rows)")
    return 0


def _vocabulary(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        result = warehouse.load_athena_bundle(engine, Path(args.directory), loaded_by=CLI_ACTOR)
    print(f"{result.load_id}: " + ", ".join(f"{k} {v:,}" for k, v in result.row_counts.items()))
    return 0


def _check(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        report = warehouse.run_checks(engine)
    overview = report["Overview"]
    if args.output:
        warehouse.write_report(report, Path(args.output))
    print(f"{overview['countTotal']} checks, {overview['countFailed']} failed "
          f"(conformance {overview['countFailedConformance']}, completeness "
          f"{overview['countFailedCompleteness']}, plausibility {overview['countFailedPlausibility']})")
    for result in report["CheckResults"]:
        if result["failed"]:
            field = f".{result['cdmFieldName']}" if result["cdmFieldName"] else ""
            print(f"  FAILED {result['checkName']} {result['cdmTableName']}{field}: "
                  f"{result['numViolatedRows']} rows ({result['pctViolatedRows']}%)")
    return 1 if overview["countFailed"] and args.strict else 0


def _describe(args: argparse.Namespace) -> int:
    path = Path(args.study)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        for key in ("start", "end"):
            if raw.get(key):
                raw[key] = date.fromisoformat(raw[key])
        if "keywords" in raw:
            raw["keywords"] = tuple(raw["keywords"])
        study = warehouse.StudyMetadata(**raw)
    except (OSError, ValueError, TypeError) as exc:
        raise ValidationError(f"cannot read study metadata: {exc}", where=str(path)) from None
    with _engine(args) as engine:
        package, record = warehouse.datapackage(engine, study), warehouse.dcat_record(engine, study)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "datapackage.json").write_text(json.dumps(package, indent=1), encoding="utf-8")
    (out / "dataset.jsonld").write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(f"wrote {out / 'datapackage.json'} and {out / 'dataset.jsonld'}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = commands.add_parser("warehouse", help="health data warehouse (OMOP CDM v5.4)")
    group.add_argument("--url", default="", help="warehouse URL (default: WESHARE_WAREHOUSE_URL)")
    sub = group.add_subparsers(dest="warehouse_command", metavar="ACTION", required=True)
    p = add_command(sub, "init", _init, "create the OMOP schema and load the mini-vocabulary")
    p.add_argument("--name", default="WeShare health data warehouse")
    p.add_argument("--abbreviation", default="WeShare-EDS")
    p.add_argument("--holder", default="WeShare")
    add_command(sub, "counts", _counts, "rows per table")
    p = add_command(sub, "sample", _sample, "load a seeded sample cohort (demo and tests)")
    p.add_argument("--persons", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=10_000)
    p = add_command(sub, "load-vocabulary", _vocabulary, "load an Athena vocabulary bundle")
    p.add_argument("directory", help="folder with CONCEPT.csv, CONCEPT_RELATIONSHIP.csv, …")
    p = add_command(sub, "check", _check, "run data quality checks (DQD subset)")
    p.add_argument("--output", help="write the JSON report here")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    p = add_command(sub, "describe", _describe,
                    "write datapackage.json and a DCAT-AP/HealthDCAT-AP record")
    p.add_argument("--study", required=True, help="JSON file with the study metadata")
    p.add_argument("--out", required=True, help="output folder")
