"""`weshare audit verify|tail`."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from workbench.audit import AuditEntry, verify_chain
from workbench.cli._common import add_command, store_session


def _verify(args: argparse.Namespace) -> int:
    with store_session() as session:
        report = verify_chain(session)
    print(report)
    return 0 if report.ok else 1


def _tail(args: argparse.Namespace) -> int:
    with store_session() as session:
        rows = session.execute(
            select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(args.n)
        ).scalars().all()
        for e in reversed(rows):
            reason = f" ({e.reason})" if e.reason else ""
            print(f"{e.seq:>7} {e.at:%Y-%m-%d %H:%M:%S} {e.actor:<16} {e.action:<22} "
                  f"{e.object_type}:{e.object_id}{reason}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = commands.add_parser("audit", help="the hash-chained audit log")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    add_command(sub, "verify", _verify, "check the chain; report the first broken entry")
    p = add_command(sub, "tail", _tail, "show the newest entries")
    p.add_argument("-n", type=int, default=20)
