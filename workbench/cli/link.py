"""`weshare link snds|review|decide`: indirect linkage with SNDS-shaped data, run by the trusted party."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import CLI_ACTOR, add_command, settings, store_session
from workbench.linkage.run import run_snds_linkage, weights_table
from workbench.trusted_party import open_trusted_party
from workbench.trusted_party.links import decide, review_queue


def _snds(args: argparse.Namespace) -> int:
    cfg = settings()
    with open_trusted_party(cfg) as tp, store_session(cfg) as session:
        summary = run_snds_linkage(session, tp, args.study.upper(), Path(args.extract), run_id=args.run,
                                   purpose=args.purpose, actor=args.actor, accept=args.accept, review=args.review)
    metrics = summary["metrics"]
    print(f"run {summary['run']}: {metrics['with_variables']} of {metrics['participants']} participants compared, "
          f"{metrics['pairs_scored']} pairs scored")
    print(f"linked {summary['counts'].get('linked', 0)} (evidence ≥ {args.accept:g} bits), "
          f"{summary['counts'].get('review', 0)} for clerical review ({args.review:g}–{args.accept:g} bits); "
          "the link table stays with the trusted party")
    print(weights_table(summary).to_string(index=False))
    return 0


def _review(args: argparse.Namespace) -> int:
    with open_trusted_party(settings()) as tp:
        queue = review_queue(tp, args.run, actor=args.actor)
    print(f"run {args.run}: {len(queue)} pair(s) awaiting clerical review "
          "(decide with `weshare link decide LINK-ID --same | --different`)")
    for row in queue:
        print(format_pair(row))
    return 0


def format_pair(row: dict[str, Any]) -> str:
    """One uncertain pair: its evidence, then each comparison's two values, level and weight."""
    lines = [f"link {row['id']}: evidence {row['evidence_bits']:.2f} bits"]
    if not row["comparisons"]:
        lines.append("  (compared values not kept: run made before trusted-party schema 4)")
        return "\n".join(lines)
    lines.append(f"  {'comparison':<12} {'study':<12} {'SNDS':<12} {'weight':>8}  level")
    for c in row["comparisons"]:
        weight = "?" if c["weight"] is None else f"{c['weight']:+.2f}"
        lines.append(f"  {c['comparison']:<12} {c['study'] or '—':<12} {c['snds'] or '—':<12} "
                     f"{weight:>8}  {c['level']}")
    return "\n".join(lines)


def _decide(args: argparse.Namespace) -> int:
    with open_trusted_party(settings()) as tp:
        decide(tp, args.link, same_person=args.same, actor=args.actor)
    print(f"link {args.link}: {'confirmed' if args.same else 'rejected'}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(commands, "link", lambda a: a.parser.print_help() or 2,
                    "probabilistic linkage with SNDS-shaped data (run by the trusted party)")
    p.set_defaults(parser=p)
    sub = p.add_subparsers(dest="action")
    run = add_command(sub, "snds", _snds, "link a study cohort with an SNDS-shaped extract")
    run.add_argument("--study", required=True)
    run.add_argument("--extract", required=True, help="folder with IR_BEN_R.csv, T_MCOC.csv, T_MCOB.csv, ER_PRS_F.csv")
    run.add_argument("--run", required=True, help="an id for this run")
    run.add_argument("--purpose", required=True, help="the authorised purpose (e.g. the CNIL decision)")
    run.add_argument("--accept", type=float, default=14.0, help="evidence in bits to accept a link")
    run.add_argument("--review", type=float, default=8.0, help="evidence in bits to send a pair to review")
    run.add_argument("--actor", default=CLI_ACTOR)
    rev = add_command(sub, "review", _review,
                      "pairs awaiting clerical review, with the compared values and weights side by side")
    rev.add_argument("run")
    rev.add_argument("--actor", default=CLI_ACTOR)
    dec = add_command(sub, "decide", _decide, "record a clerical review decision")
    dec.add_argument("link", type=int)
    group = dec.add_mutually_exclusive_group(required=True)
    group.add_argument("--same", action="store_true")
    group.add_argument("--different", action="store_true")
    dec.add_argument("--actor", default=CLI_ACTOR)
