"""The sealed compared values of linkage review pairs (schema 4) on SQLite and PostgreSQL: the
upgrade from schema 3, and an erased identity taking its quasi-identifiers with it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, update

from workbench.errors import SchemaOutOfDate
from workbench.settings import Settings
from workbench.trusted_party import Identity, TrustedParty, init_store, open_trusted_party
from workbench.trusted_party.links import record_run, review_queue
from workbench.trusted_party.schema import SCHEMA_VERSION, link_details, store_info

SHOWN = [{"comparison": "birth_month", "study": "5", "snds": "5", "level": "Exact match on birth_month",
          "weight": 3.5}]


def _review_run(tp: TrustedParty, run: str, people: list[tuple[str, str]]) -> list[str]:
    codes = [tp.pseudonym(tp.register_person(Identity(first, last, date(1960, 5, 1), "F"), actor="t").person,
                          "study:LINKD", actor="t") for first, last in people]
    review = pd.DataFrame({"study_id": codes, "snds_id": [f"B{n}" for n in range(len(codes))],
                           "evidence_bits": [9.5] * len(codes), "comparisons": [SHOWN] * len(codes)})
    record_run(tp, run, "study:LINKD", "snds:x", review.iloc[0:0], review, {}, {}, actor="t")
    return codes


def _details(tp: TrustedParty) -> int:
    with tp.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(link_details)).scalar_one())


def test_a_schema_3_store_gets_the_table_of_compared_values(
        tp: TrustedParty, ttp_settings: Settings, key_path: Path) -> None:
    with tp.engine.begin() as conn:  # as a schema-3 store was: no ttp_link_detail
        link_details.drop(conn)
        conn.execute(update(store_info).values(schema_version=3))
    tp.close()
    with pytest.raises(SchemaOutOfDate, match="needs 4: run `weshare ttp init`"):
        open_trusted_party(ttp_settings, key_path)
    assert init_store(ttp_settings, key_path) is False
    with open_trusted_party(ttp_settings, key_path) as upgraded:
        with upgraded.engine.connect() as conn:
            assert conn.execute(select(store_info.c.schema_version)).scalar_one() == SCHEMA_VERSION == 4
        _review_run(upgraded, "after-upgrade", [("Ana", "Lopes")])
        assert [q["comparisons"] for q in review_queue(upgraded, "after-upgrade", actor="t")] == [SHOWN]


def test_erasing_an_identity_drops_the_compared_values_of_their_pairs(tp: TrustedParty) -> None:
    erased, _kept = _review_run(tp, "r1", [("Ana", "Lopes"), ("Rui", "Costa")])
    assert _details(tp) == 2
    tp.erase_identity(erased, "study:LINKD", actor="t", reason="request 12")
    assert _details(tp) == 1
    queue = {q["external_id"]: q["comparisons"] for q in review_queue(tp, "r1", actor="t")}
    assert queue == {"B0": [], "B1": SHOWN}  # the pair stays reviewable, without their values
