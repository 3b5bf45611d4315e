"""`weshare qda check|agreement|codebook|transcript`: qualitative files from the shell.

``check`` validates a `.qdpx` project or `.qdc` codebook (schema, references, offsets) and
prints what it holds; ``agreement`` prints per-code agreement between a project's coders on
speaker turns (or on characters, NVivo-style, for two coders); ``codebook`` writes the starter
codebook as `.qdc` or JSON; ``transcript`` imports a transcript, pseudonymises it and writes
the canonical text plus the replacement list for review (that list holds real names: keep it
with the trusted third party).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from workbench.cli._common import add_command
from workbench.errors import ValidationError
from workbench.qualitative.codebook import codebook_to_dict, load_starter_codebook
from workbench.qualitative.pseudonymise import (
    apply_replacements,
    propose_replacements,
    read_replacements,
    write_replacements,
)
from workbench.qualitative.refi import from_project, read_qdc, read_qdpx, to_project, write_qdc
from workbench.qualitative.reliability import character_agreement, turn_agreement
from workbench.qualitative.transcript_formats import read_transcript

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


def _codebook(args: argparse.Namespace) -> int:
    book = load_starter_codebook(args.language)
    out = Path(args.out)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(codebook_to_dict(book), ensure_ascii=False, indent=1) + "\n",
                       encoding="utf-8")
    elif out.suffix.lower() == ".qdc":
        project = to_project(book.name, book, {}, [])
        write_qdc(project.codes, project.sets, out)
    else:
        raise ValidationError("write a .qdc or .json file", where=str(out))
    print(f"wrote {len(book.codes)} codes and {len(book.themes)} themes to {out}")
    return 0


def _transcript(args: argparse.Namespace) -> int:
    transcript = read_transcript(Path(args.file))
    if args.replacements:
        entries = read_replacements(Path(args.replacements).read_text(encoding="utf-8-sig"))
    else:
        entries = propose_replacements(transcript, args.name)
    pseudonymised = apply_replacements(transcript, entries)
    out = Path(args.out)
    out.write_text(pseudonymised.text, encoding="utf-8")
    print(f"{len(pseudonymised.turns)} turns, {len(pseudonymised.speakers)} speakers, "
          f"{len(entries)} replacements -> {out}")
    if not args.replacements:
        review = out.with_suffix(".replacements.csv")
        review.write_text(write_replacements(entries), encoding="utf-8")
        print(f"review the replacement list (it contains real names) and re-run with "
              f"--replacements {review}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    qda = commands.add_parser("qda", help="REFI-QDA projects (.qdpx) and codebooks (.qdc)")
    sub = qda.add_subparsers(dest="qda_command", required=True, metavar="ACTION")
    p = add_command(sub, "check", _check, "validate a .qdpx or .qdc file and summarise it")
    p.add_argument("file")
    p = add_command(sub, "agreement", _agreement, "per-code agreement between a project's coders")
    p.add_argument("file")
    p.add_argument("--unit", choices=["turn", "character"], default="turn")
    p = add_command(sub, "codebook", _codebook, "write the starter codebook (.qdc or .json)")
    p.add_argument("out")
    p.add_argument("--language", choices=["en", "fr"], default="en")
    p = add_command(sub, "transcript", _transcript,
                    "import a transcript (.txt .docx .vtt .srt .csv) and pseudonymise it")
    p.add_argument("file")
    p.add_argument("--out", required=True, help="pseudonymised canonical text (.txt)")
    p.add_argument("--name", action="append", default=[], help="a name to replace (repeatable)")
    p.add_argument("--replacements", help="a reviewed replacement list (CSV) to apply as is")
