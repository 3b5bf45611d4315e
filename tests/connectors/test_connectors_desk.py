"""The data steward's connectors dashboard, driven as a user would (upload value, ``click()``) on
the real stores: imports into the warehouse and into a study give the CLI's report, a bad bundle
imports nothing and says why, others are refused and audited, a review decision is recorded."""

from __future__ import annotations

import html
import json
import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.connectors.test_fhir_study import _study
from tests.connectors.test_omop_csv import _extract
from widgets.connectors_desk import ConnectorsDesk, connectors_page, uploaded_files
from workbench import accounts
from workbench.audit import AuditEntry
from workbench.cli import main
from workbench.connectors.synthetic import synthetic_bundle
from workbench.errors import ValidationError
from workbench.participants.models import Participant
from workbench.settings import Settings
from workbench.storage.engine import make_engine, session_scope
from workbench.trusted_party import Identity, init_store, open_trusted_party
from workbench.trusted_party.links import record_run, run_summary
from workbench.trusted_party.schema import links, pseudonyms
from workbench.warehouse import table_counts

USERS = {"steward.u": ["data_steward"], "admin.u": ["administrator"], "researcher.u": ["researcher"]}


@pytest.fixture
def desk_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The root fixture's operational store with one account per kind, an active study, a trusted
    party; temporary folders go to ``tmp_path/tmp`` so the test sees them removed."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    settings.home.mkdir(parents=True, exist_ok=True)
    init_store(settings, actor="test")
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        for name, roles in USERS.items():
            accounts.add_user(s, name, actor="test", roles=roles)
    _study(engine)
    engine.dispose()
    return settings


def _upload(desk: ConnectorsDesk, files: dict[str, bytes]) -> None:
    desk.upload.value = tuple({"name": n, "type": "application/json", "size": len(c), "content": memoryview(c),
                               "last_modified": datetime(2026, 12, 1, tzinfo=UTC)} for n, c in files.items())


def _bundle(n: int = 3, seed: int = 3) -> bytes:
    return json.dumps(synthetic_bundle(n, seed=seed)).encode()


def _status(desk: ConnectorsDesk) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", desk.status.value))


def _refusals(settings: Settings, actor: str) -> list[Any]:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        rows = [(e.after["action"], e.object_id, e.reason) for e in s.execute(sa.select(AuditEntry).where(
            AuditEntry.action == "governance.refused", AuditEntry.actor == actor)).scalars()]
    engine.dispose()
    return rows


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_steward_imports_a_bundle_into_the_warehouse_and_sees_the_cli_report_and_runs(
        desk_settings: Settings, warehouse: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = warehouse.url.render_as_string(hide_password=False)
    settings = desk_settings.with_overrides(warehouse_url=url)
    desk = connectors_page(settings, "steward.u")
    assert isinstance(desk, ConnectorsDesk) and desk.tabs in desk.children
    assert desk.target.options == (("Entrepôt / Warehouse", ""), ("Étude / Study FHIR-S", "FHIR-S"))
    assert "No run yet" in desk.runs.value
    _upload(desk, {"CHU-A bundle.JSON": _bundle()})
    desk.source.value = "CHU-A"
    desk.run_button.click()
    assert "Import done" in _status(desk) and "0 rejetés / rejected" in _status(desk), desk.status.value
    report = desk.report.value
    assert "fhir import from CHU-A" in report and re.search(r"inserted \d+: .*person 3", report), report
    assert "No rejected row" in report
    assert table_counts(warehouse)["person"] == 3
    assert desk.upload.value == () and list((tmp_path / "tmp").iterdir()) == []  # bytes gone, folder removed
    # The Runs tab shows what `weshare import runs` prints, line for line.
    assert main(["import", "--url", url, "runs"]) == 0
    cli = capsys.readouterr().out.strip()
    assert cli and desk.runs.value == f'<pre class="weshare-runs">{cli}</pre>'
    _upload(desk, {"CHU-A bundle.JSON": _bundle()})
    desk.run_button.click()  # the same bundle again: nothing twice
    assert "0 ajoutés / inserted" in _status(desk) and table_counts(warehouse)["person"] == 3
    assert desk.runs.value.count(" fhir ") == 2


def test_steward_imports_a_bundle_into_a_study(desk_settings: Settings) -> None:
    desk = connectors_page(desk_settings, "steward.u")
    _upload(desk, {"study.ndjson": b"\n".join(json.dumps(e["resource"]).encode()
                                              for e in synthetic_bundle(4, seed=3)["entry"])})
    desk.source.value, desk.target.value = "CHU-A", "FHIR-S"
    desk.run_button.click()
    assert "fhir-study import from CHU-A" in desk.report.value
    assert "inserted 8: participants 4, responses 4" in desk.report.value, desk.report.value
    assert "Import done" in _status(desk)
    engine = make_engine(desk_settings.database_url)
    with session_scope(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Participant)) == 4
        imported = s.execute(sa.select(AuditEntry.actor).where(AuditEntry.action == "participant.import")).scalars()
        assert set(imported) == {"steward.u"}
    engine.dispose()
    desk.site.value = "NOWHERE"  # the domain's own refusal, as one line
    _upload(desk, {"study.json": _bundle(1)})
    desk.run_button.click()
    assert "has no site 'NOWHERE'" in _status(desk) and "Traceback" not in desk.status.value


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_bad_bundle_shows_the_reason_and_imports_nothing(desk_settings: Settings, tmp_path: Path) -> None:
    desk = connectors_page(desk_settings, "steward.u")
    desk.source.value = "CHU-A"
    _upload(desk, {"bad.json": b'{"resourceType": "Bundle", "entry": [ oops'})
    desk.run_button.click()
    assert desk.status.value.startswith('<p role="alert"')
    assert _status(desk).startswith("Rien n'a été importé / Nothing was imported — bad.json: not JSON"), desk.status.value
    assert "bad.json" in desk.report.value and "rejected 1" in desk.report.value
    bundle = synthetic_bundle(1, seed=2)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["birthDate"] = "not-a-date"
    _upload(desk, {"invalid.json": json.dumps(bundle).encode()})
    desk.run_button.click()
    assert "invalid FHIR: birthDate" in desk.report.value and "not-a-date" not in desk.report.value
    warehouse = sa.create_engine(desk_settings.warehouse_url)
    assert table_counts(warehouse)["person"] == 0
    warehouse.dispose()
    before = desk.report.value
    _upload(desk, {"notes.txt": b"hello"})  # refused before anything runs
    desk.run_button.click()
    assert _status(desk) == "notes.txt: fichier .json, .ndjson attendu / a .json, .ndjson file is expected"
    assert desk.report.value == before
    _upload(desk, {"bundle.json": _bundle(1)})
    desk.source.value = ""
    desk.run_button.click()
    assert "name the source" in _status(desk)
    assert list((tmp_path / "tmp").iterdir()) == []
    with pytest.raises(ValidationError, match="one mapping file"):
        uploaded_files(({"name": "a.csv", "content": b"x"},), "csv")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_steward_imports_a_csv_extract_with_its_mapping(desk_settings: Settings, tmp_path: Path) -> None:
    folder = _extract(tmp_path / "extract").parent
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    desk = connectors_page(desk_settings, "steward.u")
    desk.kind.value, desk.source.value = "csv", "CHU-CSV"
    _upload(desk, {"mapping.toml": b"[patients\nfile = 1", **{n: c for n, c in files.items() if n != "mapping.toml"}})
    desk.run_button.click()  # a broken mapping is refused before anything is read
    assert _status(desk).startswith("mapping.toml: not a TOML file"), desk.status.value
    assert desk.report.value == ""
    _upload(desk, files)
    desk.target.value = "FHIR-S"
    desk.run_button.click()
    assert "a CSV extract goes to the warehouse" in _status(desk)
    desk.target.value = ""
    _upload(desk, files)
    desk.run_button.click()
    assert "csv import from CHU-CSV" in desk.report.value and "5 rejetés / rejected" in _status(desk)
    assert "<td>unmapped code ICD10:Z99.9</td>" in desk.report.value  # the rejected rows' table
    warehouse = sa.create_engine(desk_settings.warehouse_url)
    assert table_counts(warehouse)["person"] == 2
    warehouse.dispose()
    assert desk.runs.value.count(" csv ") == 1  # the refused mapping left no run and list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("viewer", ["researcher.u", "admin.u", "ghost.u"])
def test_anyone_but_a_steward_is_refused_and_audited(desk_settings: Settings, viewer: str) -> None:
    desk = connectors_page(desk_settings, viewer)
    assert isinstance(desk, ConnectorsDesk) and desk.tabs not in desk.children
    assert desk.status.value.startswith('<p role="alert"')
    expected = "unknown account" if viewer == "ghost.u" else "connectors are for data stewards"
    assert expected in _status(desk)
    # Even driven past the page, the import is refused, audited, and imports nothing.
    desk.source.value = "CHU-A"
    _upload(desk, {"bundle.json": _bundle(1)})
    desk.run_button.click()
    assert expected in _status(desk)
    assert not (desk_settings.home / "warehouse.duckdb").exists()  # the warehouse was not even opened
    desk.target.options = [("Étude / Study FHIR-S", "FHIR-S")]
    desk.target.value = "FHIR-S"
    _upload(desk, {"bundle.json": _bundle(1)})
    desk.run_button.click()
    assert expected in _status(desk)
    refusals = _refusals(desk_settings, viewer)
    assert [(a, o) for a, o, _r in refusals] == [
        ("connectors.view", "dashboard"), ("connectors.import", "warehouse"), ("connectors.import", "FHIR-S")]
    assert all(expected in r for _a, _o, r in refusals)
    engine = make_engine(desk_settings.database_url)
    with session_scope(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Participant)) == 0
    engine.dispose()
    assert "Please sign in first" in connectors_page(desk_settings, None).children[0].value


def _comparisons(dpt: str) -> list[dict[str, Any]]:
    return [{"comparison": "sex", "study": "2", "snds": "2", "level": "Exact match on sex", "weight": 1.0},
            {"comparison": "birth_year", "study": "1981", "snds": "1981", "level": "Exact match on birth_year",
             "weight": 6.04},
            {"comparison": "birth_month", "study": None, "snds": "3", "level": "missing on one side", "weight": 0.0},
            {"comparison": "dpt", "study": "39", "snds": dpt, "level": "All other comparisons", "weight": -4.0}]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_review_decision_is_recorded_through_the_trusted_party(desk_settings: Settings) -> None:
    with open_trusted_party(desk_settings) as tp:
        people = [tp.register_person(Identity(f"Ana{i}", "Lopes", date(1981, 3, 1 + i), "F"), actor="test")
                  for i in range(2)]
        codes = [tp.pseudonym(p.person, "study:FHIR-S", actor="test") for p in people]
        review = pd.DataFrame({"study_id": codes, "snds_id": ["BEN-SECRET-1", "BEN-SECRET-2"],
                               "evidence_bits": [9.5, 12.25], "comparisons": [_comparisons("84"), _comparisons("39")]})
        record_run(tp, "r1", "study:FHIR-S", "snds:EXTRACT-2026", pd.DataFrame(
            columns=["study_id", "snds_id", "evidence_bits"]), review, {}, {}, actor="test")
    desk = connectors_page(desk_settings, "steward.u")
    assert desk.link_run.options == (("r1 — snds:EXTRACT-2026 (2 à revoir / to review)", "r1"),)
    desk.show_button.click()
    assert "2 paire(s)" in _status(desk)
    labels = [label for label, _id in desk.pair.options]
    assert labels[0].endswith("12.25 bits") and labels[1].endswith("9.50 bits")  # best first
    shown = desk.pair_view.value
    assert "<td>1981</td><td>1981</td><td>+6.04</td>" in shown and "<td>—</td><td>3</td>" in shown
    assert not any(secret in shown or secret in str(desk._queue) for secret in [*codes, "BEN-SECRET", "Lopes"])
    best = desk.pair.value
    desk.same_button.click()
    assert f"link {best}: confirmé / confirmed" in _status(desk)
    assert len(desk.pair.options) == 1 and "9.50 bits" in desk.pair_view.value
    desk.different_button.click()
    assert desk.pair.options == () and desk.same_button.disabled and desk.different_button.disabled
    assert desk.link_run.options == (("r1 — snds:EXTRACT-2026 (0 à revoir / to review)", "r1"),)
    with open_trusted_party(desk_settings) as tp:
        assert run_summary(tp, "r1")["counts"] == {"confirmed": 1, "rejected": 1}
        with tp.engine.connect() as conn:
            decided = conn.execute(sa.select(links.c.status, links.c.decided_by, pseudonyms.c.pseudonym)
                                   .join(pseudonyms, pseudonyms.c.person_id == links.c.person_id)).all()
            actions = conn.execute(sa.select(AuditEntry.action, AuditEntry.actor).where(
                AuditEntry.action.like("ttp.linkage.review%"))).all()
    assert {(s, by) for s, by, _p in decided} == {("confirmed", "steward.u"), ("rejected", "steward.u")}
    assert dict((p, s) for s, _b, p in decided)[codes[1]] == "confirmed"  # the 12.25-bit pair
    assert sorted(actions) == [("ttp.linkage.review", "steward.u")] * 2 + [("ttp.linkage.review.show", "steward.u")]
    desk.show_button.click()  # nothing left to review
    assert "0 paire(s)" in _status(desk) and desk.pair_view.value == ""


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_staff_home_links_the_page_for_stewards_only(desk_settings: Settings) -> None:
    from widgets.staff_home import links_for

    engine = make_engine(desk_settings.database_url)
    with session_scope(engine) as s:
        linked = {name: {d.notebook for d in links_for(accounts.get_user(s, name))} for name in USERS}
    engine.dispose()
    assert {name for name, pages in linked.items() if "connectors.ipynb" in pages} == {"steward.u"}
