"""The staff study workspace end to end, as the dashboards' landing notebook builds it.

A study manager creates a study (quote checked), imports an instrument from an uploaded file
(errors name file/row/field and store nothing), schedules it per respondent type, moves the study
draft → active → closed (audited), and reaches the alerts queue and the compliance view.
"""

from __future__ import annotations

import ast
import io
import json
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from hub.services import REPO_ROOT, settings_environment
from widgets._store import in_session
from widgets.alerts_queue import AlertsQueue
from widgets.compliance_view import ComplianceView
from widgets.instrument_import import InstrumentLibrary
from widgets.study_setup import StaffDesk, StudySetup
from widgets.study_workspace import NEW_STUDY, StudyWorkspace, study_workspace
from workbench import audit
from workbench.instruments.store import InstrumentRecord, get_instrument
from workbench.settings import Settings
from workbench.studies.service import get_study

from ._seed import STUDY, fire_alerts, seed_running
from .test_study_setup import _event, _fill

HEADER = ("Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"
          '"Choices, Calculations, OR Slider Labels",Field Note,Text Validation Type OR Show Slider Number,'
          "Text Validation Min,Text Validation Max,Identifier?,Branching Logic (Show field only if...),"
          "Required Field?,Custom Alignment,Question Number (surveys only),Matrix Group Name,"
          "Matrix Ranking?,Field Annotation\n")
DICTIONARY = HEADER + (
    "record_id,carer_burden,,text,Record ID,,,,,,,,,,,,,\n"
    'burden_1,carer_burden,,radio,Do you feel tired?,"0, Never | 1, Sometimes | 2, Often",,,,,,,y,,,,,\n'
    "burden_2,carer_burden,,text,Hours of care per week,,,integer,0,168,,,,,,,,\n"
)
BROKEN = DICTIONARY.replace("burden_2,carer_burden,,text", "burden_2,carer_burden,,matrix")
FHIR = {"resourceType": "Questionnaire", "id": "sleep-check", "status": "active", "title": "Sleep check",
        "item": [{"linkId": "hours", "type": "integer", "text": "Hours slept", "required": True},
                 {"linkId": "rested", "type": "boolean", "text": "Do you feel rested?"}]}


def _xlsform() -> bytes:
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for row in (["type", "name", "label::Français (fr)", "label::English (en)", "required"],
                ["integer", "pain", "Douleur (0-10)", "Pain (0-10)", "yes"],
                ["text", "comment", "Commentaire", "Comment", ""]):
        survey.append(row)
    sheet = book.create_sheet("settings")
    sheet.append(["form_id", "form_title", "version", "default_language"])
    sheet.append(["pain-diary", "Pain diary", "2026120301", "Français (fr)"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(library: InstrumentLibrary, name: str, content: bytes) -> None:
    library.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                             "last_modified": datetime(2026, 12, 1, tzinfo=UTC)},)


def _stored(settings: Settings) -> int:
    return in_session(settings, lambda s: s.execute(select(func.count()).select_from(InstrumentRecord))
                      .scalar_one())


def test_manager_runs_a_study_from_the_workspace(desk: StaffDesk) -> None:
    space = StudyWorkspace(desk, today=date(2026, 3, 1))
    assert space.study.value == NEW_STUDY and "Aucune étude" in space.studies.table.value
    assert space.tabs.titles == ("Mise en place / Set-up", "Instruments")
    assert 'href="home.ipynb"' in space.children[0].value  # the staff home with every dashboard
    setup = space.views["setup"]
    assert isinstance(setup, StudySetup)
    _fill(setup, code="WS-1")
    assert "15,600.00 €" in setup.quote.value  # the tariff grid's quote for what the form says

    library = space.view("instruments")
    assert isinstance(library, InstrumentLibrary) and "phq-9" in library.table.value
    _upload(library, "carers.csv", BROKEN.encode())
    library.import_button.click()
    assert 'role="alert"' in library.status.value
    assert "carers.csv, row 4, column &#x27;Field Type&#x27;" in library.status.value
    assert "weshare-import" not in library.status.value
    assert _stored(desk.settings) == 0
    _upload(library, "carers.csv", DICTIONARY.encode())
    library.import_button.click()
    assert "carer_burden" in library.status.value and 'role="alert"' not in library.status.value
    assert "carer_burden" in library.table.value and _stored(desk.settings) == 1
    # the imported instrument can now be scheduled, here for carers
    assert "carer_burden" in {v for _l, v in setup.event_instruments.options}
    _event(setup, "BL", 0, ("phq-9",))
    setup.respondent.value = "carer"
    _event(setup, "M03", 90, ("carer_burden",), before=7, after=14)
    setup.save_button.click()
    assert "WS-1" in setup.status.value and 'role="alert"' not in setup.status.value, setup.status.value

    # the new study is open in the workspace with all its tabs
    assert space.study.value == "WS-1" and "WS-1" in space.studies.table.value
    assert len(space.tabs.children) == 5  # set-up, instruments, alerts, compliance, participants
    setup = space.views["setup"]
    assert isinstance(setup, StudySetup) and "draft" in setup.status_line.value
    setup.reason.value = "ethics approval received"
    setup.next_button.click()
    assert "active" in setup.status_line.value
    setup.reason.value = "last participant out"
    setup.next_button.click()
    assert "closed" in setup.status_line.value

    def check(s):  # type: ignore[no-untyped-def]
        st = get_study(s, "WS-1")
        assert [(e.code, e.instruments, e.respondent_type) for e in st.events] == [
            ("BL", ["phq-9"], "patient"), ("M03", ["carer_burden"], "carer")]
        return [(e.before["status"], e.after["status"], e.reason, e.actor) for e in s.execute(
            select(audit.AuditEntry).where(audit.AuditEntry.action == "study.status",
                                           audit.AuditEntry.object_id == "WS-1")
            .order_by(audit.AuditEntry.seq)).scalars()]

    assert in_session(desk.settings, check) == [
        ("draft", "active", "ethics approval received", "platform.manager"),
        ("active", "closed", "last participant out", "platform.manager")]
    queue = space.view("alerts")
    assert isinstance(queue, AlertsQueue) and "No open alert" in queue.table.value
    assert "carer_burden" in {v for _l, v in queue.rule_instrument.options}
    compliance = space.view("compliance")
    assert isinstance(compliance, ComplianceView)
    assert set(compliance.instrument.options) == {"phq-9", "carer_burden"}
    assert 'role="alert"' not in compliance.status.value  # nobody included yet: nothing is due
    assert "No assessment window has closed yet" in compliance.table.value


@pytest.mark.parametrize("name", ["pain.xlsx", "sleep.json"])
def test_check_shows_what_would_be_stored_then_import_stores_it(desk: StaffDesk, name: str) -> None:
    seed_running(desk.settings)
    content = _xlsform() if name.endswith(".xlsx") else json.dumps(FHIR).encode()
    expected = "pain-diary" if name.endswith(".xlsx") else "sleep-check"
    library = InstrumentLibrary(desk, STUDY)
    _upload(library, name, content)
    library.check_button.click()
    assert expected in library.preview.value and "nothing stored" in library.status.value
    assert _stored(desk.settings) == 0
    library.import_button.click()
    assert expected in library.status.value and _stored(desk.settings) == 1
    assert library.upload.value == ()

    def check(s):  # type: ignore[no-untyped-def]
        record = s.execute(select(InstrumentRecord)).scalar_one()
        assert record.study_id == get_study(s, STUDY).id and record.file_name == name
        assert record.created_by == "platform.manager"
        return get_instrument(s, expected).names()

    assert in_session(desk.settings, check) == (["pain", "comment"] if expected == "pain-diary"
                                                 else ["hours", "rested"])


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.txt", b"hello", "REDCap dictionary (.csv)"),
    ("bad.json", b"{not json", "bad.json"),
    ("form.xlsx", b"not a workbook", "form.xlsx: not a readable xlsx"),
    ("q.json", json.dumps({**FHIR, "item": [FHIR["item"][0], FHIR["item"][0]]}).encode(), "q.json"),
])
def test_bad_files_are_named_and_nothing_is_stored(desk: StaffDesk, name: str, content: bytes,
                                                   message: str) -> None:
    library = InstrumentLibrary(desk)
    library.import_button.click()
    assert "choose a file first" in library.status.value
    _upload(library, name, content)
    for button in (library.check_button, library.import_button):
        button.click()
        assert 'role="alert"' in library.status.value and message in library.status.value, library.status.value
        assert "Traceback" not in library.status.value and "/tmp" not in library.status.value
    assert _stored(desk.settings) == 0


def test_import_needs_a_manager_of_the_study(staff: Settings) -> None:
    seed_running(staff)
    for viewer in ("researcher.one", "other.manager", "dr.site"):
        library = InstrumentLibrary(StaffDesk(staff, viewer), STUDY)
        _upload(library, "carers.csv", DICTIONARY.encode())
        library.import_button.click()
        assert 'role="alert"' in library.status.value, viewer
    assert _stored(staff) == 0


def test_investigator_reaches_the_alerts_of_their_study_only(staff: Settings) -> None:
    fire_alerts(staff, seed_running(staff))
    space = StudyWorkspace(StaffDesk(staff, "dr.site"))  # investigator of the study's IGR site
    assert STUDY in space.studies.table.value
    space.study.value = STUDY
    queue = space.view("alerts")
    assert isinstance(queue, AlertsQueue) and queue.table.value.count("Ouverte / Open") == 2
    setup = space.views["setup"]
    setup.save_button.click()  # may look at the set-up, not change it
    assert "no role on study" in setup.status.value
    other = StudyWorkspace(StaffDesk(staff, "other.manager"))
    assert STUDY not in {v for _l, v in other.study.options} and STUDY not in other.studies.table.value


def test_refreshing_the_list_keeps_the_open_study(desk: StaffDesk) -> None:
    seed_running(desk.settings)
    space = StudyWorkspace(desk)
    space.study.value = STUDY
    setup = space.views["setup"]
    setup.event_code.value = "typed, not saved"
    space.studies.refresh_button.click()
    assert space.study.value == STUDY and space.views["setup"] is setup
    assert setup.event_code.value == "typed, not saved"


@pytest.mark.parametrize("viewer", [None, "nobody"])
def test_workspace_refuses_without_a_staff_viewer(staff: Settings, viewer: str | None) -> None:
    page = study_workspace(staff, viewer)
    text = page.value if viewer is None else page.studies.status.value
    assert 'role="alert"' in text and "Traceback" not in text


def test_landing_notebook_builds_the_workspace(staff: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = json.loads((REPO_ROOT / "notebooks" / "dashboards" / "studies.ipynb").read_text())
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert len(cells) <= 3 and all(not c["outputs"] for c in cells)
    for key, value in settings_environment(staff).items():
        monkeypatch.setenv(key, value)
    namespace: dict[str, Any] = {"WESHARE_VIEWER": "platform.manager"}  # what hub.voila_hooks injects
    page = None
    for cell in cells:  # run like a kernel: the value of a cell's last expression is displayed
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "studies.ipynb", "exec"), namespace)
        if last is not None:
            page = eval(compile(ast.Expression(last.value), "studies.ipynb", "eval"), namespace)
    assert isinstance(page, StudyWorkspace) and page.desk.viewer == "platform.manager"
    assert isinstance(page.views["setup"], StudySetup)
    assert page.desk.settings.database_url == staff.database_url
