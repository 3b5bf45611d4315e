"""The mail worker: queues each day's invitations and reminders, then delivers the outbox over SMTP.

The hub runs it as a managed service (``hub.services.mail_service``), so ``make up`` sends mail
without anyone running ``weshare mail send``. Each pass is its own transaction: a crash or an SMTP
outage leaves the mail queued, and the next pass (or a restarted worker) sends it. Reminders are
queued once per calendar day; their dedupe keys make a second worker or a restart harmless.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

from sqlalchemy.exc import SQLAlchemyError

from workbench.mail import Resolver, send_pending
from workbench.participants.reminders import queue_reminders
from workbench.portal.service import queue_appointment_reminders
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope

__all__ = ["deliver_once", "run_worker"]

Say = Callable[[str], None]


def deliver_once(settings: Settings, *, resolve: Resolver | None, key: bytes | None,
                 today: date | None) -> tuple[int, int]:
    """One pass: queue ``today``'s reminders (if ``today`` is given) and send; (queued, sent)."""
    engine = open_operational(settings)
    try:
        queued = 0
        if today is not None and key is not None:
            with session_scope(engine) as session:
                queued = queue_reminders(session, key=key, public_url=settings.public_url, today=today)
        with session_scope(engine) as session:
            queue_appointment_reminders(session)  # interviews in the next 24 h; never twice (dedupe keys)
            sent = send_pending(session, settings, resolve=resolve)
        return queued, sent
    finally:
        engine.dispose()


def run_worker(settings: Settings, *, resolve: Resolver | None, key: bytes | None, interval: float,
               stop: threading.Event, today: Callable[[], date] = date.today, say: Say = print) -> None:
    """Pass after pass until ``stop`` is set; an unavailable SMTP server or store is retried."""
    reminded: date | None = None  # the last day reminders were queued
    while not stop.is_set():
        day = today()
        try:
            queued, sent = deliver_once(settings, resolve=resolve, key=key,
                                        today=day if reminded != day else None)
            if reminded != day:
                reminded = day
                if queued:
                    say(f"mail worker: queued {queued} invitation(s) or reminder(s)")
            if sent:
                say(f"mail worker: sent {sent} message(s)")
        except OSError as exc:  # SMTP down: the mail stays queued
            say(f"mail worker: SMTP unavailable ({type(exc).__name__}); will retry")
        except SQLAlchemyError as exc:  # store briefly unavailable (restart, lock): try again
            say(f"mail worker: store unavailable ({type(exc).__name__}); will retry")
        stop.wait(interval)
