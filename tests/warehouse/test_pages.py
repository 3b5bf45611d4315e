"""Catalog and data-quality pages: what each role sees, rounded counts, failed checks listed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from widgets.warehouse_pages import catalog_page, quality_page
from workbench import accounts
from workbench.demo import seed_demo
from workbench.deposit import deposit_study
from workbench.errors import PermissionDenied
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies.models import Study
from workbench.studies.service import set_status
from workbench.trusted_party import init_store, open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary
from workbench.warehouse.listing import catalog_entries, quality_summary


@pytest.fixture
def deposited(settings: Settings) -> Settings:
    init_store(settings, actor="test")
    tp = open_trusted_party(settings)
    warehouse = connect(settings.warehouse_url)
    create_schema(warehouse)
    load_mini_vocabulary(warehouse)
    engine = open_operational(settings)
    with session_scope(engine) as s:
        seed_demo(s, tp, participants=80, seed=3)
        accounts.add_user(s, "rita", actor="t", display_name="R", email="r@x.invalid", roles=["researcher"])
    with session_scope(engine) as s:
        set_status(s, "DEMO-QOL", "closed", actor="sm")
    with session_scope(engine) as s:
        deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward.demo")
    tp.close()
    warehouse.dispose()
    engine.dispose()
    return settings


def test_catalog_lists_deposited_studies_with_rounded_counts(deposited: Settings) -> None:
    engine, warehouse = open_operational(deposited), connect(deposited.warehouse_url)
    try:
        with session_scope(engine) as s:
            entries = catalog_entries(s, warehouse, accounts.get_user(s, "rita"))
            draft = s.execute(select(Study.status).where(Study.code == "DEMO-CARE")).scalar_one()
            with pytest.raises(PermissionDenied):
                quality_summary(s, warehouse, accounts.get_user(s, "rita"))
            report = quality_summary(s, warehouse, accounts.get_user(s, "steward.demo"))
    finally:
        engine.dispose()
        warehouse.dispose()
    assert draft == "draft" and [e.code for e in entries] == ["DEMO-QOL"]
    entry = entries[0]
    assert entry.persons is not None and entry.persons % 10 == 0 and entry.persons >= 60
    assert set(entry.instruments) == {"qlq-c30", "phq-9", "gad-7"} and "family carers" in entry.population
    assert entry.time_points[0] == "baseline" or entry.time_points
    assert report["Overview"]["countTotal"] > 10


def test_pages_render_for_the_viewer_and_refuse_others(deposited: Settings) -> None:
    page = catalog_page(deposited, "rita")
    html = page.children[2].value
    assert "DEMO-QOL" in html and "≈" in html and "secure bubble" in html
    refused = quality_page(deposited, "rita")
    refused.children[1].click()
    assert "data stewards" in refused.children[2].value and refused.children[3].value == ""
    steward = quality_page(deposited, "steward.demo")
    steward.children[1].click()
    assert "checks passed" in steward.children[3].value and "JSON" in steward.children[3].value
    anonymous = catalog_page(deposited, None)
    assert "sign in" in anonymous.children[1].value
