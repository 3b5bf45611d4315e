"""`weshare access list|show|review`: data stewards' view of access requests and projects.

Registered through the ``weshare.commands`` entry point, as governance sits above workbench.
"""

from __future__ import annotations

import argparse

from sqlalchemy import select

from secure_bubble.access import HubServers, get_request, stop_closed_project_spaces
from secure_bubble.committee import access_review
from workbench.cli._common import CLI_ACTOR, add_command, settings, store_session
from workbench.governance.models import AccessRequest, Project
from workbench.trusted_party import open_trusted_party


def _list(args: argparse.Namespace) -> int:
    with store_session() as session:
        for r in session.execute(select(AccessRequest).order_by(AccessRequest.id)).scalars():
            studies = ",".join(i.study_code for i in r.items)
            print(f"{r.id:>5} {r.status:<18} {r.requester:<16} {studies:<24} {r.title}")
        for p in session.execute(select(Project).order_by(Project.code)).scalars():
            print(f"{p.code:>12} {p.status:<10} expires {p.expires_at:%Y-%m-%d}  {p.title}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with store_session() as session:
        r = get_request(session, args.request)
        print(f"request {r.id}: {r.title}\n  status: {r.status}  purpose: {r.purpose}  funder: {r.funder}")
        print(f"  requester: {r.requester}  team: {', '.join(r.team)}  duration: {r.duration_months} months")
        print(f"  regulatory reference: {r.regulatory_ref}  tariff: {r.tariff.get('total')} EUR")
        for i in r.items:
            print(f"  - {i.study_code}: {', '.join(i.variables)} [sponsor: {i.sponsor_decision or 'pending'}]")
        for v in r.votes:
            print(f"  vote {v.committee}: {v.member} {v.vote} — {v.comment}")
        if r.decision_reason:
            print(f"  decision: {r.decision_reason}")
    return 0


def _review(args: argparse.Namespace) -> int:
    cfg = settings()
    tp = open_trusted_party(cfg)
    hub = HubServers.from_settings(cfg)
    try:
        with store_session(cfg) as session:
            expired = access_review(session, actor=CLI_ACTOR, trusted_party=tp)
        with store_session(cfg) as session:  # roles are revoked even if the hub is down
            stopped = stop_closed_project_spaces(session, hub, actor=CLI_ACTOR) if hub else []
    finally:
        tp.close()
    for e in expired:
        print(f"project {e.project} expired: revoked {', '.join(e.members) or 'no one'}")
    for s in stopped:
        print(f"project {s.project}: stopped {s.user}'s server, revoked {s.tokens_revoked} token(s)")
    print(f"{len(expired)} project(s) expired, {len(stopped)} project server(s) stopped")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    access = commands.add_parser("access", help="access requests and projects (data stewards)")
    sub = access.add_subparsers(dest="access_command", required=True, metavar="ACTION")
    add_command(sub, "list", _list, "list access requests and projects")
    p = add_command(sub, "show", _show, "show one access request")
    p.add_argument("request", type=int)
    add_command(sub, "review", _review, "expire projects past their date, revoke their roles, stop their servers")
