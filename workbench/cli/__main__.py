"""`python -m workbench.cli` runs the `weshare` command."""

from workbench.cli import main, run

run(main)
