"""`weshare user add|list|roles|grant|revoke|link` and `weshare totp USER` (demo only)."""

from __future__ import annotations

import argparse
import sys

from workbench import accounts
from workbench.accounts import totp
from workbench.cli._common import CLI_ACTOR, add_command, settings, store_session
from workbench.errors import PermissionDenied, ValidationError
from workbench.storage.base import utcnow


def _add(args: argparse.Namespace) -> int:
    cfg = settings()
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    with store_session(cfg) as session:
        user = accounts.add_user(
            session, args.username, actor=CLI_ACTOR, display_name=args.name or "",
            email=args.email, password=password, roles=args.role,
        )
        token = accounts.issue_link(
            session, user.username, "enrol", actor=CLI_ACTOR, minutes=args.link_minutes
        )
    print(f"created {args.username} with roles: {', '.join(args.role) or '(none)'}")
    print("enrolment link (set a password and register the authenticator app; single use):")
    print("  " + accounts.link_url(cfg.public_url, "enrol", token))
    return 0


def _list(args: argparse.Namespace) -> int:
    with store_session() as session:
        for user in accounts.list_users(session):
            labels = ", ".join(sorted(a.label() for a in user.roles)) or "-"
            state = "locked" if user.locked_until and user.locked_until > utcnow() else "active"
            second = "totp" if user.totp_secret else "no-2fa"
            print(f"{user.username:<24} {state:<7} {second:<7} {labels}")
    return 0


def _roles(args: argparse.Namespace) -> int:
    with store_session() as session:
        user = accounts.get_user(session, args.username)
        for a in sorted(user.roles, key=lambda a: a.label()):
            print(f"{a.label():<40} granted by {a.granted_by} on {a.granted_at:%Y-%m-%d}")
    return 0


def _grant(args: argparse.Namespace) -> int:
    with store_session() as session:
        accounts.grant_role(session, args.username, args.role, actor=CLI_ACTOR)
    print(f"granted {args.role} to {args.username}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise ValidationError("a reason is required", where="--reason")
    with store_session() as session:
        accounts.revoke_role(session, args.username, args.role, actor=CLI_ACTOR, reason=args.reason)
    print(f"revoked {args.role} from {args.username}")
    return 0


def _link(args: argparse.Namespace) -> int:
    cfg = settings()
    with store_session(cfg) as session:
        token = accounts.issue_link(session, args.username, args.purpose, actor=CLI_ACTOR)
    print(accounts.link_url(cfg.public_url, args.purpose, token))
    return 0


def _totp(args: argparse.Namespace) -> int:
    cfg = settings()
    if not cfg.demo:
        raise PermissionDenied("`weshare totp` only works on a demo instance (WESHARE_DEMO=1)")
    with store_session(cfg) as session:
        user = accounts.get_user(session, args.username)
        if not user.totp_secret:
            raise ValidationError(f"{args.username} has no second factor enrolled", where="totp")
        if args.qr:
            print(totp.qr_text(totp.provisioning_uri(user.totp_secret, user.username)))
        print(totp.current_code(user.totp_secret, utcnow()))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = commands.add_parser("user", help="accounts and roles")
    sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    p = add_command(sub, "add", _add, "create an account and print its enrolment link")
    p.add_argument("username")
    p.add_argument("--role", action="append", default=[], help="ROLE or ROLE:SCOPE_TYPE:SCOPE_ID")
    p.add_argument("--email")
    p.add_argument("--name")
    p.add_argument("--password-stdin", action="store_true", help="read a password from stdin")
    p.add_argument("--link-minutes", type=int, default=7 * 24 * 60)
    add_command(sub, "list", _list, "list accounts with their state and roles")
    p = add_command(sub, "roles", _roles, "show a user's roles")
    p.add_argument("username")
    p = add_command(sub, "grant", _grant, "grant a role")
    p.add_argument("username")
    p.add_argument("role")
    p = add_command(sub, "revoke", _revoke, "revoke a role (with a reason)")
    p.add_argument("username")
    p.add_argument("role")
    p.add_argument("--reason", required=True)
    p = add_command(sub, "link", _link, "issue a one-time enrolment or password-reset link")
    p.add_argument("username")
    p.add_argument("purpose", choices=["enrol", "reset"])
    p = add_command(commands, "totp", _totp, "print a user's current TOTP code (demo mode only)")
    p.add_argument("username")
    p.add_argument("--qr", action="store_true", help="also print the enrolment QR code")
