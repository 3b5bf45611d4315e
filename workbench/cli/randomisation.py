"""`weshare randomisation commit|allocate|correct|verify` on files: the auditor's verifier.

Works on a design (JSON, holds the secret seed), a commitment (JSON) and an allocation log (JSON
lines, one record per line, append-only), so a statistician or auditor can check an exported
randomisation without any database. The workbench's stores call the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from workbench.cli._common import add_command, settings, store_session
from workbench.errors import ConflictError, ValidationError
from workbench.keys import load_or_create_key
from workbench.randomisation import (
    AllocationRecord,
    Commitment,
    Design,
    Randomiser,
    commit,
    verify,
    view_allocation,
)
from workbench.randomisation.store import verify_study


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read ({exc.strerror})", where=f"{what} {path}") from None


def _design(path: str) -> Design:
    return Design.from_json(_read(path, "design"))


def _commitment(path: str) -> Commitment:
    try:
        return Commitment.from_dict(json.loads(_read(path, "commitment")))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON ({exc.msg})", where=f"commitment {path}") from None


def _log(path: str) -> list[AllocationRecord]:
    if not Path(path).exists():
        return []
    records = []
    for number, line in enumerate(_read(path, "log").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(AllocationRecord.from_dict(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not valid JSON ({exc.msg})", where=f"{path} line {number}") from None
    return records


def _write_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _commit(args: argparse.Namespace) -> int:
    design = _design(args.design)
    out = Path(args.out)
    if out.exists():
        raise ConflictError(f"{out} exists; a commitment is made once, before the first allocation")
    commitment = commit(design, at=datetime.now(UTC))
    _write_atomic(out, json.dumps(commitment.to_dict(), indent=2) + "\n")
    print(f"commitment {commitment.digest}")
    print(f"written to {out}; publish the digest (protocol record, DMC) before the first allocation")
    return 0


def _parse_levels(pairs: list[str]) -> dict[str, str]:
    levels = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValidationError("use FACTOR=LEVEL", where=f"--level {pair}")
        levels[name.strip()] = value.strip()
    return levels


def _allocate(args: argparse.Namespace) -> int:
    design, commitment = _design(args.design), _commitment(args.commitment)
    log_path = Path(args.log)
    randomiser = Randomiser(design, commitment, _log(args.log))
    record = randomiser.allocate(args.participant, _parse_levels(args.level), eligible=args.eligible,
                                 actor=args.actor, at=datetime.now(UTC))
    _append_line(log_path, record)
    view = view_allocation(design, record, args.role)
    print(f"allocation {record.seq}: {view.participant} — {view.label()}")
    return 0


def _append_line(log_path: Path, record: AllocationRecord) -> None:
    existing = log_path.read_text(encoding="utf-8") if log_path.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    line = json.dumps(record.to_dict(), sort_keys=True, ensure_ascii=False)
    _write_atomic(log_path, existing + line + "\n")


def _correct(args: argparse.Namespace) -> int:
    design, commitment = _design(args.design), _commitment(args.commitment)
    randomiser = Randomiser(design, commitment, _log(args.log))
    record = randomiser.correct(args.participant, _parse_levels(args.level), reason=args.reason,
                                actor=args.actor, at=datetime.now(UTC))
    _append_line(Path(args.log), record)
    print(f"record {record.seq}: baseline of {record.participant} corrected (allocation "
          f"{record.corrects}); the arm is unchanged")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if len(args.target) == 1:  # a study code: everything comes from the store
        cfg = settings()
        with store_session(cfg) as session:
            report = verify_study(session, args.target[0].upper(),
                                  key=load_or_create_key(cfg.secret_key_file))
    elif len(args.target) == 3:
        design, commitment, log = args.target
        report = verify(_design(design), _commitment(commitment), _log(log), head=args.head)
    else:
        raise ValidationError("give a STUDY code, or DESIGN COMMITMENT LOG files", where="verify")
    if not report.ok:
        raise ConflictError(str(report))
    print(report)
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = commands.add_parser("randomisation", help="commit, allocate and verify randomisations (a study in the store, or files)")
    sub = group.add_subparsers(dest="randomisation_command", required=True, metavar="ACTION")
    p = add_command(sub, "commit", _commit, "compute and write the commitment of a design")
    p.add_argument("design")
    p.add_argument("--out", required=True, help="commitment file to create")
    p = add_command(sub, "allocate", _allocate, "randomise one participant into a JSON-lines log")
    p.add_argument("design")
    p.add_argument("commitment")
    p.add_argument("log")
    p.add_argument("participant", help="study pseudonym")
    p.add_argument("--level", action="append", default=[], help="FACTOR=LEVEL (repeat)")
    p.add_argument("--eligible", action="store_true", help="eligibility and consent are recorded")
    p.add_argument("--actor", required=True)
    p.add_argument("--role", action="append", default=[], help="caller's role(s): decides if the arm is shown")
    p = add_command(sub, "correct", _correct, "record corrected baseline values (the arm never changes)")
    p.add_argument("design")
    p.add_argument("commitment")
    p.add_argument("log")
    p.add_argument("participant")
    p.add_argument("--level", action="append", default=[], help="FACTOR=LEVEL, every factor (repeat)")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", required=True)
    p = add_command(sub, "verify", _verify,
                    "recompute the list from the committed parameters and check every allocation "
                    "(STUDY from the store, or DESIGN COMMITMENT LOG files)")
    p.add_argument("target", nargs="+", metavar="STUDY | DESIGN COMMITMENT LOG")
    p.add_argument("--head", help="hash of the newest record, kept elsewhere (detects truncation)")
