"""Clerical review from the command line: uncertain pairs listed, a decision recorded once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.linkage.test_linkage import _world
from workbench.cli import main
from workbench.settings import Settings
from workbench.trusted_party import open_trusted_party
from workbench.trusted_party.links import run_summary


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_review_lists_uncertain_pairs_and_decide_records_the_verdict(settings: Settings, tmp_path: Path,
                                                                      capsys) -> None:  # type: ignore[no-untyped-def]
    folder, _truth = _world(settings, tmp_path)
    os.environ["WESHARE_HOME"], os.environ["WESHARE_DATABASE_URL"] = str(settings.home), settings.database_url
    try:
        # An acceptance bar no pair reaches: everything above 8 bits waits for a reviewer.
        assert main(["link", "snds", "--study", "LINK", "--extract", str(folder), "--run", "r-review",
                     "--purpose", "CNIL decision DR-2026-001", "--accept", "200"]) == 0
        capsys.readouterr()
        assert main(["link", "review", "r-review"]) == 0
        listed = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()]
        assert listed and all(float(bits) >= 8 for _id, bits, _unit in listed)
        first, second = int(listed[0][0]), int(listed[1][0])
        assert main(["link", "decide", str(first), "--same"]) == 0
        assert main(["link", "decide", str(second), "--different"]) == 0
        assert main(["link", "decide", str(first), "--different"]) == 2  # already decided
        assert "confirmed" in capsys.readouterr().out
        capsys.readouterr()
        assert main(["link", "review", "r-review"]) == 0
        assert len([line for line in capsys.readouterr().out.splitlines() if line.strip()]) == len(listed) - 2
    finally:
        del os.environ["WESHARE_HOME"], os.environ["WESHARE_DATABASE_URL"]
    with open_trusted_party(settings) as tp:
        counts = run_summary(tp, "r-review")["counts"]
    assert counts.get("confirmed") == 1 and counts.get("rejected") == 1 and "linked" not in counts
