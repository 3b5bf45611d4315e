"""REFI-QDA: the research fixture, round trips, vendor variations and clear errors.

The fixture ``data/fixture_project.qde`` is the minimal project of the research notes (b.7),
whose source text is ``P01: Lately, I feel tired all the time.\\n`` so ``text[13:25]`` is
"I feel tired".
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from workbench.errors import ValidationError
from workbench.qualitative.codebook import Memo, load_starter_codebook
from workbench.qualitative.coding import CodedSegment
from workbench.qualitative.refi import (
    from_project,
    project_to_xml,
    read_qdc,
    read_qdpx,
    schema,
    to_project,
    write_qdc,
    write_qdpx,
)
from workbench.qualitative.refi.convert import code_description, parse_code_description
from workbench.qualitative.refi.model import Variable
from workbench.qualitative.transcript_formats import parse_plain_text

DATA = Path(__file__).parent / "data"
FIXTURE_QDE = (DATA / "fixture_project.qde").read_text(encoding="utf-8")
SOURCE_GUID = "00000000-0000-4000-8000-0000000000f1"
SOURCE_TEXT = "P01: Lately, I feel tired all the time.\n"


def _archive(tmp_path: Path, qde: str = FIXTURE_QDE, *, folder: str = "Sources",
             text: str | bytes = SOURCE_TEXT, name: str = "p.qdpx", bom: bool = False) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", ("\ufeff" if bom else "") + qde)
        zf.writestr(f"{folder}/{SOURCE_GUID}.txt", text)
    return path


def test_fixture_imports_with_everything(tmp_path: Path) -> None:
    project = read_qdpx(_archive(tmp_path))
    assert [u.name for u in project.users] == ["Coder A", "Coder B"]
    assert [(c.name, c.codable, c.parent is None) for c in project.codes] == [
        ("Treatment burden", False, True), ("Fatigue", True, False)]
    assert project.variables == (Variable("00000000-0000-4000-8000-0000000000d1", "Age", "Integer"),)
    assert project.cases[0].values == (("00000000-0000-4000-8000-0000000000d1", 54),)
    source = project.sources[0]
    selection = source.selections[0]
    assert source.text[selection.start:selection.end] == "I feel tired"
    assert {c.coder for c in selection.codings} == {"00000000-0000-4000-8000-0000000000a1",
                                                   "00000000-0000-4000-8000-0000000000b2"}
    assert project.notes[0].text == "Fatigue dominates the second half."
    assert source.notes == (project.notes[0].guid,)
    assert project.sets[0].codes == ("00000000-0000-4000-8000-000000000c02",)
    imported = from_project(project)
    assert [(s.code, s.coder, s.quote) for s in imported.segments] == [
        ("fatigue", "A", "I feel tired"), ("fatigue", "B", "I feel tired")]
    assert imported.cases.to_dict("records") == [
        {"participant": "P01", "source": "P01 interview", "Age": 54}]
    assert imported.codebook.memos[0].about == ("P01 interview",)


def test_round_trip_keeps_everything_and_output_validates(tmp_path: Path) -> None:
    project = read_qdpx(_archive(tmp_path))
    again = read_qdpx(write_qdpx(project, tmp_path / "again.qdpx"))
    assert again == project
    with zipfile.ZipFile(tmp_path / "again.qdpx") as zf:
        assert sorted(zf.namelist()) == ["Sources/" + SOURCE_GUID + ".txt", "project.qde"]
        xml = zf.read("project.qde")
    assert schema().validate(etree.fromstring(xml))
    # Re-exporting gives byte-identical XML: GUIDs and order are stable.
    assert project_to_xml(again, {SOURCE_GUID: f"internal://{SOURCE_GUID}.txt"}) == xml


def test_vendor_variations_are_accepted(tmp_path: Path) -> None:
    upper = FIXTURE_QDE.replace("00000000-0000-4000-8000-0000000000c02",
                                "{00000000-0000-4000-8000-0000000000C02}")
    upper = upper.replace('guid="00000000-0000-4000-8000-000000000c02"',
                          'guid="{00000000-0000-4000-8000-000000000C02}"')
    upper = upper.replace(f"internal://{SOURCE_GUID}.txt", f"internal://{SOURCE_GUID.upper()}.txt")
    path = _archive(tmp_path, upper, folder="sources", text="\ufeff" + SOURCE_TEXT, bom=True)
    project = read_qdpx(path)
    assert project.codes[1].guid == "00000000-0000-4000-8000-000000000c02"
    assert project.sources[0].text == SOURCE_TEXT


@pytest.mark.parametrize(("edit", "message"), [
    (lambda x: x.replace("<Notes>", "<Unknown/><Notes>"), "project.qde line 38: Element 'Unknown': This element is not expected"),
    (lambda x: x.replace('guid="00000000-0000-4000-8000-000000000101"', 'guid="not-a-guid"'),
     "Element 'PlainTextSelection', attribute 'guid': 'not-a-guid' is not a valid value (expected a GUID"),
    (lambda x: x.replace('endPosition="25"', 'endPosition="99"'),
     "<PlainTextSelection 00000000-0000-4000-8000-000000000101>: positions [13, 99) fall outside"),
    (lambda x: x.replace('isCodable="true" ', ""), "attribute 'isCodable' is required"),
    (lambda x: x.replace("<Sets>", "<Links/><Sets>"), "<Links> is valid REFI-QDA but not supported"),
    (lambda x: x.replace('<CodeRef targetGUID="00000000-0000-4000-8000-000000000c02"/></Coding>\n'
                         '        <Coding guid="00000000-0000-4000-8000-000000000202"',
                         '<CodeRef targetGUID="00000000-0000-4000-8000-000000000c09"/></Coding>\n'
                         '        <Coding guid="00000000-0000-4000-8000-000000000202"'),
     "<Coding 00000000-0000-4000-8000-000000000201> CodeRef: refers to "
     "00000000-0000-4000-8000-000000000c09, which is not a known Code"),
    (lambda x: x.replace('creatingUser="00000000-0000-4000-8000-0000000000b2"',
                         'creatingUser="00000000-0000-4000-8000-0000000000b9"'), "not a known User"),
    (lambda x: x.replace(f"{SOURCE_GUID}.txt", "missing.txt"), "'internal://missing.txt' is missing"),
    (lambda x: x.replace("urn:QDA-XML:project:1.0", "urn:other"), "root element must be <Project>"),
    (lambda x: x.replace("</Project>", ""), "not well-formed XML"),
])
def test_bad_projects_fail_with_the_element_named(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        read_qdpx(_archive(tmp_path, edit(FIXTURE_QDE)))
    assert message in str(info.value)


def test_bad_archives(tmp_path: Path) -> None:
    (tmp_path / "x.qdpx").write_bytes(b"garbage")
    with pytest.raises(ValidationError, match="not a readable"):
        read_qdpx(tmp_path / "x.qdpx")
    with zipfile.ZipFile(tmp_path / "y.qdpx", "w") as zf:
        zf.writestr("other.xml", "<a/>")
    with pytest.raises(ValidationError, match=r"no project\.qde"):
        read_qdpx(tmp_path / "y.qdpx")
    with pytest.raises(ValidationError, match="not UTF-8"):
        read_qdpx(_archive(tmp_path, text="caf\xe9".encode("latin-1")))


def test_failed_export_leaves_no_file(tmp_path: Path) -> None:
    project = read_qdpx(_archive(tmp_path))
    broken = replace(project, sets=(replace(project.sets[0], codes=("00000000-0000-4000-8000-00000000dead",)),))
    target = tmp_path / "out.qdpx"
    with pytest.raises(ValidationError, match="MemberCode"):
        write_qdpx(broken, target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["p.qdpx"]


def _study():  # type: ignore[no-untyped-def]
    book = load_starter_codebook("fr")
    book = replace(book, memos=(Memo("m1", "Règle fatigue", "Coder même la fatigue légère.",
                                     kind="code rule", about=("fatigue",), author="A",
                                     created=datetime(2025, 3, 1, 9, 30, tzinfo=UTC)),))
    texts = {
        "P-001": parse_plain_text("Enquêtrice: Comment ça va ?\nP-001: Fatiguée 😊, et j'ai "
                                  "peur que ça revienne.\n", "P-001"),
        "P-002": parse_plain_text("Enquêtrice: Et le travail ?\nP-002: J'ai repris à mi-temps.\n",
                                  "P-002"),
    }
    t1, t2 = texts["P-001"], texts["P-002"]
    fat = t1.text.index("Fatiguée")
    fear = t1.text.index("peur")
    work = t2.text.index("J'ai repris")
    segs = [CodedSegment("P-001", fat, fat + 10, "fatigue", "A"),
            CodedSegment("P-001", fat, fat + 10, "fatigue", "B",
                         created=datetime(2025, 3, 2, 10, 0, tzinfo=UTC)),
            CodedSegment("P-001", fear, len(t1.text) - 2, "fear_of_recurrence", "A"),
            CodedSegment("P-002", work, work + 11, "return_to_work", "B")]
    cases = pd.DataFrame({"participant": ["P-001", "P-002"], "source": ["P-001", "P-002"],
                          "age": [54, 61], "arm": ["A", "B"], "qol": [61.5, 70.25],
                          "working": [False, True]})
    return book, texts, segs, cases


def test_workbench_project_round_trip(tmp_path: Path) -> None:
    book, texts, segs, cases = _study()
    project = to_project("Étude QdV", book, texts, segs, cases=cases,
                         created=datetime(2025, 3, 3, tzinfo=UTC))
    path = write_qdpx(project, tmp_path / "etude.qdpx")
    back = read_qdpx(path)
    assert back == project
    imported = from_project(back, language="fr")
    # Codes keep hierarchy, colours, definitions, criteria, examples, origin and GUIDs.
    for code in book.codes:
        got = imported.codebook.codes[[c.guid for c in imported.codebook.codes].index(code.guid)]
        assert (got.name, got.color, got.definition, got.inclusion, got.exclusion, got.examples,
                got.origin, got.codable) == (code.name, code.color, code.definition,
                                             code.inclusion, code.exclusion, code.examples,
                                             code.origin, code.codable)
        if code.parent:
            assert imported.codebook.code(got.parent).guid == book.code(code.parent).guid
    assert [(t.name, len(t.codes)) for t in imported.codebook.themes] == \
        [(t.name, len(t.codes)) for t in book.themes]
    memo = imported.codebook.memos[0]
    assert (memo.title, memo.kind, memo.author, memo.created) == (
        "Règle fatigue", "code rule", "A", datetime(2025, 3, 1, 9, 30, tzinfo=UTC))
    assert imported.codebook.code(memo.about[0]).guid == book.code("fatigue").guid
    # Texts, turns and code-point offsets survive (emoji included).
    for name, transcript in texts.items():
        assert imported.transcripts[name].text == transcript.text
        assert imported.transcripts[name].turns == transcript.turns
    key = lambda s: (s.source, s.start, s.end, s.coder)  # noqa: E731
    for mine, theirs in zip(sorted(segs, key=key), sorted(imported.segments, key=key), strict=True):
        assert (mine.source, mine.start, mine.end, mine.coder, mine.created) == \
            (theirs.source, theirs.start, theirs.end, theirs.coder, theirs.created)
        assert theirs.quote == texts[mine.source].text[mine.start:mine.end]
    # One selection carries both coders' codings of the same span.
    p1 = next(s for s in project.sources if s.name == "P-001")
    assert sorted(len(sel.codings) for sel in p1.selections) == [1, 2]
    # Typed case variables.
    values = dict(imported.cases.set_index("participant").loc["P-001"])
    assert values == {"source": "P-001", "age": 54, "arm": "A", "qol": Decimal("61.5"),
                      "working": False}


def test_unicode_and_crlf_sources_keep_code_point_offsets(tmp_path: Path) -> None:
    text = "P01: Café 😊 fatigue\r\nP01: encore\r\n"
    qde = FIXTURE_QDE.replace('name="I feel tired"\n                          startPosition="13" '
                              'endPosition="25"', 'name="fatigue"\n                          '
                              'startPosition="12" endPosition="19"')
    project = read_qdpx(_archive(tmp_path, qde, text=text))
    sel = project.sources[0].selections[0]
    assert project.sources[0].text[sel.start:sel.end] == "fatigue"
    imported = from_project(project)
    transcript = imported.transcripts["P01 interview"]
    assert transcript.text == text  # not canonical: kept verbatim, one turn per line
    assert transcript.metadata["layout"] == "lines"
    assert transcript.text[transcript.turns[1].start:transcript.turns[1].end] == "P01: encore"


def test_codebook_qdc_round_trip(tmp_path: Path) -> None:
    book, texts, segs, _ = _study()
    project = to_project("x", book, texts, segs)
    path = write_qdc(project.codes, project.sets, tmp_path / "book.qdc")
    assert b'xmlns="urn:QDA-XML:codebook:1.0"' in path.read_bytes()
    codes, sets = read_qdc(path)
    assert [(c.guid, c.name, c.parent, c.color, c.description, c.codable) for c in codes] == \
        [(c.guid, c.name, c.parent, c.color, c.description, c.codable) for c in project.codes]
    assert sets == list(project.sets)
    bad = path.read_text(encoding="utf-8").replace("<MemberCode", "<Member", 1)
    (tmp_path / "bad.qdc").write_text(bad, encoding="utf-8")
    with pytest.raises(ValidationError, match=r"bad\.qdc line \d+: Element 'Member'"):
        read_qdc(tmp_path / "bad.qdc")


def test_research_codebook_fixture_validates(tmp_path: Path) -> None:
    qdc = ('<?xml version="1.0" encoding="utf-8"?>\n'
           '<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="fixture"><Codes>'
           '<Code guid="00000000-0000-4000-8000-000000000c01" name="Treatment burden" '
           'isCodable="false" color="#1f77b4"><Description>Category</Description>'
           '<Code guid="00000000-0000-4000-8000-000000000c02" name="Fatigue" isCodable="true"/>'
           '</Code></Codes><Sets><Set guid="00000000-0000-4000-8000-000000000401" name="Symptoms">'
           '<MemberCode guid="00000000-0000-4000-8000-000000000c02"/></Set></Sets></CodeBook>')
    (tmp_path / "f.qdc").write_text(qdc, encoding="utf-8")
    codes, sets = read_qdc(tmp_path / "f.qdc")
    assert [c.name for c in codes] == ["Treatment burden", "Fatigue"]
    assert sets[0].codes == ("00000000-0000-4000-8000-000000000c02",)


def test_code_description_round_trip() -> None:
    code = load_starter_codebook("en").code("return_to_work")
    fields = parse_code_description(code_description(code))
    assert (fields["definition"], fields["inclusion"], fields["exclusion"], fields["examples"],
            fields["origin"]) == (code.definition, code.inclusion, code.exclusion, code.examples,
                                  "a_priori")
    assert parse_code_description("Free text from NVivo\nsecond line")["definition"] == \
        "Free text from NVivo\nsecond line"


def test_variable_value_types_round_trip(tmp_path: Path) -> None:
    project = read_qdpx(_archive(tmp_path))
    variables = (*project.variables,
                 Variable("00000000-0000-4000-8000-0000000000d2", "Diagnosed", "Date"),
                 Variable("00000000-0000-4000-8000-0000000000d3", "Smoker", "Boolean"),
                 Variable("00000000-0000-4000-8000-0000000000d4", "Score", "Float"),
                 Variable("00000000-0000-4000-8000-0000000000d5", "Seen", "DateTime"),
                 Variable("00000000-0000-4000-8000-0000000000d6", "Note", "Text"))
    values = (*project.cases[0].values,
              ("00000000-0000-4000-8000-0000000000d2", date(2024, 5, 2)),
              ("00000000-0000-4000-8000-0000000000d3", True),
              ("00000000-0000-4000-8000-0000000000d4", Decimal("3.25")),
              ("00000000-0000-4000-8000-0000000000d5", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
              ("00000000-0000-4000-8000-0000000000d6", "  spaces & <tags> kept  "))
    richer = replace(project, variables=variables,
                     cases=(replace(project.cases[0], values=values),))
    assert read_qdpx(write_qdpx(richer, tmp_path / "r.qdpx")) == richer
