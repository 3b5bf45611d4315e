"""Transcript import: every format gives the same canonical text and code-point offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document
from hypothesis import given
from hypothesis import strategies as st

from workbench.errors import ValidationError
from workbench.qualitative.transcript_formats import (
    parse_csv,
    parse_plain_text,
    parse_srt,
    parse_vtt,
    read_transcript,
)
from workbench.qualitative.transcripts import build_transcript, format_ms, parse_timestamp

CANONICAL = ("Interviewer: How have you been since the end of treatment?\n"
             "P01: Lately, I feel tired all the time.\n"
             "Interviewer: And at work?\n")


def _check_offsets(transcript) -> None:  # type: ignore[no-untyped-def]
    for turn in transcript.turns:
        assert transcript.text[turn.start:turn.end] == turn.text
        label = f"{turn.speaker}: " if turn.speaker else ""
        assert transcript.text[turn.line_start:turn.start] == label
        assert transcript.text[turn.end] == "\n"


def test_plain_text_speakers_and_offsets() -> None:
    t = parse_plain_text(CANONICAL.replace("\n", "\r\n"), "p01.txt")
    assert t.text == CANONICAL
    assert [x.speaker for x in t.turns] == ["Interviewer", "P01", "Interviewer"]
    assert t.text[t.turns[1].start + 8:t.turns[1].start + 20] == "I feel tired"
    assert t.turns[1].start == CANONICAL.index("\n") + 1 + len("P01: ")
    assert t.speakers == ["Interviewer", "P01"]
    _check_offsets(t)


def test_research_fixture_offsets() -> None:
    t = parse_plain_text("P01: Lately, I feel tired all the time.\n")
    assert t.text[13:25] == "I feel tired"
    assert t.turns[0].start == 5


def test_bracket_labels_timestamps_and_continuation_lines() -> None:
    t = parse_plain_text("[00:01:02] [Interviewer] Hello\n{P02} Well...\nit is hard.\n\n"
                         "(00:02:00.5) P02: Yes.\n")
    assert [(x.speaker, x.text, x.start_ms) for x in t.turns] == [
        ("Interviewer", "Hello", 62_000), ("P02", "Well...\nit is hard.", None),
        ("P02", "Yes.", 120_500)]
    _check_offsets(t)


def test_unicode_offsets_are_code_points() -> None:
    t = parse_plain_text("P01: Café 😊 e\u0301té fatigue\r\n")
    # NFC turns "e + combining accent" into one code point; the emoji counts as one.
    assert t.turns[0].text == "Café 😊 été fatigue"
    start = t.text.index("fatigue")
    assert start == 5 + len("Café 😊 été ")
    assert t.text[start:start + 7] == "fatigue"


def test_paragraphs_without_speakers_become_turns() -> None:
    t = parse_plain_text("First paragraph\ncontinues.\n\nSecond paragraph.\n")
    assert [x.text for x in t.turns] == ["First paragraph\ncontinues.", "Second paragraph."]
    assert t.turns[0].speaker == ""


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    doc = Document()
    doc.add_paragraph("Interviewer: How have you been since the end of treatment?")
    doc.add_paragraph("P01: Lately, I feel tired all the time.")
    table = doc.add_table(rows=1, cols=3)
    for cell, value in zip(table.rows[0].cells, ["00:03:10", "Interviewer", "And at work?"],
                           strict=True):
        cell.text = value
    path = tmp_path / "p01.docx"
    doc.save(path)
    t = read_transcript(path)
    assert t.text == CANONICAL
    assert t.turns[2].start_ms == 190_000
    (tmp_path / "bad.docx").write_bytes(b"not a zip")
    with pytest.raises(ValidationError, match=r"bad\.docx: not a readable \.docx"):
        read_transcript(tmp_path / "bad.docx")


VTT = """WEBVTT

NOTE produced by a local speech-to-text tool

1
00:00:01.000 --> 00:00:04.000 align:start
<v Interviewer>How have you been since the end of treatment?</v>

00:00:05.000 --> 00:00:07.500
<v P01>Lately, I feel tired</v>

00:00:07.500 --> 00:00:09.000
<v P01>all the time.</v>

00:00:10.000 --> 00:00:11.000
Interviewer: And at work?
"""

SRT = """1
00:00:01,000 --> 00:00:04,000
Interviewer: How have you been since the end of treatment?

2
00:00:05,000 --> 00:00:07,500
P01: Lately, I feel tired

3
00:00:07,500 --> 00:00:09,000
P01: all the time.

4
00:00:10,000 --> 00:00:11,000
[Interviewer] And at work?
"""


@pytest.mark.parametrize("parse", [lambda: parse_vtt(VTT), lambda: parse_srt(SRT)])
def test_subtitles_merge_cues_by_speaker(parse) -> None:  # type: ignore[no-untyped-def]
    t = parse()
    assert t.text == CANONICAL
    assert [(x.start_ms, x.end_ms) for x in t.turns] == [(1000, 4000), (5000, 9000),
                                                          (10000, 11000)]


def test_subtitle_errors_name_the_line() -> None:
    with pytest.raises(ValidationError, match="must start with 'WEBVTT'"):
        parse_vtt("1\n00:00:01.000 --> 00:00:02.000\nhi\n", "a.vtt")
    with pytest.raises(ValidationError, match=r"a.srt line 5: cue without"):
        parse_srt("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\nno timing here\n", "a.srt")
    with pytest.raises(ValidationError, match=r"a.srt line 2: .*not a timestamp|a.srt line 2"):
        parse_srt("1\n00:00:xx,000 --> 00:00:02,000\nhi\n", "a.srt")


def test_csv_turns_and_errors() -> None:
    t = parse_csv("speaker,start,end,text\nInterviewer,1.5,4,How have you been since the end of "
                  "treatment?\nP01,00:00:05.000,00:00:09,\"Lately, I feel tired all the time.\"\n"
                  "Interviewer,,,And at work?\n")
    assert t.text == CANONICAL
    assert (t.turns[0].start_ms, t.turns[0].end_ms, t.turns[1].end_ms) == (1500, 4000, 9000)
    with pytest.raises(ValidationError, match=r"t\.csv header: missing column"):
        parse_csv("who,start,end,text\n", "t.csv")
    with pytest.raises(ValidationError, match=r"t\.csv row 2 column start"):
        parse_csv("speaker,start,end,text\nA,soon,4,hi\n", "t.csv")
    with pytest.raises(ValidationError, match=r"t\.csv row 3 column text: empty"):
        parse_csv("speaker,start,end,text\nA,1,2,hi\nB,3,4,\n", "t.csv")
    with pytest.raises(ValidationError, match="ends"):
        parse_csv("speaker,start,end,text\nA,5,2,hi\n", "t.csv")


def test_read_transcript_dispatch_and_errors(tmp_path: Path) -> None:
    (tmp_path / "a.srt").write_text(SRT, encoding="utf-8")
    assert read_transcript(tmp_path / "a.srt").text == CANONICAL
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValidationError, match="unknown transcript format"):
        read_transcript(tmp_path / "a.pdf")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9".encode("latin-1"))
    with pytest.raises(ValidationError, match="not UTF-8"):
        read_transcript(tmp_path / "latin.txt")


def test_timestamps_round_trip() -> None:
    assert parse_timestamp("01:02:03.4", "x") == 3_723_400
    assert format_ms(3_723_400) == "01:02:03.400"
    with pytest.raises(ValidationError):
        parse_timestamp("00:61", "x")


def test_transcript_helpers() -> None:
    t = parse_plain_text(CANONICAL)
    assert t.turn_at(t.turns[1].line_start).index == 1
    assert [x.index for x in t.turns_overlapping(t.turns[0].end - 2, t.turns[1].start + 2)] == [0, 1]
    assert len(t.content_hash) == 64
    with pytest.raises(ValidationError, match="outside the text"):
        t.quote(0, len(t.text) + 1)


@given(st.lists(st.tuples(st.sampled_from(["", "Interviewer", "P01"]),
                          st.text(min_size=1, max_size=30)), max_size=8))
def test_offsets_always_slice_to_the_turn_text(turns: list[tuple[str, str]]) -> None:
    t = build_transcript("x", [(s, text, None, None) for s, text in turns])
    for turn in t.turns:
        assert t.text[turn.start:turn.end] == turn.text
        assert t.text[turn.end] == "\n"
