"""`weshare qda check|agreement|codebook|transcript`: qualitative files from the shell.

``check`` validates a `.qdpx` project or `.qdc` codebook (schema, references, offsets) and
prints what it holds; ``agreement`` prints per-code agreement between a project's coders on
speaker turns (or on characters, NVivo-style, for two coders); ``codebook`` writes the starter
codebook as `.qdc` or JSON; ``transcript`` imports a transcript, pseudonymises it and writes
the canonical text plus the replacement list for review (that list holds real names: keep it
with the trusted third party); ``transcribe`` turns an interview recording into such a transcript
on this machine (the site's faster-whisper model) and can store it in a study;
``methods-report`` runs the COREQ methods template on a study and exports it as HTML or PDF.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from workbench.cli._common import CLI_ACTOR, add_command, settings, store_session
from workbench.errors import ValidationError
from workbench.qualitative.codebook import codebook_to_dict, load_starter_codebook
from workbench.qualitative.pseudonymise import (
    Replacement,
    apply_replacements,
    propose_replacements,
    read_replacements,
    write_replacements,
)
from workbench.qualitative.recordings import store_transcription, transcribe_recording
from workbench.qualitative.refi import from_project, read_qdc, read_qdpx, to_project, write_qdc
from workbench.qualitative.reliability import character_agreement, turn_agreement
from workbench.qualitative.speech import check_model_dir, to_webvtt
from workbench.qualitative.transcript_formats import read_transcript
from workbench.reports import execute_notebook, write_report
from workbench.settings import REPO_ROOT
from workbench.studies.service import get_study

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


def _review_list(path: str | None) -> list[Replacement] | None:
    return read_replacements(Path(path).read_text(encoding="utf-8-sig")) if path else None


def _transcribe(args: argparse.Namespace) -> int:
    if not args.study and not args.out:
        raise ValidationError("say where the transcript goes: --study CODE and/or --out FILE",
                              where="transcribe")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".vtt", ".txt"):
        raise ValidationError("write a .vtt (with timestamps) or .txt file", where=str(out))
    cfg = settings()
    check_model_dir(cfg.transcription_model_dir)
    if args.study:  # fail before minutes of transcription, not after
        with store_session(cfg) as session:
            get_study(session, args.study)
    result = transcribe_recording(cfg, args.audio, language=args.language, speakers=args.speaker,
                                  names=args.name, replacements=_review_list(args.replacements),
                                  name=args.title, participant=args.participant,
                                  threads=args.threads)
    transcript, meta = result.transcript, result.transcript.metadata
    if args.study:
        with store_session(cfg) as session:
            version = store_transcription(session, args.study, result, actor=CLI_ACTOR,
                                          participant=args.participant)
            stored = f"stored in {args.study} as {transcript.name!r} (version id {version.id})"
    if out is not None:
        text = to_webvtt(transcript) if out.suffix.lower() == ".vtt" else transcript.text
        out.write_text(text, encoding="utf-8")
    print(f"{len(transcript.turns)} turns, {len(transcript.speakers)} speakers, "
          f"{meta['audio_seconds']} s of audio in {meta['processing_seconds']} s "
          f"(real-time factor {meta['real_time_factor']}, {meta['model']}, {meta['language']})")
    if args.study:
        print(stored)
    if out is not None:
        print(f"pseudonymised transcript -> {out}")
    if not args.replacements:
        review = Path(args.audio).with_suffix(".replacements.csv")
        review.write_text(write_replacements(result.replacements), encoding="utf-8")
        print(f"{len(result.replacements)} replacements proposed; review {review} (it contains "
              f"real names and stays with the recording)")
    return 0


METHODS_TEMPLATE = REPO_ROOT / "notebooks" / "templates" / "coreq_methods_report.ipynb"


def _methods_report(args: argparse.Namespace) -> int:
    with store_session(settings()) as session:  # a missing study fails here, before a kernel starts
        get_study(session, args.study)
    nb = execute_notebook(METHODS_TEMPLATE, parameters={"study": args.study, "viewer": CLI_ACTOR},
                          timeout=args.timeout)
    out = write_report(nb, args.output, hide_code=not args.show_code)
    print(f"COREQ methods report for {args.study} written: {out}")
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
    p = add_command(sub, "transcribe", _transcribe,
                    "transcribe an interview recording locally and pseudonymise it")
    p.add_argument("audio", help="the recording (.wav .mp3 .m4a .ogg .flac ...)")
    p.add_argument("--study", help="store the transcript in this study")
    p.add_argument("--participant", help="the participant's study pseudonym (with --study)")
    p.add_argument("--out", help="also write the pseudonymised transcript (.vtt or .txt)")
    p.add_argument("--speaker", action="append", default=[],
                   help="speaker name; twice for a stereo file: left channel, then right channel")
    p.add_argument("--language", help="spoken language code (e.g. fr, en); default: detected")
    p.add_argument("--title", help="transcript name (default: the audio file's name)")
    p.add_argument("--name", action="append", default=[], help="a name to replace (repeatable)")
    p.add_argument("--replacements", help="a reviewed replacement list (CSV) to apply as is")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: the library's)")
    p = add_command(sub, "methods-report", _methods_report,
                    "COREQ methods report of a study (coders, codebook, agreement) as HTML or PDF")
    p.add_argument("study", help="study code")
    p.add_argument("-o", "--output", required=True, help="OUT.html or OUT.pdf (the folder must exist)")
    p.add_argument("--show-code", action="store_true", help="keep the notebook's code cells")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
