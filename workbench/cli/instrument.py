"""`weshare instrument list|import|export|texts`: the questionnaire library from the terminal."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from workbench.cli._common import CLI_ACTOR, add_command, settings, store_session
from workbench.errors import ValidationError
from workbench.instruments.fhir import write_questionnaire
from workbench.instruments.redcap import write_data_dictionary
from workbench.instruments.store import (
    available_instruments,
    get_instrument,
    import_file,
    load_licensed_texts,
    read_file,
)
from workbench.studies.service import get_study


def _list(args: argparse.Namespace) -> int:
    with store_session(settings()) as session:
        for ident, title, source in available_instruments(session):
            print(f"{ident:<20} {source:<8} {title}")
    return 0


def _import(args: argparse.Namespace) -> int:
    if args.dry_run:
        instruments, warnings = read_file(args.file, language=args.language)
    else:
        with store_session(settings()) as session:
            study = get_study(session, args.study.upper()).id if args.study else None
            instruments, warnings = import_file(session, args.file, actor=CLI_ACTOR, language=args.language,
                                                study_id=study)
    for warning in warnings:
        print(f"warning: {warning}")
    verb = "checked" if args.dry_run else "imported"
    for instrument in instruments:
        print(f"{verb} {instrument.id} v{instrument.version}: {len(instrument.items)} item(s) from {instrument.source}")
    return 0


def _export(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.exists() and not args.force:
        raise ValidationError(f"{out} exists; use --force to replace it", where="--output")
    with store_session(settings()) as session:
        instrument = get_instrument(session, args.instrument)
    if args.format == "redcap":
        text = write_data_dictionary([instrument], language=args.language)
    else:
        version = "R5" if args.format == "fhir-r5" else "R4"
        text = json.dumps(write_questionnaire(instrument, version=version, language=args.language),
                          ensure_ascii=False, indent=1)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote {instrument.id} as {args.format} to {out}")
    return 0


def _texts(args: argparse.Namespace) -> int:
    with store_session(settings()) as session:
        instrument = load_licensed_texts(session, args.instrument, args.file, actor=CLI_ACTOR)
    print(f"loaded the licensee's texts for {instrument.id} (stored as version {instrument.version})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(commands, "instrument", lambda a: a.parser.print_help() or 2,
                    "questionnaires: list, import (REDCap/XLSForm/FHIR), export, licensed texts")
    p.set_defaults(parser=p)
    sub = p.add_subparsers(dest="action")
    add_command(sub, "list", _list, "instruments a study may schedule")
    imp = add_command(sub, "import", _import, "import a REDCap dictionary, an XLSForm or a FHIR Questionnaire")
    imp.add_argument("file")
    imp.add_argument("--study", help="study the instrument was made for")
    imp.add_argument("--language", choices=["fr", "en"], default="en", help="language of single-language labels")
    imp.add_argument("--dry-run", action="store_true", help="check the file and store nothing")
    exp = add_command(sub, "export", _export, "export an instrument as a REDCap dictionary or FHIR Questionnaire")
    exp.add_argument("instrument")
    exp.add_argument("--format", choices=["redcap", "fhir-r4", "fhir-r5"], default="fhir-r4")
    exp.add_argument("--language", choices=["fr", "en"], default="en")
    exp.add_argument("-o", "--output", required=True)
    exp.add_argument("--force", action="store_true")
    txt = add_command(sub, "texts", _texts, "load the licensee's item texts for QLQ-C30 or PRO-CTCAE")
    txt.add_argument("instrument", choices=["qlq-c30", "pro-ctcae"])
    txt.add_argument("file")
