"""`weshare ttp init|verify|reidentify|purposes|reviews|rotate-master`: the trusted third party.

The master key file is ``--master-key``, else ``WESHARE_TTP_MASTER_KEY``, else
``<WESHARE_HOME>/ttp-master.key``. Identities are printed only by ``reidentify``, only for an
allowed purpose, and every call is audited in the trusted party's own log.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from workbench.cli._common import add_command, settings
from workbench.settings import Settings
from workbench.trusted_party import (
    CONTACT_PURPOSES,
    REIDENTIFY_PURPOSES,
    default_master_key_path,
    format_pseudonym,
    init_store,
    load_master_key,
    open_trusted_party,
    parse_pseudonym,
    rotate_master_key,
    verify_store,
)

KEY_VARIABLE = "WESHARE_TTP_MASTER_KEY"
Handler = Callable[[argparse.Namespace], int]


def _key_path(args: argparse.Namespace, cfg: Settings) -> Path:
    if args.master_key:
        return Path(args.master_key).expanduser()
    if os.environ.get(KEY_VARIABLE):
        return Path(os.environ[KEY_VARIABLE]).expanduser()
    return default_master_key_path(cfg)


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


def _init(args: argparse.Namespace) -> int:
    cfg = settings()
    path = _key_path(args, cfg)
    created = init_store(cfg, path, actor=_actor(args))
    where = make_url(cfg.trusted_party_url).render_as_string()
    if not created:
        print(f"trusted-party store already initialised: {where} (nothing changed)")
        return 0
    print(f"initialised the trusted-party store: {where}")
    print(f"master key: {path} (fingerprint {load_master_key(path).fingerprint})")
    print("back the key file up offline, apart from database backups: without it, "
          "no identity or pseudonym key can ever be recovered")
    return 0


def _verify(args: argparse.Namespace) -> int:
    cfg = settings()
    with open_trusted_party(cfg, _key_path(args, cfg)) as tp:
        report = verify_store(tp)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _reidentify(args: argparse.Namespace) -> int:
    cfg = settings()
    with open_trusted_party(cfg, _key_path(args, cfg)) as tp:
        who = tp.reidentify(args.pseudonym, args.domain, purpose=args.purpose, actor=_actor(args))
    print(f"pseudonym   {format_pseudonym(parse_pseudonym(args.pseudonym))} ({args.domain})")
    print(f"name        {who.first_name} {who.last_name}"
          + (f" (born {who.birth_name})" if who.birth_name else ""))
    print(f"born        {who.birth_date.isoformat()}   sex {who.sex}")
    for label, value in (("postcode", who.postcode), ("email", who.email),
                         ("phone", who.phone), ("language", who.language)):
        if value:
            print(f"{label:<11} {value}")
    prefs = [name for name, on in vars(who.contact).items() if on]
    print(f"contact     {', '.join(prefs) or 'none'}")
    return 0


def _purposes(args: argparse.Namespace) -> int:
    for title, table in (("re-identification", REIDENTIFY_PURPOSES),
                         ("contact lookup", CONTACT_PURPOSES)):
        print(f"{title}:")
        for name, spec in table.items():
            kinds = "/".join(sorted(spec.kinds))
            print(f"  {name:<26} [{kinds}] {spec.en}")
            print(f"  {'':<26} {' ' * (len(kinds) + 2)} {spec.fr}")
    return 0


def _reviews(args: argparse.Namespace) -> int:
    cfg = settings()
    with open_trusted_party(cfg, _key_path(args, cfg)) as tp:
        rows = tp.duplicate_reviews(status=args.status)
    for r in rows:
        print(f"{r.id:>6} {r.score:.2f} {r.created_at:%Y-%m-%d} {r.status:<9} {r.reasons}")
    print(f"{len(rows)} review(s) {args.status}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    cfg = settings()
    with open_trusted_party(cfg, _key_path(args, cfg)) as tp:
        new = rotate_master_key(tp, Path(args.new_key).expanduser(), actor=_actor(args))
    print(f"every stored key is now wrapped under {new.path} (fingerprint {new.fingerprint})")
    print(f"point {KEY_VARIABLE} (or the default path) at it; keep the old key file as long as "
          "database backups made before now")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ttp = commands.add_parser("ttp", help="the trusted third party (identities, pseudonym keys)")
    sub = ttp.add_subparsers(dest="ttp_command", required=True, metavar="ACTION")

    def cmd(name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        parser = add_command(sub, name, handler, text)
        parser.add_argument("--master-key", metavar="PATH", help=(
            f"master key file (default ${KEY_VARIABLE}, else <home>/ttp-master.key)"))
        parser.add_argument("--actor", help="who acts, for the audit log (default cli:$USER)")
        return parser

    cmd("init", _init, "create the trusted-party store and its master key file")
    cmd("verify", _verify, "check the audit chain, every pseudonym and every sealed identity")
    p = cmd("reidentify", _reidentify, "print the identity behind a pseudonym (allowed purposes)")
    p.add_argument("pseudonym")
    p.add_argument("--domain", required=True, help="study:CODE, warehouse or project:ID")
    p.add_argument("--purpose", required=True, help="see `weshare ttp purposes`")
    add_command(sub, "purposes", _purposes, "list the purposes allowed per domain")
    p = cmd("reviews", _reviews, "list possible duplicate persons awaiting review")
    p.add_argument("--status", default="open", choices=["open", "same", "different", "erased"])
    p = cmd("rotate-master", _rotate, "re-wrap every stored key under a new master key file")
    p.add_argument("--new-key", required=True, metavar="PATH", help="file to create (mode 0600)")
