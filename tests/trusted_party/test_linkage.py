"""Record linkage: normalisation, Jaro-Winkler against published values, review scores."""

from __future__ import annotations

from datetime import date

import pytest

from workbench.errors import ValidationError
from workbench.trusted_party.identity import Identity
from workbench.trusted_party.linkage import (
    REVIEW_THRESHOLD,
    compare,
    jaro_winkler,
    link_keys,
    normalise_name,
)


def test_normalise_drops_accents_case_and_separators() -> None:
    assert normalise_name("Lefèvre") == normalise_name("LEFEVRE") == "LEFEVRE"
    assert normalise_name("Jean-Pierre") == normalise_name("jean pierre") == "JEANPIERRE"
    assert normalise_name("d'Estaing") == "DESTAING"
    assert normalise_name("Lœtitia Bæcker") == "LOETITIABAECKER"  # ligatures do not decompose


@pytest.mark.parametrize(("a", "b", "expected"), [
    # Winkler's classic examples (Winkler 1990), quoted in most record-linkage texts.
    ("MARTHA", "MARHTA", 0.961), ("DWAYNE", "DUANE", 0.840), ("DIXON", "DICKSONX", 0.813),
    ("SAME", "SAME", 1.0), ("ABC", "", 0.0), ("ABC", "XYZ", 0.0),
])
def test_jaro_winkler_published_values(a: str, b: str, expected: float) -> None:
    assert jaro_winkler(a, b) == pytest.approx(expected, abs=5e-4)


def ident(first: str, last: str, born: date, sex: str = "F", **kw: str) -> Identity:
    return Identity(first, last, born, sex, **kw)  # type: ignore[arg-type]


D = date(1956, 2, 14)


@pytest.mark.parametrize(("other", "flagged", "why"), [
    (ident("Marie", "Dupond", D), True, "last name"),
    (ident("Marie", "Dupont", date(1956, 2, 15)), True, "one digit"),
    (ident("Marie", "Dupont", date(1956, 2, 14), "M"), True, "different sex"),
    (ident("Dupont", "Marie", D), True, "inverted"),
    (ident("Marie", "Martin", D, birth_name="Dupont"), True, "last name"),
    (ident("Jean", "Bernard", D, "M"), False, ""),
    (ident("Marie", "Dupont", date(1971, 9, 30)), False, ""),
])
def test_near_matches_are_flagged_for_review(other: Identity, flagged: bool, why: str) -> None:
    score, reasons = compare(ident("Marie", "Dupont", D), other)
    assert (score >= REVIEW_THRESHOLD) is flagged, (score, reasons)
    assert why in "; ".join(reasons)


def test_link_keys_ignore_presentation_but_not_content() -> None:
    key = b"k" * 32
    a = link_keys(key, ident("Jean-Pierre", "Lefèvre", D, "M"))
    b = link_keys(key, ident("JEAN PIERRE", "LEFEVRE", D, "M"))
    c = link_keys(key, ident("Jean-Paul", "Lefèvre", D, "M"))
    assert a == b
    assert a.exact != c.exact and a.dob == c.dob
    assert link_keys(b"j" * 32, ident("Jean-Pierre", "Lefèvre", D, "M")).exact != a.exact


@pytest.mark.parametrize(("field", "value", "where"), [
    ("first_name", " - ", "identity.first_name"),
    ("birth_date", date(1850, 1, 1), "identity.birth_date"),
    ("sex", "Q", "identity.sex"),
    ("email", "nobody", "identity.email"),
    ("phone", "call me", "identity.phone"),
    ("language", "deutsch", "identity.language"),
])
def test_validation_names_the_field(field: str, value: object, where: str) -> None:
    base = {"first_name": "Marie", "last_name": "Dupont", "birth_date": D, "sex": "F",
            "email": "m@example.org"}
    base[field] = value
    with pytest.raises(ValidationError) as info:
        Identity(**base).validated()  # type: ignore[arg-type]
    assert info.value.where == where
    if isinstance(value, str) and value.strip(" -"):
        assert value not in str(info.value)
