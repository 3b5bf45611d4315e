"""`weshare synth cohort DIR` and `weshare synth identities FILE`: synthetic data on disk.

The two outputs are deliberately separate commands and separate places: the cohort is
pseudonymous, the identities belong to the trusted third party only.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from workbench.cli._common import add_command
from workbench.synth import CohortSpec
from workbench.synth.export import FORMATS, read_spec, write_cohort, write_identities


def _spec(args: argparse.Namespace) -> CohortSpec:
    spec = read_spec(Path(args.spec)) if args.spec else CohortSpec()
    if getattr(args, "truth", False):
        spec = dataclasses.replace(spec, include_truth=True)
    return spec


def _cohort(args: argparse.Namespace) -> int:
    spec = _spec(args)
    counts = write_cohort(Path(args.out_dir), args.participants, seed=args.seed, spec=spec,
                          chunk_size=args.chunk_size, fmt=args.format)
    print(f"wrote a synthetic cohort of {args.participants} participants (seed {args.seed}) "
          f"to {args.out_dir}")
    for name, rows in counts.items():
        print(f"  {name:<13} {rows:>12,} rows")
    return 0


def _identities(args: argparse.Namespace) -> int:
    rows = write_identities(Path(args.out_file), args.participants, seed=args.seed,
                            spec=_spec(args), chunk_size=args.chunk_size)
    print(f"wrote {rows:,} synthetic identities to {args.out_file} "
          "(trusted third party only: keep apart from the pseudonymous cohort)")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--participants", "-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=10_000,
                        help="participants generated at a time (memory, not content)")
    parser.add_argument("--spec", help="JSON file of CohortSpec fields, or a data set's "
                        "manifest.json to regenerate it exactly")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    synth = commands.add_parser("synth", help="synthetic oncology QoL data")
    sub = synth.add_subparsers(dest="synth_command", required=True, metavar="ACTION")
    p = add_command(sub, "cohort", _cohort,
                    "write a pseudonymous synthetic cohort (one file per table + manifest.json)")
    p.add_argument("out_dir", help="new or empty directory")
    _common(p)
    p.add_argument("--format", choices=FORMATS, default="parquet")
    p.add_argument("--truth", action="store_true",
                   help="also write the latent true scale scores behind every assessment")
    p = add_command(sub, "identities", _identities,
                    "write synthetic identities for the trusted third party (.parquet or .csv)")
    p.add_argument("out_file")
    _common(p)
