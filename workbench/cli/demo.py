"""`weshare demo`: seed demo data (idempotent) and print how to use it."""

from __future__ import annotations

import argparse

from sqlalchemy.engine import make_url

from workbench.cli._common import add_command, settings, store_session
from workbench.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
from workbench.errors import PermissionDenied
from workbench.keys import load_or_create_key
from workbench.participants.service import participant_link
from workbench.settings import Settings
from workbench.trusted_party import init_store, open_trusted_party


def _is_embedded_default(cfg: Settings) -> bool:
    return make_url(cfg.database_url).get_backend_name() == "sqlite" and str(cfg.home) in cfg.database_url


def _demo(args: argparse.Namespace) -> int:
    cfg = settings()
    if not cfg.demo:
        if not _is_embedded_default(cfg):
            raise PermissionDenied(
                "refusing to seed demo data into a non-embedded store; set WESHARE_DEMO=1 if you mean it"
            )
        # The embedded default instance is a demo instance: remember it next to its data.
        marker = cfg.home / "weshare.toml"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("# written by `weshare demo`: this embedded instance holds demo data\n"
                              "demo = true\n", encoding="utf-8")
    init_store(cfg, actor="demo-seed")  # no-op when the trusted party is already set up
    tp = open_trusted_party(cfg)
    try:
        with store_session(cfg) as session:
            summary = seed_demo(session, tp, participants=args.participants,
                                key=load_or_create_key(cfg.secret_key_file))
    finally:
        tp.close()
    if not args.quiet:
        created = ", ".join(summary.created_accounts) or "none (already seeded)"
        print(f"demo data ready: {summary.participants} participants, {summary.responses} new "
              f"questionnaire responses; accounts created: {created}")
        print(f"demo accounts (password for all: {DEMO_PASSWORD}):")
        for username, _name, roles in DEMO_ACCOUNTS:
            print(f"  {username:<18} {', '.join(roles)}")
        print("second-factor code for a staff account: .venv/bin/weshare totp USERNAME"
              "  (add --qr to enrol it in an authenticator app)")
        url = participant_link(cfg.public_url, summary.participant_token)
        print(f"participant {summary.participant_pseudonym} personal link: {url}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(commands, "demo", _demo, "seed demo accounts, studies and a synthetic cohort")
    p.add_argument("--participants", type=int, default=2000)
    p.add_argument("--quiet", action="store_true")
