"""`weshare export STUDY --format long|wide|redcap|fhir|scores [--instrument ID] [--deidentify] -o FILE`."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from workbench.cli._common import CLI_ACTOR, add_command, settings, store_session
from workbench.errors import ValidationError
from workbench.keys import load_or_create_key
from workbench.participants.exports import (
    fhir_bundle,
    long_table,
    redcap_records,
    scores_table,
    wide_table,
)


def _export(args: argparse.Namespace) -> int:
    cfg = settings()
    out = Path(args.output)
    if out.exists() and not args.force:
        raise ValidationError(f"{out} exists; use --force to replace it", where="--output")
    key = load_or_create_key(cfg.secret_key_file) if args.deidentify else None
    with store_session(cfg) as session:
        if args.format == "fhir":
            text = json.dumps(fhir_bundle(session, args.study.upper(), actor=CLI_ACTOR,
                                          canonical_base=cfg.public_url), ensure_ascii=False, indent=1)
            rows = text.count('"QuestionnaireResponse"')
        else:
            frame = long_table(session, args.study.upper(), actor=CLI_ACTOR, instrument=args.instrument,
                               deidentify_key=key)
            if args.format == "scores":
                if not args.instrument:
                    raise ValidationError("scores are per instrument: add --instrument", where="--format")
                frame = scores_table(frame, args.instrument)
            else:
                frame = {"long": frame, "wide": wide_table(frame), "redcap": redcap_records(frame)}[args.format]
            text, rows = frame.to_csv(index=False), len(frame)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)  # a failed export leaves no half-written file
    print(f"wrote {rows} row(s) to {out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(commands, "export", _export, "export a study's questionnaires (tidy, REDCap or FHIR)")
    p.add_argument("study")
    p.add_argument("--format", choices=["long", "wide", "redcap", "fhir", "scores"], default="long")
    p.add_argument("--instrument")
    p.add_argument("--deidentify", action="store_true", help="drop free text and shift dates per person")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--force", action="store_true")
