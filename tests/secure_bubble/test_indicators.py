"""Indicators for sponsors and establishments: their own studies only, small counts hidden."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from secure_bubble.disclosure import DisclosureRules
from secure_bubble.indicators import (
    partner_report_html,
    study_indicators,
    suppress_counts,
    visible_studies,
)
from tests.demo_study import deposit_demo, empty_warehouse
from workbench import accounts
from workbench.accounts import get_user
from workbench.audit import AuditEntry
from workbench.errors import NotFoundError, PermissionDenied
from workbench.governance.models import AccessRequest, Project
from workbench.settings import Settings
from workbench.storage.base import utcnow
from workbench.storage.engine import make_engine, session_scope
from workbench.studies import service as studies
from workbench.studies.models import Study, StudySite
from workbench.trusted_party import init_store, open_trusted_party


@dataclass
class World:
    op: Engine
    wh: Engine

    def run(self, work):  # type: ignore[no-untyped-def]
        with session_scope(self.op) as s:
            return work(s)


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    cfg = Settings(home=tmp_path, database_url=store_url)
    op = make_engine(store_url)
    init_store(cfg, actor="test")
    tp = open_trusted_party(cfg)
    wh = empty_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    deposit_demo(op, tp, wh, participants=30, seed=11)
    with session_scope(op) as s:
        other = studies.create_study(s, "OTHER-1", "Another sponsor's study", actor="t", sponsor="Other")
        other.status = "deposited"
        demo = s.execute(select(Study).where(Study.code == "DEMO-QOL")).scalar_one()
        s.add(StudySite(study_id=demo.id, code="CHU-X", name="CHU X", investigator="site.x"))
        accounts.add_user(s, "sponsor.other", actor="t", roles=["study_manager:study:OTHER-1"])
        accounts.add_user(s, "site.x", actor="t", roles=["researcher"])
        accounts.add_user(s, "nobody", actor="t", roles=["researcher"])
        request = AccessRequest(requester="researcher.demo", title="t", purpose="research", regulatory_ref="MR-004",
                                funder="public", requester_status="academic", team=["researcher.demo"],
                                duration_months=6)
        s.add(request)
        s.flush()
        now = utcnow()
        s.add(Project(code="P2026-0007", request_id=request.id, title="Fatigue after surgery",
                      purpose="quality_of_life", team=["researcher.demo"], approved={"DEMO-QOL": ["phq-9.*"]},
                      committee_date=now, expires_at=now + timedelta(days=90)))
    tp.close()
    yield World(op, wh)
    wh.dispose()
    op.dispose()


def _visible_numbers(frame: pd.DataFrame) -> np.ndarray:
    values = frame.to_numpy(dtype=float)
    return values[~np.isnan(values)]


def test_suppress_counts_hides_small_cells_and_what_would_reveal_them() -> None:
    counts = pd.DataFrame({"a": [30, 4, 25, 50], "b": [20, 40, 0, 60], "c": [33, 35, 37, 39]},
                          index=["M0", "M3", "M6", "M12"])
    released, hidden = suppress_counts(counts, DisclosureRules())
    mask = released.isna().to_numpy()
    assert mask[1, 0]  # 4 < 11
    # no row or column keeps a single hidden cell that its total minus the others would give away
    assert not (mask.sum(axis=0) == 1).any() and not (mask.sum(axis=1) == 1).any()
    assert hidden == int(mask.sum()) and hidden < counts.size
    shown = released.to_numpy()[~mask]
    assert not ((shown > 0) & (shown < 11)).any()
    boundary, _ = suppress_counts(pd.DataFrame({"a": [10, 11, 12], "b": [11, 11, 11]}), DisclosureRules())
    assert np.isnan(boundary.iat[0, 0]) and boundary.iat[2, 1] == 11
    untouched, none = suppress_counts(pd.DataFrame({"a": [11, 0], "b": [12, 13]}), DisclosureRules())
    assert none == 0 and untouched.iat[1, 0] == 0  # 11 is shown; a zero says nothing about a person


def test_sponsor_sees_only_their_studies(world: World) -> None:
    assert world.run(lambda s: visible_studies(s, get_user(s, "manager.demo"))) == ["DEMO-QOL"]
    assert world.run(lambda s: visible_studies(s, get_user(s, "sponsor.other"))) == ["OTHER-1"]
    assert world.run(lambda s: visible_studies(s, get_user(s, "site.x"))) == ["DEMO-QOL"]
    assert world.run(lambda s: visible_studies(s, get_user(s, "steward.demo"))) == ["DEMO-QOL", "OTHER-1"]
    with pytest.raises(PermissionDenied):
        world.run(lambda s: visible_studies(s, get_user(s, "nobody")))

    def peek(s: Session) -> PermissionDenied | None:  # as the widget does: commit the refusal's audit
        try:
            study_indicators(s, world.wh, get_user(s, "sponsor.other"), "DEMO-QOL")
        except PermissionDenied as exc:
            return exc
        return None

    refusal = world.run(peek)
    assert refusal is not None and "neither a sponsor nor an establishment" in str(refusal)
    refused = world.run(lambda s: s.execute(select(AuditEntry.actor, AuditEntry.object_id).where(
        AuditEntry.action == "indicators.refused")).all())
    assert refused == [("sponsor.other", "DEMO-QOL")]
    with pytest.raises(NotFoundError):
        world.run(lambda s: study_indicators(s, world.wh, get_user(s, "manager.demo"), "NOPE"))


def test_indicators_count_responses_hide_small_cells_and_list_uses(world: World) -> None:
    ind = world.run(lambda s: study_indicators(s, world.wh, get_user(s, "manager.demo"), "DEMO-QOL"))
    shown = np.concatenate([_visible_numbers(ind.participants_by_event), _visible_numbers(ind.responses_by_event)])
    assert not ((shown > 0) & (shown < 11)).any()
    # the raw warehouse has cells under 11 with 30 participants over several events: they are hidden
    survey = sa.table("survey_conduct", sa.column("timing_source_value"), sa.column("survey_source_value"),
                      sa.column("person_id"), sa.column("survey_source_identifier"))
    with world.wh.connect() as conn:
        raw = conn.execute(sa.select(survey.c.timing_source_value, survey.c.survey_source_value,
                                     sa.func.count(sa.distinct(survey.c.person_id)))
                           .where(survey.c.survey_source_identifier == "DEMO-QOL")
                           .group_by(survey.c.timing_source_value, survey.c.survey_source_value)).all()
    small = [(e, i) for e, i, n in raw if 0 < n < 11]
    assert small, "the fixture should hold small cells"
    for event, instrument in small:
        assert np.isnan(ind.participants_by_event.at[event, instrument])
    assert ind.suppressed >= len(small)
    big = [(e, i, n) for e, i, n in raw if n >= 11]
    assert any(ind.participants_by_event.at[e, i] == n for e, i, n in big)
    assert set(ind.completeness.columns) == {"instrument", "variable", "sittings", "answered_pct"}
    pct = ind.completeness["answered_pct"].dropna()
    assert len(pct) and ((pct > 0) & (pct <= 100)).all()
    assert [u.code for u in ind.uses] == ["P2026-0007"]


def test_partner_report_is_aggregate_only(world: World) -> None:
    ind = world.run(lambda s: study_indicators(s, world.wh, get_user(s, "steward.demo"), "DEMO-QOL"))
    html = partner_report_html([ind], partner="Pharma SA", generated_by="steward.demo")
    assert html.startswith("<!DOCTYPE html>") and "Pharma SA" in html and "P2026-0007" in html
    assert "&lt; seuil / &lt; threshold" in html or "< seuil" in html
    cells = [float(x) for x in re.findall(r"<td>(\d+(?:\.\d+)?)</td>", html)]
    assert cells and not [c for c in cells if 0 < c < 11 and c == int(c)]
    with world.wh.connect() as conn:
        codes = [r[0] for r in conn.execute(sa.text("SELECT person_source_value FROM person LIMIT 20"))]
    assert codes and not [c for c in codes if c and c in html]


def test_dashboard_widget_shows_own_study_and_builds_the_partner_report(world: World, tmp_path: Path) -> None:
    from widgets.indicators import indicators_page

    settings = Settings(home=tmp_path, database_url=str(world.op.url.render_as_string(hide_password=False)),
                        warehouse_url=str(world.wh.url))
    world.wh.dispose()  # the widget opens its own connection to the DuckDB file
    page = indicators_page(settings, "manager.demo")
    html = page.children[3].value
    assert "DEMO-QOL" in html and "OTHER-1" not in html and "P2026-0007" in html, page.children[1].value
    assert "Traceback" not in page.children[1].value
    partner, button = page.children[5].children
    button.click()
    assert 'role="alert"' in page.children[1].value and "partner" in page.children[1].value
    partner.value = "Pharma SA"
    button.click()
    assert "data:text/html;base64," in page.children[6].value
    assert world.run(lambda s: s.execute(select(AuditEntry.object_id).where(
        AuditEntry.action == "indicators.partner_report")).scalars().all()) == ["Pharma SA"]
    nobody = indicators_page(settings, "nobody")
    assert 'role="alert"' in nobody.children[1].value and "sponsors" in nobody.children[1].value
