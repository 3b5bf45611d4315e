"""REDCap dictionary, XLSForm and FHIR Questionnaire: import, export, round trips, bad files."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from workbench.errors import ValidationError
from workbench.instruments.answers import check_answers, visible_items
from workbench.instruments.expressions import evaluate, holds
from workbench.instruments.fhir import read_questionnaire, write_questionnaire
from workbench.instruments.library import list_instruments
from workbench.instruments.redcap import HEADER, read_data_dictionary, write_data_dictionary
from workbench.instruments.xlsform import read_xlsform

FIXTURE = """\
Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"Choices, Calculations, OR Slider Labels",Field Note,Text Validation Type OR Show Slider Number,Text Validation Min,Text Validation Max,Identifier?,Branching Logic (Show field only if...),Required Field?,Custom Alignment,Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation
record_id,baseline,,text,Record ID,,,,,,,,,,,,,
visit_date,baseline,,text,Date of visit,,,date_ymd,2020-01-01,,,,y,,,,,
weight,baseline,,text,Weight (kg),,,number,30,250,,,,,,,,
symptoms,baseline,,checkbox,Symptoms,"1, Pain, burning | 2, Fatigue | -9, None of these",,,,,,,,,,,,
pain_score,baseline,,slider,Pain now,No pain |  | Worst pain,,number,,,,[symptoms(1)] = '1',,,,,,
phq9_1,phq9,Over the last 2 weeks...,radio,Little interest or pleasure in doing things,"0, Not at all | 1, Several days | 2, More than half the days | 3, Nearly every day",,,,,,,y,,,phq9,,
phq9_9,phq9,,radio,Thoughts that you would be better off dead...,"0, Not at all | 1, Several days | 2, More than half the days | 3, Nearly every day",,,,,,,y,,,phq9,,
phq9_total,phq9,,calc,PHQ-9 total (partial fixture),"sum([phq9_1],[phq9_9])",,,,,,,,,,,,@HIDDEN-SURVEY
help_contact,phq9,,yesno,May the team contact you?,,,,,,,[phq9_9] > '0',,,,,,
"""


def _dictionary(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dictionary.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _replace_cell(text: str, line: int, column: int, value: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    rows[line - 1][column] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


# --- expressions --------------------------------------------------------------------------------
def test_expressions_follow_redcap_semantics() -> None:
    answers = {"a": 2, "b": "", "c": [1, 3], "d": "y"}
    assert holds("[a] = '2' and ([b] = '' or [a] > 5)", answers)
    assert not holds("[b] > 0", answers)  # blank compares false
    assert holds("[c(3)] = '1' and [c(2)] = '0'", answers)
    assert evaluate("sum([a], [b], 3)", answers) == 5 and evaluate("[a] + [b]", answers) is None
    assert evaluate("if([a] >= 2, 10, 20) * 2 ^ 2", answers) == 40
    assert evaluate("round(2.345, 2)", {}) == 2.35 and evaluate("round(-2.5)", {}) == -3
    assert holds("not [d] = 'n'", answers) and evaluate("[a] / 0", answers) is None
    for bad in ("[a] = ", "import('os')", "[a] === 1", "sum(", "__class__"):
        with pytest.raises(ValidationError):
            evaluate(bad, answers)


# --- REDCap -------------------------------------------------------------------------------------
def test_redcap_dictionary_imports_forms_types_and_logic(tmp_path: Path) -> None:
    parsed = read_data_dictionary(_dictionary(tmp_path, FIXTURE))
    assert parsed.record_id == "record_id" and [i.id for i in parsed.instruments] == ["baseline", "phq9"]
    baseline, phq = parsed.instruments
    kinds = {i.name: i.kind for i in baseline.items + phq.items}
    assert kinds == {"visit_date": "date", "weight": "decimal", "symptoms": "multiple", "pain_score": "slider",
                     "phq9_1": "single", "phq9_9": "single", "phq9_total": "calc", "help_contact": "yesno"}
    symptoms = baseline.item("symptoms")
    assert [(c.code, c.label["en"]) for c in symptoms.choices] == [("1", "Pain, burning"), ("2", "Fatigue"),
                                                                   ("-9", "None of these")]
    assert [i.name for i in visible_items(baseline, {"symptoms": [2]})] == ["visit_date", "weight", "symptoms"]
    typed = check_answers(phq, {"phq9_1": "1", "phq9_9": "2", "help_contact": "1"})
    assert typed == {"phq9_1": 1, "phq9_9": 2, "help_contact": 1, "phq9_total": 3.0}
    assert check_answers(phq, {"phq9_1": 0, "phq9_9": 0, "help_contact": 1}) == {
        "phq9_1": 0, "phq9_9": 0, "phq9_total": 0.0}  # hidden by branching: dropped
    with pytest.raises(ValidationError, match="at least 30"):
        check_answers(baseline, {"visit_date": "2024-02-01", "weight": "12"})
    with pytest.raises(ValidationError, match="Saisissez une date"):
        check_answers(baseline, {"visit_date": "01/02/2024"}, "fr")


def test_redcap_round_trip_is_exact(tmp_path: Path) -> None:
    first = read_data_dictionary(_dictionary(tmp_path, FIXTURE))
    text = write_data_dictionary(first.instruments)
    assert next(csv.reader(io.StringIO(text))) == list(HEADER)
    again = read_data_dictionary("again.csv", text=text)
    assert again.instruments == first.instruments
    assert text == FIXTURE


@pytest.mark.parametrize(("line", "column", "value", "message"), [
    (3, 3, "matrix", "row 3, column 'Field Type': unknown field type 'matrix'"),
    (3, 0, "Visit-Date", "row 3, column 'Variable / Field Name'"),
    (4, 0, "visit_date", "duplicate variable"),
    (5, 5, "1 Pain | 2, Fatigue", "must be 'code, label'"),
    (6, 11, "[unknown_field] = '1'", "unknown field [unknown_field]"),
    (6, 11, "[symptoms(1)] = = '1'", "column 'Branching Logic"),
    (9, 5, "sum([phq9_1],[later])", "unknown field [later]"),
    (4, 8, "thirty", "'thirty' is not a number"),
    (8, 1, "baseline", "must be contiguous"),
])
def test_redcap_bad_rows_name_row_and_column(tmp_path: Path, line, column, value, message) -> None:
    with pytest.raises(ValidationError, match=__import__("re").escape(message)) as caught:
        read_data_dictionary(_dictionary(tmp_path, _replace_cell(FIXTURE, line, column, value)))
    assert "dictionary.csv" in str(caught.value)


def test_redcap_header_and_unknown_validation(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="row 1: column 4 must be 'Field Type'"):
        read_data_dictionary(_dictionary(tmp_path, FIXTURE.replace("Field Type", "Type", 1)))
    parsed = read_data_dictionary(_dictionary(tmp_path, _replace_cell(FIXTURE, 4, 7, "mrn_10d")))
    assert any("unknown validation 'mrn_10d'" in w for w in parsed.warnings)


# --- XLSForm ------------------------------------------------------------------------------------
def _xlsform(tmp_path: Path, survey: list[list[str]], choices: list[list[str]] | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    if choices:
        other = book.create_sheet("choices")
        for row in choices:
            other.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "form_title", "version", "default_language"])
    settings.append(["distress", "Distress", "2026112201", "Français (fr)"])
    path = tmp_path / "form.xlsx"
    book.save(path)
    return path


SURVEY = [
    ["type", "name", "label::Français (fr)", "label::English (en)", "relevant", "constraint",
     "constraint_message::Français (fr)", "constraint_message::English (en)", "required", "calculation"],
    ["select_one yn", "consent", "Acceptez-vous ?", "Do you agree?", "", "", "", "", "yes", ""],
    ["begin_group", "g", "Groupe", "Group", "${consent} = 'y'", "", "", "", "", ""],
    ["integer", "age", "Âge", "Age", "", ". >= 18 and . <= 120", "Adulte seulement", "Adults only", "", ""],
    ["select_multiple sym", "sym", "Symptômes", "Symptoms", "", "", "", "", "", ""],
    ["text", "other", "Autre", "Other", "selected(${sym}, 'x')", "", "", "", "", ""],
    ["calculate", "older", "", "", "", "", "", "", "", "${age} + 1"],
    ["end_group", "", "", "", "", "", "", "", "", ""],
]
CHOICES = [["list_name", "name", "label::Français (fr)", "label::English (en)"],
           ["yn", "y", "Oui", "Yes"], ["yn", "n", "Non", "No"],
           ["sym", "p", "Douleur", "Pain"], ["sym", "x", "Autre", "Other"]]


def test_xlsform_imports_translations_groups_and_constraints(tmp_path: Path) -> None:
    form = read_xlsform(_xlsform(tmp_path, SURVEY, CHOICES))
    assert form.id == "distress" and form.version == "2026112201" and form.source == "xlsform"
    assert form.item("age").label == {"fr": "Âge", "en": "Age"}
    assert form.item("other").branching == "([consent] = 'y') and ([sym(x)] = '1')"
    with pytest.raises(ValidationError, match="Adulte seulement"):
        check_answers(form, {"consent": "y", "age": 12}, "fr")
    typed = check_answers(form, {"consent": "y", "age": 40, "sym": ["p", "x"], "other": "nausée"})
    assert typed["older"] == 41 and typed["other"] == "nausée"
    assert check_answers(form, {"consent": "n", "age": 12}) == {"consent": "n"}


@pytest.mark.parametrize(("row", "message"), [
    (["begin_repeat", "r", "R", "R", "", "", "", "", "", ""], "repeat groups are not supported"),
    (["text", "t", "T", "T", "string-length(${consent}) > 2", "", "", "", "", ""],
     "survey row 9, column 'relevant': the function string-length() is not supported"),
    (["text", "t", "T", "T", "${nowhere} = 'y'", "", "", "", "", ""], "[row : 9]"),
])
def test_xlsform_unsupported_and_unknown_references_name_the_row(tmp_path: Path, row, message) -> None:
    survey = [*SURVEY, row] + ([["end_repeat", "", "", "", "", "", "", "", "", ""]] if row[0] == "begin_repeat" else [])
    with pytest.raises(ValidationError, match=__import__("re").escape(message)):
        read_xlsform(_xlsform(tmp_path, survey, CHOICES))


def test_xlsform_pyxform_errors_and_damaged_files(tmp_path: Path) -> None:
    duplicate = [*SURVEY[:3], ["integer", "age", "A", "A", "", "", "", "", "", ""], *SURVEY[3:]]
    with pytest.raises(ValidationError, match=r"form\.xlsx") as caught:
        read_xlsform(_xlsform(tmp_path, duplicate, CHOICES))
    assert "age" in str(caught.value)
    with pytest.raises(ValidationError, match=r"form\.xlsx"):
        read_xlsform(_xlsform(tmp_path, SURVEY, None))  # select lists without a choices sheet
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    with pytest.raises(ValidationError, match="not a readable xlsx"):
        read_xlsform(junk)


# --- FHIR ---------------------------------------------------------------------------------------
LOINC_ANSWERS = [{"valueCoding": {"code": c, "display": d}} for c, d in
                 (("LA6568-5", "Not at all"), ("LA6569-3", "Several days"))]
PHQ_FHIR = {
    "resourceType": "Questionnaire", "id": "phq9-lhc", "status": "active", "title": "PHQ-9 quick",
    "item": [
        {"linkId": "/44250-9", "type": "choice", "text": "Little interest", "required": True,
         "answerOption": LOINC_ANSWERS},
        {"linkId": "/44260-8", "type": "choice", "text": "Thoughts of self-harm", "answerOption": LOINC_ANSWERS},
        {"linkId": "help", "type": "boolean", "text": "Do you want a call?",
         "enableWhen": [{"question": "/44260-8", "operator": "=", "answerCoding": {"code": "LA6569-3"}}]},
        {"linkId": "age", "type": "integer", "text": "Age", "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": 18}]},
    ],
}


def test_fhir_r4_import_with_loinc_link_ids_and_enable_when() -> None:
    form = read_questionnaire(data=json.loads(json.dumps(PHQ_FHIR)))
    assert form.names() == ["i_44250_9", "i_44260_8", "help", "age"]
    assert form.item("help").branching == "[i_44260_8] = 'LA6569-3'"
    assert [i.name for i in visible_items(form, {"i_44260_8": "LA6568-5"})] == ["i_44250_9", "i_44260_8", "age"]
    with pytest.raises(ValidationError, match="at least 18"):
        check_answers(form, {"i_44250_9": "LA6568-5", "age": 12})
    exported = write_questionnaire(form)
    assert [i["linkId"] for i in exported["item"]] == ["/44250-9", "/44260-8", "help", "age"]
    assert exported["item"][2]["enableWhen"][0]["question"] == "/44260-8"


@pytest.mark.parametrize(("change", "message"), [
    (lambda q: q["item"][1].update(linkId="/44250-9"), "linkId '/44250-9': linkId is not unique (que-2)"),
    (lambda q: q["item"][0].update(type="likert"), "linkId '/44250-9', field type: unknown item type"),
    (lambda q: q["item"][0].update(required="maybe"), "linkId '/44250-9', field required"),
    (lambda q: q["item"][3].update(colour="red"), "linkId 'age', field colour"),
    (lambda q: q["item"][2]["enableWhen"][0].update(question="nowhere"), "unknown question 'nowhere'"),
    (lambda q: q["item"].append({"linkId": "grp", "type": "group"}), "a group must contain items (que-1)"),
    (lambda q: q.pop("status"), "field status"),
])
def test_fhir_bad_questionnaires_name_link_id_and_field(change, message) -> None:
    data = json.loads(json.dumps(PHQ_FHIR))
    change(data)
    with pytest.raises(ValidationError, match=__import__("re").escape(message)) as caught:
        read_questionnaire("phq.json", data=data)
    assert "phq.json" in str(caught.value)


def _comparable(instrument):  # display hints and section names are presentation, not content
    return [replace(i, section="", section_label={}, widget="", annotation="") for i in instrument.items]


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_every_library_instrument_round_trips_through_fhir(version: str) -> None:
    for instrument in list_instruments():
        resource = json.loads(json.dumps(write_questionnaire(instrument, version=version)))
        back = read_questionnaire(data=resource)
        assert back.id == instrument.id and back.title == instrument.title
        assert _comparable(back) == _comparable(instrument), instrument.id
        if version == "R5":
            assert "choice" not in json.dumps(resource["item"]).replace("choices", "")


def test_library_instruments_export_to_redcap() -> None:
    for instrument in list_instruments():
        again = read_data_dictionary("x.csv", text=write_data_dictionary([instrument]), language="en")
        assert again.instruments[0].names() == instrument.names()
    with pytest.raises(ValidationError, match="unique across forms"):
        write_data_dictionary(list_instruments()[2:4])  # PHQ-9 and GAD-7 both use q1…
