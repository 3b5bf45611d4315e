"""`weshare mail send|worker`: deliver the outbox through SMTP."""

from __future__ import annotations

import argparse
import time

from workbench.cli._common import add_command, settings, store_session
from workbench.contact import trusted_party_resolver
from workbench.errors import WorkbenchError
from workbench.keys import load_or_create_key
from workbench.mail import Resolver, send_pending
from workbench.participants.reminders import queue_reminders
from workbench.settings import Settings
from workbench.trusted_party import open_trusted_party


def _resolver(cfg: Settings) -> Resolver | None:
    """The trusted party's address lookup, or None where it is not set up (staff mail still goes)."""
    try:
        tp = open_trusted_party(cfg)
    except WorkbenchError as exc:
        print(f"participant mail stays queued: {exc}")
        return None
    return trusted_party_resolver(tp, actor="mail-worker")


def _send(args: argparse.Namespace) -> int:
    cfg = settings()
    resolve = _resolver(cfg)
    with store_session(cfg) as session:
        sent = send_pending(session, cfg, resolve=resolve)
    print(f"sent {sent} message(s)")
    return 0


def _remind(args: argparse.Namespace) -> int:
    cfg = settings()
    with store_session(cfg) as session:
        queued = queue_reminders(session, key=load_or_create_key(cfg.secret_key_file),
                                 public_url=cfg.public_url)
    print(f"queued {queued} invitation(s) or reminder(s)")
    return 0


def _worker(args: argparse.Namespace) -> int:
    cfg = settings()
    resolve = _resolver(cfg)
    while True:
        try:
            with store_session(cfg) as session:
                send_pending(session, cfg, resolve=resolve)
        except OSError as exc:  # SMTP server down: keep the mail queued and try again later
            print(f"mail worker: SMTP unavailable ({exc}); will retry", flush=True)
        time.sleep(args.interval)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mail = commands.add_parser("mail", help="the email outbox")
    sub = mail.add_subparsers(dest="mail_command", required=True, metavar="ACTION")
    add_command(sub, "send", _send, "send queued messages once")
    add_command(sub, "remind", _remind, "queue today's invitations and reminders for due questionnaires")
    p = add_command(sub, "worker", _worker, "send queued messages every few seconds")
    p.add_argument("--interval", type=float, default=10.0)
