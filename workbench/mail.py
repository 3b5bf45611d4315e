"""Email through an outbox: queued in the caller's transaction, sent later by a worker over SMTP.

Queuing in the same transaction means a rolled-back change never sends mail, and a crashed worker
only delays it. Participant messages carry a pseudonym, not an address: the address is resolved at
send time by a resolver the trusted third party provides, so it never rests in the operational store.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workbench.errors import ValidationError
from workbench.settings import Settings
from workbench.storage.base import Base, UTCDateTime, utcnow

__all__ = ["MAX_ATTEMPTS", "OutboxMessage", "queue_email", "send_pending"]

MAX_ATTEMPTS = 5
# (pseudonym, domain, purpose) triples → {(pseudonym, domain): address}
Recipient = tuple[str, str, str]
Resolver = Callable[[list[Recipient]], dict[tuple[str, str], str]]


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str | None] = mapped_column(String(320))
    recipient_pseudonym: Mapped[str | None] = mapped_column(String(32))
    # Where the pseudonym lives ("study:CODE") and why we write: the trusted party checks the
    # person's opt-ins for that purpose before giving an address.
    recipient_domain: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


def queue_email(
    session: Session, *, subject: str, body: str, to: str | None = None,
    pseudonym: str | None = None, domain: str | None = None, purpose: str | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue one message; a repeated ``dedupe_key`` is a no-op (reminders are not sent twice)."""
    if (to is None) == (pseudonym is None):
        raise ValidationError("give exactly one of an address (staff) or a pseudonym", where="recipient")
    if pseudonym is not None and not (domain and purpose):
        raise ValidationError("a pseudonym needs its domain and the purpose of the message",
                              where="recipient")
    if dedupe_key and session.execute(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ).first():
        return None
    message = OutboxMessage(
        to_address=to, recipient_pseudonym=pseudonym, recipient_domain=domain, purpose=purpose,
        subject=subject, body=body, dedupe_key=dedupe_key,
    )
    session.add(message)
    session.flush()
    return message


def send_pending(
    session: Session, settings: Settings, *, resolve: Resolver | None = None, limit: int = 200
) -> int:
    """Send what is due; failures are retried up to ``MAX_ATTEMPTS`` with the error kept (no body logged)."""
    pending = list(
        session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
            .order_by(OutboxMessage.id)
            .limit(limit)
            # PostgreSQL: a second worker (or `weshare mail send` while the hub's worker runs) skips
            # the rows this one is sending instead of sending them again. SQLite serialises writers.
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not pending:
        return 0
    wanted = sorted({(m.recipient_pseudonym, m.recipient_domain or "", m.purpose or "")
                     for m in pending if m.recipient_pseudonym})
    addresses = resolve(wanted) if (wanted and resolve) else {}
    sent = 0
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
        for message in pending:
            if message.to_address is None and resolve is None:
                continue  # participant mail waits for a trusted-party resolver; no attempt spent
            to = message.to_address or addresses.get(
                (message.recipient_pseudonym or "", message.recipient_domain or ""))
            message.attempts += 1
            if not to:
                message.last_error = "no address for this recipient (opted out or unknown)"
                continue
            email = EmailMessage()
            email["From"] = settings.smtp_sender
            email["To"] = to
            email["Subject"] = message.subject
            email.set_content(message.body)
            try:
                smtp.send_message(email)
            except smtplib.SMTPException as exc:
                message.last_error = f"{type(exc).__name__}: {exc}"[:500]
                continue
            message.sent_at = utcnow()
            message.last_error = None
            sent += 1
    return sent
