"""Codebooks: validation, hierarchy, themes, change log, and the bilingual starter codebook."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workbench.errors import NotFoundError, ValidationError
from workbench.qualitative.codebook import (
    Code,
    Codebook,
    Memo,
    Theme,
    changes_between,
    codebook_from_dict,
    codebook_to_dict,
    load_starter_codebook,
    stable_guid,
)

REQUIRED_TOPICS = {"return_to_work", "fear_of_recurrence", "body_image", "couple_family",
                   "financial_toxicity", "care_pathway", "information_needs"}


def test_starter_codebook_in_both_languages_with_same_structure() -> None:
    en, fr = load_starter_codebook("en"), load_starter_codebook("fr")
    assert {c.id for c in en.codes} >= REQUIRED_TOPICS
    assert [(c.id, c.parent, c.color, c.guid) for c in en.codes] == \
        [(c.id, c.parent, c.color, c.guid) for c in fr.codes]
    assert en.code("fear_of_recurrence").name == "Fear of recurrence"
    assert fr.code("fear_of_recurrence").name == "Peur de la récidive"
    for book in (en, fr):
        for code in book.codes:
            assert code.definition, code.id
            assert code.origin == "a_priori"
        assert {t.id for t in book.themes} and all(t.codes for t in book.themes)
    assert en.path("return_to_work") == ["Work and employment", "Return to work"]
    assert not en.code("work").codable
    with pytest.raises(ValidationError):
        load_starter_codebook("de")


def test_validation_errors_name_the_code() -> None:
    ok = Code("fatigue", "Fatigue")
    with pytest.raises(ValidationError, match="code 'x': parent 'nope' does not exist"):
        Codebook("b", codes=(ok, Code("x", "X", parent="nope")))
    with pytest.raises(ValidationError, match="duplicate code id"):
        Codebook("b", codes=(ok, ok))
    with pytest.raises(ValidationError, match="colour"):
        Codebook("b", codes=(Code("c", "C", color="blue"),))
    with pytest.raises(ValidationError, match="cycle"):
        Codebook("b", codes=(Code("a", "A", parent="b"), Code("b", "B", parent="a")))
    with pytest.raises(ValidationError, match="origin"):
        Codebook("b", codes=(Code("a", "A", origin="inductive"),))
    with pytest.raises(ValidationError, match="theme 't': unknown code"):
        Codebook("b", codes=(ok,), themes=(Theme("t", "T", codes=("missing",)),))
    with pytest.raises(ValidationError, match="memo 'm'"):
        Codebook("b", memos=(Memo("m", "M", "text", kind="diary"),))
    with pytest.raises(NotFoundError):
        Codebook("b").code("zzz")


def test_edits_return_new_versions_and_change_log() -> None:
    old = load_starter_codebook("en")
    emergent = Code("hope", "Hope", color="#00aa00", definition="Expressions of hope.",
                    origin="emergent", since_version="2")
    new = replace(old.with_code(emergent), version="2")
    new = new.with_code(replace(new.code("fatigue"), name="Fatigue and low energy"))
    new = new.without_code("side_effects")
    assert old.code("fatigue").name == "Fatigue"  # the old version is untouched
    log = changes_between(old, new)
    assert {"change": "added", "code": "hope", "detail": "Hope"} in log
    assert {"change": "removed", "code": "side_effects",
            "detail": "Other symptoms and side effects"} in log
    assert any(r["change"] == "renamed" and r["code"] == "fatigue" for r in log)
    assert "side_effects" not in {c for t in new.themes for c in t.codes}
    with pytest.raises(ValidationError, match="sub-codes"):
        new.without_code("work")
    assert set(new.descendants("work")) == {"return_to_work", "work_adjustments",
                                            "employer_colleagues"}


def test_dict_round_trip_and_table() -> None:
    book = load_starter_codebook("fr")
    book = replace(book, memos=(Memo("m1", "Règle", "Coder la fatigue même légère.",
                                     kind="code rule", about=("fatigue",)),))
    assert codebook_from_dict(codebook_to_dict(book)) == book
    rows = book.table()
    assert rows[0]["code"] == "Travail et emploi"
    assert any(r["code"] == "Symptômes et fardeau des traitements > Fatigue" for r in rows)
    with pytest.raises(ValidationError, match="code 1"):
        codebook_from_dict({"name": "x", "codes": [{"id": "a", "nom": "A"}]})


def test_guids_are_stable() -> None:
    assert Code("fatigue", "F").guid == stable_guid("code", "fatigue")
    assert load_starter_codebook("en").code("fatigue").guid == Code("fatigue", "x").guid
