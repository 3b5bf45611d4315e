"""`weshare deposit STUDY`: move a closed study's planned variables into the warehouse."""

from __future__ import annotations

import argparse
import sys

from workbench.cli._common import add_command, settings, store_session
from workbench.deposit import deposit_study
from workbench.trusted_party import open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary


def _bar(stage: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r{stage:<15} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _deposit(args: argparse.Namespace) -> int:
    cfg = settings()
    warehouse = connect(cfg.warehouse_url)
    create_schema(warehouse)  # creates only what is missing
    load_mini_vocabulary(warehouse)  # idempotent: same load id and content
    tp = open_trusted_party(cfg)
    try:
        with store_session(cfg) as session:
            report = deposit_study(session, tp, warehouse, args.study.upper(), actor="cli",
                                   progress=None if args.quiet else _bar)
    finally:
        tp.close()
        warehouse.dispose()
    print(report)
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(commands, "deposit", _deposit, "deposit a closed study into the warehouse")
    p.add_argument("study")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
