"""Person variables through the gateway: sex and birth year (``demographics``) and the deposited
arm (``arm``), each only when approved, in project pseudonyms, on DuckDB and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from secure_bubble.gateway.extract import extract
from tests.demo_study import deposit_demo, open_stores
from tests.secure_bubble.conftest import approve_projects
from workbench.errors import PermissionDenied
from workbench.participants.models import Participant
from workbench.settings import Settings
from workbench.storage.engine import session_scope


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_demographics_and_arm_when_approved(kind: str, tmp_path: Path, new_warehouse) -> None:  # type: ignore[no-untyped-def]
    op, tp = open_stores(Settings(home=tmp_path))
    wh = new_warehouse(kind, tmp_path)
    truth: list[tuple[str, int, str]] = []

    def unrandomise_first(s: Session) -> None:
        first = s.execute(select(Participant).order_by(Participant.id)).scalars().first()
        assert first is not None
        first.arm = None  # never randomised: demographics, no arm
        people = s.execute(select(Participant)).scalars().all()
        truth.extend(sorted((str(p.baseline["sex"]), int(p.baseline["birth_year"]), p.arm or "") for p in people))

    try:
        deposit_demo(op, tp, wh, participants=30, seed=8, before_close=unrandomise_first)
        with session_scope(op) as s:
            approve_projects(s, tp, "ana", {"P1": {"DEMO-QOL": ["phq-9.*", "demographics", "arm"]},
                                            "P2": {"DEMO-QOL": ["phq-9.*"]}})
        with session_scope(op) as s:
            table = extract(s, tp, wh, "P1", "ana", ["phq-9.q9", "demographics", "arm"]).to_pandas()
            for variable in ("arm", "demographics"):
                with pytest.raises(PermissionDenied, match=f"'{variable}' is not approved"):
                    extract(s, tp, wh, "P2", "ana", ["phq-9.*", variable])
        assert set(table["variable"]) == {"phq-9.q9", "sex", "birth_year", "arm"}
        wide = table[table["variable"] != "phq-9.q9"].pivot_table(
            index="participant", columns="variable", values=["value", "text"], aggfunc="first")
        arms = wide[("text", "arm")]
        got = sorted((wide[("text", "sex")][p], int(wide[("value", "birth_year")][p]),
                      arms[p] if isinstance(arms[p], str) else "") for p in wide.index)
        sexes = {"F": "female", "M": "male"}
        assert got == [(sexes[s], y, a) for s, y, a in truth] and "" in {a for _s, _y, a in got}
        answers = table[table["variable"] == "phq-9.q9"]
        assert answers["text"].isna().all() and answers["value"].notna().all()
        assert set(answers["participant"]) <= set(wide.index)  # the same project pseudonyms
        with session_scope(op) as s:
            study_codes = set(s.execute(sa.text("SELECT pseudonym FROM participants")).scalars())
        assert not (set(table["participant"]) & study_codes)
    finally:
        tp.close()
        wh.dispose()
        op.dispose()
