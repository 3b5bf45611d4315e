"""The `weshare` command. Each module of this package adds its subcommands through ``register``.

Modules are discovered, so a new command group is one new file and no shared list to edit;
packages above workbench register theirs under the ``weshare.commands`` entry point group.
User errors print one line and exit 2; only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from workbench.errors import WorkbenchError

__all__ = ["build_parser", "entry", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weshare", description="WeShare research workbench")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "__main__":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(commands)
    # Layers above workbench (secure_bubble) add their commands through an entry point group.
    for entry in sorted(entry_points(group="weshare.commands"), key=lambda e: e.name):
        entry.load()(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except WorkbenchError as exc:
        print(f"weshare: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("weshare: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def run(command: Callable[[], int]) -> None:
    """Exit with the command's code. With DuckDB loaded, skip interpreter teardown: its bindings
    print spurious "nanobind: leaked" reports at exit (everything is committed and flushed here)."""
    code = command()
    if "duckdb" in sys.modules:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def entry() -> None:
    """Console-script entry point (`weshare`)."""
    run(main)
