"""`weshare consent verify STUDY`: recompute every signed PDF's hash against the record and the audit chain."""

from __future__ import annotations

import argparse

from workbench.cli._common import add_command, settings, store_session
from workbench.consent import verify_vault


def _verify(args: argparse.Namespace) -> int:
    cfg = settings()
    with store_session(cfg) as session:
        report = verify_vault(session, cfg.vault_dir, args.study)
    for problem in report.problems:
        print(problem)
    print(f"{report.checked} signed consent(s) checked: {'all intact' if report.ok else 'PROBLEMS FOUND'}")
    return 0 if report.ok else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    consent = commands.add_parser("consent", help="electronic consent records")
    sub = consent.add_subparsers(dest="consent_command", required=True, metavar="ACTION")
    p = add_command(sub, "verify", _verify, "check signed consent PDFs against their recorded hashes")
    p.add_argument("study")
