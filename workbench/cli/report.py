"""`weshare report NOTEBOOK.ipynb -o OUT.html|OUT.pdf [--execute]`: a notebook as a shareable report.

The report carries the platform's publication rules (acknowledgement of the ANR grant in English
and French, reminder to deposit in HAL). ``--execute`` runs the notebook first, in its own folder,
so the report shows fresh results rather than whatever outputs were saved.
"""

from __future__ import annotations

import argparse
import json

from workbench.cli._common import add_command
from workbench.errors import ValidationError
from workbench.reports import execute_notebook, read_notebook, write_report


def _parameters(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"{pair!r} is not NAME=VALUE", where="-p")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw  # a bare word is a string
    return out


def _run(args: argparse.Namespace) -> int:
    parameters = _parameters(args.parameter or [])
    if parameters and not args.execute:
        raise ValidationError("parameters only apply with --execute", where="-p")
    if args.execute:
        nb = execute_notebook(args.notebook, parameters=parameters, timeout=args.timeout)
    else:
        nb = read_notebook(args.notebook)
    out = write_report(nb, args.output, hide_code=args.hide_code)
    print(f"report written: {out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(commands, "report", _run,
                         "Export a notebook to HTML or PDF with the publication rules (acknowledgement, HAL)")
    parser.add_argument("notebook", help="the .ipynb file")
    parser.add_argument("-o", "--output", required=True, help="OUT.html or OUT.pdf (the folder must exist)")
    parser.add_argument("--execute", action="store_true", help="run the notebook top to bottom first")
    parser.add_argument("-p", "--parameter", action="append", metavar="NAME=VALUE",
                        help="with --execute: override a template parameter (VALUE read as JSON, else text)")
    parser.add_argument("--hide-code", action="store_true", help="leave the code cells out of the report")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
