"""`weshare mail send|remind|worker`: deliver the outbox through SMTP (the hub runs the worker)."""

from __future__ import annotations

import argparse
import signal
import threading

from workbench.cli._common import add_command, settings, store_session
from workbench.contact import trusted_party_resolver
from workbench.errors import WorkbenchError
from workbench.keys import load_or_create_key
from workbench.mail import Resolver, send_pending
from workbench.mail_worker import run_worker
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
    """Run until SIGTERM or SIGINT (what the hub sends its managed services), then exit cleanly."""
    cfg = settings()
    resolve = _resolver(cfg)
    key = None if args.no_remind else load_or_create_key(cfg.secret_key_file)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"mail worker: delivering the outbox to {cfg.smtp_host}:{cfg.smtp_port} every "
          f"{args.interval:g} s", flush=True)
    run_worker(cfg, resolve=resolve, key=key, interval=args.interval, stop=stop,
               say=lambda text: print(text, flush=True))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mail = commands.add_parser("mail", help="the email outbox")
    sub = mail.add_subparsers(dest="mail_command", required=True, metavar="ACTION")
    add_command(sub, "send", _send, "send queued messages once")
    add_command(sub, "remind", _remind, "queue today's invitations and reminders for due questionnaires")
    p = add_command(sub, "worker", _worker,
                    "queue each day's invitations and reminders, send queued messages every few seconds")
    p.add_argument("--interval", type=float, default=10.0)
    p.add_argument("--no-remind", action="store_true",
                   help="only send; do not queue the day's invitations and reminders")
