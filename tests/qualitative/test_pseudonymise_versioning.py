"""Pseudonymisation through a reviewable list, and re-attaching codings to a new text version."""

from __future__ import annotations

import pytest

from workbench.errors import ValidationError
from workbench.qualitative.coding import CodedSegment
from workbench.qualitative.pseudonymise import (
    Replacement,
    apply_replacements,
    import_pseudonymised,
    propose_replacements,
    read_replacements,
    write_replacements,
)
from workbench.qualitative.transcript_formats import parse_plain_text
from workbench.qualitative.versioning import reattach

INTERVIEW = """Enquêteur: Bonjour, comment allez-vous depuis la fin des traitements ?
Marie Dupont: Ça va. Le Dr Martin m'a dit que la chimio était finie. Mon mari Jean-Pierre m'accompagne.
Marie Dupont: Lately I feel tired. My sister Claire lives in Rennes. Marie is what they call me.
Enquêteur: Et au travail ? Lundi vous reprenez ?
P01: Yes, on Monday.
"""


def test_proposal_finds_speakers_titles_and_capitalised_names() -> None:
    t = parse_plain_text(INTERVIEW)
    found = {r.name: r.origin for r in propose_replacements(t, names=["Rennes"])}
    assert found["Marie Dupont"] == "speaker"
    assert found["Marie"] == "name part"
    assert found["Martin"] == "title"
    assert found["Jean-Pierre"] == "capitalised"
    assert found["Claire"] == "capitalised"
    assert found["Rennes"] == "supplied"
    placeholders = {r.name: r.placeholder for r in propose_replacements(t)}
    assert placeholders["Marie"] == placeholders["Dupont"] == placeholders["Marie Dupont"]
    assert len({placeholders[n] for n in ("Marie Dupont", "Martin", "Jean-Pierre", "Claire")}) == 4
    # Roles, study codes, sentence openers, weekdays and oncology words are not names.
    for word in ("Enquêteur", "P01", "Bonjour", "Lundi", "Monday", "Mon", "Le", "Ça", "Dr Martin"):
        assert word not in found


def test_apply_is_whole_word_longest_first_and_deterministic() -> None:
    t = parse_plain_text(INTERVIEW)
    pseudo, entries = import_pseudonymised(t, names=["Rennes"])
    for name in ("Marie", "Dupont", "Martin", "Jean-Pierre", "Claire", "Rennes"):
        assert name not in pseudo.text
    assert pseudo.turns[1].speaker == "[NAME-01]"  # "Marie Dupont" wins over "Marie"
    assert "Le Dr [NAME-" in pseudo.text
    assert pseudo.metadata["pseudonymised"] == "yes"
    for turn in pseudo.turns:
        assert pseudo.text[turn.start:turn.end] == turn.text
    again = apply_replacements(t, list(reversed(entries)))
    assert again.text == pseudo.text


def test_reviewed_list_round_trips_through_csv_and_edits_apply() -> None:
    t = parse_plain_text(INTERVIEW)
    entries = propose_replacements(t)
    reviewed_csv = write_replacements(entries)
    assert reviewed_csv.startswith("name,placeholder,origin,occurrences\n")
    edited = [e for e in read_replacements(reviewed_csv) if e.name != "Claire"]
    edited = [Replacement(e.name, "[PATIENT]" if e.name == "Marie Dupont" else e.placeholder,
                          e.origin) for e in edited]
    out = apply_replacements(t, edited)
    assert "Claire" in out.text and "[PATIENT]: Ça va." in out.text


def test_bad_lists_are_rejected() -> None:
    t = parse_plain_text(INTERVIEW)
    with pytest.raises(ValidationError, match="row 1: placeholder"):
        apply_replacements(t, [Replacement("Marie", "PERSON", "reviewer")])
    with pytest.raises(ValidationError, match="listed twice"):
        apply_replacements(t, [Replacement("Marie", "[A]", "x"), Replacement("marie", "[B]", "x")])
    with pytest.raises(ValidationError, match="header"):
        read_replacements("who,what\n")
    with pytest.raises(ValidationError, match="row 2 column name"):
        read_replacements("name,placeholder\n,[X]\n")


OLD = "P01: Lately, I feel tired all the time.\nP01: Work is hard.\nP01: I feel tired again.\n"


def _seg(text: str, quote: str, nth: int = 0, **kw: str) -> CodedSegment:
    start = -1
    for _ in range(nth + 1):
        start = text.index(quote, start + 1)
    return CodedSegment("p01", start, start + len(quote), kw.get("code", "fatigue"), "A")


def test_reattach_unchanged_moved_and_lost() -> None:
    segs = [_seg(OLD, "I feel tired"), _seg(OLD, "Work is hard", code="work"),
            _seg(OLD, "I feel tired", nth=1), _seg(OLD, "all the time")]
    new = ("P01: Lately, I feel tired all   the time.\nInterviewer: Sorry?\nP01: Work is hard.\n"
           "P01: I feel tired again.\n")
    report = reattach(segs, OLD, new)
    assert report.complete and len(report.attached) == 4
    by_code = {(s.code, s.quote): s for s in report.attached}
    for seg in report.attached:
        assert new[seg.start:seg.end] == seg.quote
    assert report.how[0] == "unchanged"
    # The second "I feel tired" moved with its line, not onto the first occurrence.
    second = report.attached[2]
    assert second.start == new.index("I feel tired again")
    assert "whitespace" in report.how[3]
    assert ("work", "Work is hard") in by_code
    gone = reattach([_seg(OLD, "Work is hard")], OLD, OLD.replace("Work is hard", "Work is fine"))
    assert gone.attached == [] and gone.unattached[0][1] == "quoted text not found in the new version"


def test_reattach_refuses_codings_that_do_not_match_the_old_text() -> None:
    bad = CodedSegment("p01", 0, 5, "x", "A", quote="nope!")
    report = reattach([bad], OLD, OLD)
    assert report.unattached[0][1] == "does not match the old text at its offsets"
