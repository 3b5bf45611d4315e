"""`weshare db upgrade|current`."""

from __future__ import annotations

import argparse

from workbench.cli._common import add_command, settings
from workbench.errors import SchemaOutOfDate
from workbench.runtime import open_operational
from workbench.storage.engine import check_schema, schema_head
from workbench.storage.migrate import upgrade


def _upgrade(args: argparse.Namespace) -> int:
    engine = open_operational(settings(), check=False)
    try:
        upgrade(engine)
        print(f"operational store at revision {schema_head()}")
    finally:
        engine.dispose()
    return 0


def _current(args: argparse.Namespace) -> int:
    engine = open_operational(settings(), check=False)
    try:
        check_schema(engine)
        print(f"operational store is up to date (revision {schema_head()})")
        return 0
    except SchemaOutOfDate as exc:
        print(str(exc))
        return 1
    finally:
        engine.dispose()


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = commands.add_parser("db", help="operational store schema")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    add_command(sub, "upgrade", _upgrade, "apply pending migrations")
    add_command(sub, "current", _current, "say whether the schema is up to date")
