"""`python -m workbench.cli` runs the `weshare` command."""

import sys

from workbench.cli import main

sys.exit(main())
