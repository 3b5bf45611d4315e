"""Clerical review: uncertain pairs listed with their compared values and the weight of each
comparison (quasi-identifiers only, sealed in the store), a decision recorded once."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update

from tests.linkage.test_linkage import _world
from workbench.cli import main
from workbench.participants.models import Participant
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.trusted_party import Identity, init_store, open_trusted_party
from workbench.trusted_party.links import record_run, review_queue, run_summary
from workbench.trusted_party.schema import (
    SCHEMA_VERSION,
    link_details,
    links,
    pseudonyms,
    store_info,
)

COMPARED = ["sex", "birth_year", "birth_month", "dpt", "finess", "diagnosis", "stay_date"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_review_shows_each_pair_side_by_side_and_decide_records_the_verdict(
        settings: Settings, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder, truth = _world(settings, tmp_path)
    os.environ["WESHARE_HOME"], os.environ["WESHARE_DATABASE_URL"] = str(settings.home), settings.database_url
    try:
        # An acceptance bar no pair reaches: everything above 8 bits waits for a reviewer.
        assert main(["link", "snds", "--study", "LINK", "--extract", str(folder), "--run", "r-review",
                     "--purpose", "CNIL decision DR-2026-001", "--accept", "200"]) == 0
        capsys.readouterr()
        assert main(["link", "review", "r-review", "--actor", "reviewer"]) == 0
        out = capsys.readouterr().out
        headers = re.findall(r"^link (\d+): evidence (-?[\d.]+) bits$", out, re.MULTILINE)
        assert headers and all(float(bits) >= 8 for _id, bits in headers)
        assert f"{len(headers)} pair(s) awaiting clerical review" in out
        blocks = out.split("\nlink ")[1:]
        assert len(blocks) == len(headers)
        for block in blocks:  # every comparison, both values, a weight; the weights add up to the evidence
            rows = [line.split() for line in block.splitlines()[2:]]
            assert [r[0] for r in rows] == ["sex", "birth_year", "birth_month", "dpt", "stay_date"]
            total = sum(float(r[3]) for r in rows)
            assert abs(total - float(block.split("evidence ")[1].split(" bits")[0])) < 0.05
        # no direct identifier, no pseudonym, no SNDS identifier in what the reviewer sees
        with open_trusted_party(settings) as tp, tp.engine.connect() as conn:
            codes = conn.execute(select(pseudonyms.c.pseudonym)).scalars().all()
            externals = conn.execute(select(links.c.external_id)).scalars().all()
        assert not any(c in out for c in codes) and not any(x in out for x in externals)
        first, second = int(headers[0][0]), int(headers[1][0])
        assert main(["link", "decide", str(first), "--same"]) == 0
        assert main(["link", "decide", str(second), "--different"]) == 0
        assert main(["link", "decide", str(first), "--different"]) == 2  # already decided
        assert "confirmed" in capsys.readouterr().out
        assert main(["link", "review", "r-review"]) == 0
        assert len(re.findall(r"^link \d+:", capsys.readouterr().out, re.MULTILINE)) == len(headers) - 2
        assert main(["link", "review", "no-such-run"]) == 2
    finally:
        del os.environ["WESHARE_HOME"], os.environ["WESHARE_DATABASE_URL"]
    with open_trusted_party(settings) as tp:
        counts = run_summary(tp, "r-review")["counts"]
        with tp.engine.connect() as conn:
            sealed = conn.execute(select(link_details.c.sealed)).scalars().all()
    assert counts.get("confirmed") == 1 and counts.get("rejected") == 1 and "linked" not in counts
    # stored sealed: the database alone shows no birth year or stay date
    assert sealed and not any(b"birth_year" in blob or b"stay_date" in blob for blob in sealed)
    assert len(truth) > 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_review_values_follow_the_study_and_the_extract(settings: Settings, tmp_path: Path) -> None:
    """Recorded establishments and diagnoses are compared too, and each value is the one of its side."""
    folder, truth = _world(settings, tmp_path, n=300)
    engine = open_operational(settings)
    with session_scope(engine) as s:
        for p in s.execute(select(Participant)).scalars():
            p.baseline = {**p.baseline, "finess": "750000001", "icd10": "C50.9"}
    engine.dispose()
    from workbench.linkage.run import run_snds_linkage
    with open_trusted_party(settings) as tp, session_scope(open_operational(settings)) as s:
        run_snds_linkage(s, tp, "LINK", folder, run_id="r2", purpose="CNIL decision", actor="op", accept=200)
        queue = review_queue(tp, "r2", actor="reviewer")
        with tp.engine.connect() as conn:
            person_of = dict(conn.execute(select(links.c.id, pseudonyms.c.pseudonym)
                                          .join(pseudonyms, pseudonyms.c.person_id == links.c.person_id)).all())
    assert queue
    for pair in queue:
        shown = {c["comparison"]: c for c in pair["comparisons"]}
        assert list(shown) == COMPARED
        assert shown["finess"]["study"] == "750000001" and shown["diagnosis"]["study"] == "C50"
        assert shown["finess"]["snds"] == "750000001" and shown["diagnosis"]["snds"] == "C50"
        assert abs(sum(c["weight"] or 0 for c in shown.values()) - pair["evidence_bits"]) < 1e-3
        for c in shown.values():
            level = c["level"]
            if c["study"] is None or c["snds"] is None:
                assert level == "missing on one side" and c["weight"] == 0
            elif c["comparison"] != "stay_date":
                assert level.startswith("Exact match") == (c["study"] == c["snds"])
        if truth.get(person_of[pair["id"]]) == pair["external_id"]:  # a true pair: same birth year
            assert shown["birth_year"]["study"] == shown["birth_year"]["snds"]
    json.dumps(queue)  # plain values


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_schema_3_store_is_upgraded_and_its_old_runs_show_no_values(settings: Settings, tmp_path: Path) -> None:
    init_store(settings, actor="test")
    with open_trusted_party(settings) as tp:
        with tp.engine.begin() as conn:
            link_details.drop(conn)
            conn.execute(update(store_info).values(schema_version=3))
        tp.engine.dispose()
    assert init_store(settings, actor="test") is False  # upgrades in place
    with open_trusted_party(settings) as tp:
        with tp.engine.connect() as conn:
            assert conn.execute(select(store_info.c.schema_version)).scalar_one() == SCHEMA_VERSION == 4
        # a run recorded without compared values (as before the upgrade) is still reviewable
        who = tp.register_person(Identity("Ana", "Lopes", date(1960, 5, 1), "F"), actor="test")
        code = tp.pseudonym(who.person, "study:OLD", actor="test")
        record_run(tp, "old", "study:OLD", "snds:x", pd.DataFrame(columns=["study_id", "snds_id", "evidence_bits"]),
                   pd.DataFrame({"study_id": [code], "snds_id": ["B1"], "evidence_bits": [9.5]}), {}, {}, actor="t")
        assert [(q["evidence_bits"], q["comparisons"]) for q in review_queue(tp, "old", actor="t")] == [(9.5, [])]
