"""Participant accounts: an invitation link, then a password or a one-time code sent by e-mail.

The study team invites a participant; the link lets the person choose a username and, if they
want, a password (otherwise they sign in with a code e-mailed each time). The address is never in
the operational store: mail is queued to the study pseudonym with the purpose ``account_access``
and the trusted party resolves it at send time. Codes are stored as an HMAC under the server key,
expire after ten minutes, die after three wrong tries, and their text is removed from the outbox
once used or replaced. Wrong codes and wrong passwords share the account lockout with exponential
back-off (``workbench.accounts.LockoutPolicy``); every refusal says the same generic thing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workbench import audit
from workbench.accounts.login import LockoutPolicy, authenticate
from workbench.accounts.models import Role, RoleAssignment, User
from workbench.accounts.passwords import verify_password
from workbench.accounts.service import add_user
from workbench.errors import AuthError, ConflictError, NotFoundError
from workbench.mail import OutboxMessage, queue_email
from workbench.participants.models import Participant
from workbench.participants.service import FORMS_ACCOUNT
from workbench.portal.account_models import LoginCode, PortalInvitation, PortalMembership
from workbench.storage.base import utcnow
from workbench.studies.models import Study

__all__ = ["ACCOUNT_FORM", "CODE_MINUTES", "accept_invitation", "attach_invitation", "invitation_status",
           "invitation_url", "invite",
           "login_with_code", "login_with_password", "memberships", "open_invitation", "request_login_code"]

ACCOUNT_FORM = FORMS_ACCOUNT
PURPOSE = "account_access"
INVITE_DAYS = 14
CODE_MINUTES = 10
CODE_TRIES = 3
RESEND_SECONDS = 60
REDACTED = "[code supprimé après usage / code removed after use]"
TEXT = {
    "fr": {"invite_subject": "Votre espace participant WeShare",
           "invite": "Bonjour,\n\nL'équipe de l'étude {study} vous invite à ouvrir votre espace participant : "
                     "vos questionnaires, vos consentements, les résultats et vos droits.\n\n"
                     "Ouvrir mon espace : {link}\n\nCe lien est personnel et valable {days} jours.",
           "code_subject": "Votre code de connexion WeShare",
           "code": "Bonjour,\n\nVotre code de connexion : {code}\n\nIl est valable {minutes} minutes. "
                   "Si vous ne l'avez pas demandé, ignorez ce message."},
    "en": {"invite_subject": "Your WeShare participant space",
           "invite": "Hello,\n\nThe {study} study team invites you to open your participant space: your "
                     "questionnaires, your consents, the results and your rights.\n\n"
                     "Open my space: {link}\n\nThis link is personal and valid for {days} days.",
           "code_subject": "Your WeShare sign-in code",
           "code": "Hello,\n\nYour sign-in code: {code}\n\nIt is valid for {minutes} minutes. "
                   "If you did not ask for it, ignore this message."},
}


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _mac(key: bytes, user_id: int, nonce: str, code: str) -> str:
    return hmac.new(key, f"portal-login-code:{user_id}:{nonce}:{code}".encode(), hashlib.sha256).hexdigest()


def _domain(session: Session, participant: Participant) -> tuple[str, str]:
    code = session.execute(select(Study.code).where(Study.id == participant.study_id)).scalar_one()
    return code, f"study:{code}"


def invitation_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{ACCOUNT_FORM}?{urlencode({'invite': token})}"


def invite(session: Session, participant: Participant, *, actor: str, public_url: str,
           days: int = INVITE_DAYS, now: datetime | None = None) -> str:
    """Queue an invitation e-mail to this participation; earlier unused invitations stop working."""
    if participant.status != "active":
        raise ConflictError(f"participant {participant.pseudonym} is {participant.status}: no invitation")
    if session.execute(select(PortalMembership.id).where(
            PortalMembership.participant_id == participant.id)).first():
        raise ConflictError(f"participant {participant.pseudonym} already has a portal account")
    at = now or utcnow()
    session.execute(update(PortalInvitation).where(PortalInvitation.participant_id == participant.id,
                                                   PortalInvitation.used_at.is_(None)).values(used_at=at))
    token = secrets.token_urlsafe(32)
    invitation = PortalInvitation(participant_id=participant.id, token_hash=_sha(token), created_by=actor,
                                  created_at=at, expires_at=at + timedelta(days=days))
    session.add(invitation)
    session.flush()
    study, domain = _domain(session, participant)
    t = TEXT["en" if participant.language == "en" else "fr"]
    queue_email(session, pseudonym=participant.pseudonym, domain=domain, purpose=PURPOSE,
                subject=t["invite_subject"],
                body=t["invite"].format(study=study, link=invitation_url(public_url, token), days=days),
                dedupe_key=f"portal-invite:{invitation.id}")
    audit.record(session, actor=actor, action="portal.invite", object_type="participant",
                 object_id=participant.pseudonym, after={"valid_days": days}, at=at)
    return token


def _invitation(session: Session, token: str, at: datetime) -> tuple[PortalInvitation, Participant]:
    row = session.execute(select(PortalInvitation).where(PortalInvitation.token_hash == _sha(token or ""))
                          ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= at:
        raise NotFoundError("this invitation is unknown, expired or already used; ask the study team for a new one")
    participant = session.get(Participant, row.participant_id)
    assert participant is not None
    return row, participant


def open_invitation(session: Session, token: str, *, now: datetime | None = None) -> tuple[str, str, str]:
    """(study code, study title, language) of a valid invitation, for the welcome screen."""
    _row, participant = _invitation(session, token, now or utcnow())
    study = session.get(Study, participant.study_id)
    assert study is not None
    return study.code, study.title, participant.language


def _link(session: Session, invitation: PortalInvitation, participant: Participant, user: User,
          at: datetime) -> None:
    study, _domain_name = _domain(session, participant)
    if not any(a.role == Role.PARTICIPANT and a.scope_id == study for a in user.roles):
        user.roles.append(RoleAssignment(role=Role.PARTICIPANT.value, scope_type="study", scope_id=study,
                                         granted_by="invitation"))
    session.add(PortalMembership(user_id=user.id, participant_id=participant.id, linked_at=at))
    invitation.used_at = at
    session.flush()
    audit.record(session, actor=user.username, action="portal.account.link", object_type="participant",
                 object_id=participant.pseudonym, after={"account": user.username}, at=at)


def accept_invitation(session: Session, token: str, *, username: str, password: str | None = None,
                      now: datetime | None = None) -> User:
    """Open the account; without a password the person signs in with e-mailed codes only."""
    at = now or utcnow()
    invitation, participant = _invitation(session, token, at)
    user = add_user(session, username, actor=username, password=password or None)
    _link(session, invitation, participant, user, at)
    return user


def attach_invitation(session: Session, token: str, user: User, *, now: datetime | None = None) -> None:
    """An account holder adds another study to the account they are signed in to."""
    at = now or utcnow()
    invitation, participant = _invitation(session, token, at)
    _link(session, invitation, participant, user, at)


def memberships(session: Session, user: User) -> list[Participant]:
    """The participations this account holds, oldest first."""
    return list(session.execute(
        select(Participant).join(PortalMembership, PortalMembership.participant_id == Participant.id)
        .where(PortalMembership.user_id == user.id).order_by(PortalMembership.linked_at, PortalMembership.id)
    ).scalars())


def _portal_user(session: Session, username: str) -> User | None:
    user = session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()
    if user is None or not user.active or user.is_staff or not memberships(session, user):
        return None
    return user


def _redact(session: Session, code_ids: list[int]) -> None:
    if code_ids:
        session.execute(update(OutboxMessage).where(
            OutboxMessage.dedupe_key.in_([f"portal-code:{i}" for i in code_ids])).values(body=REDACTED))


def request_login_code(session: Session, username: str, *, key: bytes, now: datetime | None = None) -> None:
    """E-mail a code if the account exists and may sign in; says nothing either way (no account probing)."""
    at = now or utcnow()
    user = _portal_user(session, username)
    refusal = None
    if user is None:
        refusal = "no portal account"
    elif user.locked_until is not None and user.locked_until > at:
        refusal = f"locked until {user.locked_until.isoformat()}"
    else:
        last = session.execute(select(LoginCode.created_at).where(LoginCode.user_id == user.id)
                               .order_by(LoginCode.id.desc()).limit(1)).scalar_one_or_none()
        if last is not None and (at - last).total_seconds() < RESEND_SECONDS:
            refusal = "a code was sent less than a minute ago"
    if refusal is not None or user is None:
        audit.record(session, actor=username or "-", action="portal.code.refused", object_type="user",
                     object_id=username or "-", reason=refusal, at=at)
        return
    old = list(session.execute(select(LoginCode).where(LoginCode.user_id == user.id,
                                                       LoginCode.used_at.is_(None))).scalars())
    for row in old:
        row.used_at = at
    _redact(session, [row.id for row in old])
    code, nonce = f"{secrets.randbelow(10 ** 6):06d}", secrets.token_hex(16)
    row = LoginCode(user_id=user.id, nonce=nonce, code_hmac=_mac(key, user.id, nonce, code), created_at=at,
                    expires_at=at + timedelta(minutes=CODE_MINUTES))
    session.add(row)
    session.flush()
    people = memberships(session, user)
    person = next((p for p in reversed(people) if p.status == "active"), people[-1])
    _study, domain = _domain(session, person)
    t = TEXT["en" if person.language == "en" else "fr"]
    queue_email(session, pseudonym=person.pseudonym, domain=domain, purpose=PURPOSE, subject=t["code_subject"],
                body=t["code"].format(code=code, minutes=CODE_MINUTES), dedupe_key=f"portal-code:{row.id}")
    audit.record(session, actor=user.username, action="portal.code.issue", object_type="user",
                 object_id=user.username, after={"valid_minutes": CODE_MINUTES}, at=at)


def _refuse(session: Session, username: str, reason: str, at: datetime) -> AuthError:
    audit.record(session, actor=username or "-", action="login.failed", object_type="user",
                 object_id=username or "-", reason=reason, after={"source": "portal"}, at=at)
    return AuthError(reason)


def login_with_code(session: Session, username: str, code: str, *, key: bytes,
                    policy: LockoutPolicy | None = None, now: datetime | None = None) -> User:
    """The account behind a valid code, or ``AuthError``; commit even when it raises (lockout is kept)."""
    policy = policy or LockoutPolicy()
    at = now or utcnow()
    user = _portal_user(session, username)
    if user is None:
        raise _refuse(session, username, "no portal account", at)
    if user.locked_until is not None and user.locked_until > at:
        raise _refuse(session, username, f"locked until {user.locked_until.isoformat()}", at)
    row = session.execute(select(LoginCode).where(LoginCode.user_id == user.id, LoginCode.used_at.is_(None))
                          .order_by(LoginCode.id.desc()).limit(1)).scalar_one_or_none()
    typed = code.strip().replace(" ", "")
    reason = None
    if row is None or row.expires_at <= at:
        reason = "no valid code (expired or never sent)"
    elif not hmac.compare_digest(row.code_hmac, _mac(key, user.id, row.nonce, typed)):
        reason = "wrong code"
        row.attempts += 1
        if row.attempts >= CODE_TRIES:
            row.used_at = at
            _redact(session, [row.id])
            reason += f"; code cancelled after {CODE_TRIES} wrong tries"
    if reason is not None:
        user.failed_logins += 1
        lock = policy.lock_for(user.failed_logins)
        if lock is not None:
            user.locked_until = at + lock
            reason += f"; locked for {int(lock.total_seconds())} s after {user.failed_logins} failures"
        session.flush()
        raise _refuse(session, username, reason, at)
    assert row is not None
    row.used_at = at
    _redact(session, [row.id])
    user.failed_logins, user.locked_until = 0, None
    audit.record(session, actor=user.username, action="login", object_type="user", object_id=user.username,
                 after={"source": "portal", "method": "e-mailed code"}, at=at)
    session.flush()
    return user


def login_with_password(session: Session, username: str, password: str, *, policy: LockoutPolicy | None = None,
                        now: datetime | None = None) -> User:
    """Password sign-in for participant accounts (staff use the hub, with their second factor)."""
    at = now or utcnow()
    if _portal_user(session, username) is None:
        verify_password(None, password)  # same cost as a real check
        raise _refuse(session, username, "no portal account", at)
    return authenticate(session, username.strip(), password, source="portal", policy=policy, now=at)


def invitation_status(session: Session, study_code: str, *, now: datetime | None = None) -> list[tuple[str, str]]:
    """(pseudonym, state) of a study's active participants: "account", "invited" (pending) or "none"."""
    at = now or utcnow()
    rows = session.execute(
        select(Participant.pseudonym, PortalMembership.id, PortalInvitation.id)
        .join(Study, Study.id == Participant.study_id)
        .outerjoin(PortalMembership, PortalMembership.participant_id == Participant.id)
        .outerjoin(PortalInvitation, (PortalInvitation.participant_id == Participant.id)
                   & PortalInvitation.used_at.is_(None) & (PortalInvitation.expires_at > at))
        .where(Study.code == study_code, Participant.status == "active").order_by(Participant.pseudonym)).all()
    return [(p, "account" if m else "invited" if i else "none") for p, m, i in rows]
