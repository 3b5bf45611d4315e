"""`weshare qda check FILE` and `weshare qda agreement FILE.qdpx`: REFI-QDA files from the shell.

``check`` validates a `.qdpx` project or `.qdc` codebook (schema, references, offsets) and
prints what it holds; ``agreement`` prints per-code agreement between the project's coders on
speaker turns (or on characters, NVivo-style, for two coders).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from workbench.cli._common import add_command
from workbench.errors import ValidationError
from workbench.qualitative.refi import from_project, read_qdc, read_qdpx
from workbench.qualitative.reliability import character_agreement, turn_agreement

__all__ = ["register"]


def _check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.suffix.lower() == ".qdc":
        codes, sets = read_qdc(path)
        print(f"{path.name}: valid codebook, {len(codes)} codes, {len(sets)} sets")
        return 0
    project = read_qdpx(path)
    selections = sum(len(s.selections) for s in project.sources)
    codings = sum(len(sel.codings) for s in project.sources for sel in s.selections)
    print(f"{path.name}: valid project {project.name!r} from {project.origin or 'unknown origin'}")
    print(f"  users {len(project.users)}, codes {len(project.codes)}, variables "
          f"{len(project.variables)}, cases {len(project.cases)}, sources {len(project.sources)}, "
          f"selections {selections}, codings {codings}, notes {len(project.notes)}, "
          f"sets {len(project.sets)}")
    return 0


def _agreement(args: argparse.Namespace) -> int:
    imported = from_project(read_qdpx(Path(args.file)))
    coders = sorted({s.coder for s in imported.segments})
    if args.unit == "turn":
        table = turn_agreement(imported.segments, imported.transcripts)
    else:
        if len(coders) != 2:
            raise ValidationError(f"character comparison needs exactly 2 coders, found "
                                  f"{len(coders)}", where=args.file)
        table = character_agreement(imported.segments, imported.transcripts, *coders)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    qda = commands.add_parser("qda", help="REFI-QDA projects (.qdpx) and codebooks (.qdc)")
    sub = qda.add_subparsers(dest="qda_command", required=True, metavar="ACTION")
    p = add_command(sub, "check", _check, "validate a .qdpx or .qdc file and summarise it")
    p.add_argument("file")
    p = add_command(sub, "agreement", _agreement, "per-code agreement between a project's coders")
    p.add_argument("file")
    p.add_argument("--unit", choices=["turn", "character"], default="turn")
