"""`weshare import fhir|omop|csv|wearables|runs`: the connectors, with a progress bar and the run report.

``weshare import fhir … --study CODE`` enrols the bundle's patients in a study of the operational
store instead of loading the warehouse.

The same functions serve the dashboards (``workbench.connectors``); this module only reads the
command line, opens the stores and prints. Exit 0 once a run completed (even with rejected
rows, which the report lists), 1 with ``--strict`` if anything was rejected, 2 on an error.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tqdm import tqdm

from workbench.cli._common import add_command, settings, store_session
from workbench.connectors import (
    RunReport,
    import_csv,
    import_fhir,
    import_fhir_into_study,
    import_omop,
    import_wearables,
)
from workbench.connectors.state import ensure_state, runs
from workbench.errors import ValidationError
from workbench.trusted_party import TrustedParty, open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary


class _Bar:
    """One tqdm bar per stage, on stderr; the report itself goes to stdout."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.stage, self.bar = quiet, "", None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, tqdm(total=total, desc=f"{stage:<22}", unit="row", leave=False)
        if self.bar is not None:
            self.bar.total = max(total, done)
            self.bar.n = done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def _stores(args: argparse.Namespace) -> Iterator[tuple[Engine, TrustedParty]]:
    cfg = settings()
    warehouse = connect(args.url or cfg.warehouse_url)
    tp = None
    try:
        create_schema(warehouse)  # only what is missing
        load_mini_vocabulary(warehouse)  # idempotent
        tp = open_trusted_party(cfg)
        yield warehouse, tp
    finally:
        if tp is not None:
            tp.close()
        warehouse.dispose()


def _run(args: argparse.Namespace, work: Callable[[Engine, TrustedParty, str, Any], RunReport]) -> int:
    bar = _Bar(args.quiet)
    actor = args.actor or f"cli:{getpass.getuser()}"
    try:
        with _stores(args) as (warehouse, tp):
            report = work(warehouse, tp, actor, bar)
    finally:
        bar.close()
    return _print(args, report)


def _print(args: argparse.Namespace, report: RunReport) -> int:
    print(report)
    if args.json:
        Path(args.json).write_text(report.to_json() + "\n", encoding="utf-8")
    return 1 if args.strict and report.rejected else 0


def _fhir(args: argparse.Namespace) -> int:
    if args.study:
        return _fhir_study(args)
    if args.site:
        raise ValidationError("--site goes with --study (the warehouse import has no sites)", where="--site")
    return _run(args, lambda wh, tp, actor, bar: import_fhir(
        wh, tp, [Path(p) for p in args.paths], source=args.source, actor=actor, progress=bar))


def _fhir_study(args: argparse.Namespace) -> int:
    """Into the operational store's study (no warehouse involved); committed once the run completed."""
    cfg = settings()
    bar = _Bar(args.quiet)
    actor = args.actor or f"cli:{getpass.getuser()}"
    try:
        with open_trusted_party(cfg) as tp, store_session(cfg) as session:
            report = import_fhir_into_study(session, tp, [Path(p) for p in args.paths], study=args.study,
                                            source=args.source, actor=actor, site=args.site, progress=bar)
    finally:
        bar.close()
    return _print(args, report)


def _omop(args: argparse.Namespace) -> int:
    return _run(args, lambda wh, tp, actor, bar: import_omop(
        wh, tp, args.source_url, source=args.source, actor=actor, schema=args.schema, full=args.full,
        progress=bar))


def _csv(args: argparse.Namespace) -> int:
    return _run(args, lambda wh, tp, actor, bar: import_csv(
        wh, tp, Path(args.mapping), source=args.source, actor=actor,
        folder=Path(args.folder) if args.folder else None, progress=bar))


def _wearables(args: argparse.Namespace) -> int:
    return _run(args, lambda wh, tp, actor, bar: import_wearables(
        wh, tp, [Path(p) for p in args.paths], study=args.study.upper(), actor=actor,
        participant=args.participant, progress=bar))


def _runs(args: argparse.Namespace) -> int:
    warehouse = connect(args.url or settings().warehouse_url)
    try:
        ensure_state(warehouse)
        with warehouse.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.finished_at.desc()).limit(args.last)).all()
    finally:
        warehouse.dispose()
    for r in rows:
        body = json.loads(r.report)
        print(f"{r.finished_at:%Y-%m-%d %H:%M} {r.connector:<9} {r.source:<30} run {r.run_id}: "
              f"read {sum(body['read'].values())}, inserted {sum(body['inserted'].values())}, "
              f"updated {sum(body['updated'].values())}, unchanged {body['unchanged']}, "
              f"rejected {len(body['rejected'])}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = commands.add_parser("import", help="import hospital data and wearable exports into the warehouse")
    group.add_argument("--url", default="", help="warehouse URL (default: WESHARE_WAREHOUSE_URL)")
    sub = group.add_subparsers(dest="import_command", metavar="CONNECTOR", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--actor", default="", help="who runs the import (default cli:<user>)")
        p.add_argument("--json", default="", help="also write the run report as JSON here")
        p.add_argument("--strict", action="store_true", help="exit 1 if any row was rejected")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add_command(sub, "fhir", _fhir, "FHIR R4/R4B bundles, resources or NDJSON (files or folders)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--source", required=True, help="the establishment the data come from")
    p.add_argument("--study", default="", help="enrol the Patients in this active study and store their "
                                               "questionnaire answers (operational store, not the warehouse)")
    p.add_argument("--site", default="", help="with --study: the study site the participants belong to")
    common(p)
    p = add_command(sub, "omop", _omop, "an establishment's OMOP CDM database (SQLAlchemy URL)")
    p.add_argument("source_url")
    p.add_argument("--source", required=True, help="the establishment's name")
    p.add_argument("--schema", default="", help="schema holding the CDM tables")
    p.add_argument("--full", action="store_true", help="read every row again, not only new ones")
    common(p)
    p = add_command(sub, "csv", _csv, "CSV extracts described by a mapping file (TOML)")
    p.add_argument("mapping")
    p.add_argument("--source", required=True, help="the establishment's name")
    p.add_argument("--folder", default="", help="where the CSV files are (default: next to the mapping)")
    common(p)
    p = add_command(sub, "wearables", _wearables, "wearable exports (CSV, Fitbit-style JSON)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--study", required=True, help="the study whose pseudonyms name the participants")
    p.add_argument("--participant", default="", help="study pseudonym, for files that name nobody")
    common(p)
    p = add_command(sub, "runs", _runs, "the last connector runs and their counts")
    p.add_argument("--last", type=int, default=20)
