"""Synthetic identities for the trusted third party only: never part of a ``CohortChunk``.

They are drawn from the same participant blocks as the cohort (so sex, birth year and centre
agree with the pseudonymous data, as they would for real people) but from a separate random
stream and a separate function, and they are written to a separate file. Names come from short
lists written for this project; e-mail addresses use reserved example domains (RFC 2606), so
no message can ever reach a real person.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import numpy as np
import pandas as pd

from workbench.errors import ValidationError
from workbench.synth.cohort import (
    BLOCK_SIZE,
    MAX_PARTICIPANTS,
    STREAM_IDENTITY,
    participant_block,
    participant_keys,
    rng_for,
)
from workbench.synth.reference import CENTRES
from workbench.synth.spec import CohortSpec

__all__ = ["FEMALE_NAMES", "IDENTITY_COLUMNS", "LAST_NAMES", "MALE_NAMES", "generate_identities"]

IDENTITY_COLUMNS: tuple[str, ...] = (
    "participant_key", "first_name", "last_name", "sex", "birth_date", "postcode", "email",
)
FEMALE_NAMES: tuple[str, ...] = (
    "Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie",
    "Martine", "Christine", "Nicole", "Valérie", "Sandrine", "Sophie", "Céline", "Hélène",
    "Brigitte", "Chantal", "Anne", "Véronique", "Dominique", "Patricia", "Élodie", "Aurélie",
    "Camille", "Julie", "Émilie", "Laure", "Odile", "Josiane", "Yvette", "Mireille",
    "Fatima", "Nadia", "Leïla", "Amina", "Geneviève", "Colette", "Agnès", "Pascale",
)
MALE_NAMES: tuple[str, ...] = (
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques",
    "Daniel", "Patrick", "Christian", "Gérard", "Claude", "Thierry", "Éric", "Pascal",
    "François", "Laurent", "Nicolas", "Stéphane", "Olivier", "Frédéric", "Didier", "Joël",
    "Hervé", "Yves", "Louis", "René", "Marcel", "Serge", "Mohamed", "Karim",
    "Ahmed", "Rachid", "Antoine", "Julien", "Sébastien", "Guillaume", "Benoît", "Gilles",
)
LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
    "Moreau", "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David",
    "Bertrand", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
    "Rousseau", "Vincent", "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc",
    "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
    "Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu",
    "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont", "Marie", "Lemaire",
    "Noël", "Meyer", "Dufour", "Meunier", "Brun", "Blanchard", "Giraud", "Joly",
    "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud", "Martinez", "Gérard",
    "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin", "Vidal", "Caron",
    "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix",
    "Olivier", "Philippe", "Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc", "Payet",
    "Rolland", "Leclercq", "Guillaume", "Lecomte", "Benali", "Haddad", "Nguyen", "Da Silva",
)
_DOMAINS: tuple[str, ...] = ("example.org", "example.com", "example.net")
_HOME_DEPARTEMENT = 0.75  # share of participants living in their centre's département


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return plain.lower().replace(" ", "").replace("'", "")


def generate_identities(n: int, *, seed: int = 0, spec: CohortSpec | None = None,
                        chunk_size: int = 10_000) -> Iterator[pd.DataFrame]:
    """Identity frames (``IDENTITY_COLUMNS``) for participants 1..n of the same seed and spec."""
    spec = spec or CohortSpec()
    if not isinstance(n, int) or not 0 < n <= MAX_PARTICIPANTS:
        raise ValidationError(f"must be an integer in 1..{MAX_PARTICIPANTS}, got {n!r}", where="n")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValidationError(f"must be a positive integer, got {chunk_size!r}",
                              where="chunk_size")
    return _chunks(n, seed, spec, chunk_size)


def _chunks(n: int, seed: int, spec: CohortSpec, chunk_size: int) -> Iterator[pd.DataFrame]:
    cached: tuple[int, pd.DataFrame] | None = None
    for lo in range(1, n + 1, chunk_size):
        hi = min(lo + chunk_size - 1, n)
        pieces = []
        for block in range((lo - 1) // BLOCK_SIZE, (hi - 1) // BLOCK_SIZE + 1):
            if cached is None or cached[0] != block:
                cached = (block, _block(spec, seed, block))
            first = block * BLOCK_SIZE + 1
            pieces.append(cached[1].iloc[max(lo - first, 0):hi - first + 1])
        yield pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(
            drop=True)


def _block(spec: CohortSpec, seed: int, block: int) -> pd.DataFrame:
    people = participant_block(spec, seed, block)
    rng = rng_for(seed, block, STREAM_IDENTITY)
    n = people.ids.size
    female = people.female
    first_f = rng.integers(0, len(FEMALE_NAMES), n)
    first_m = rng.integers(0, len(MALE_NAMES), n)
    first = np.where(female, np.array(FEMALE_NAMES, dtype=object)[first_f],
                     np.array(MALE_NAMES, dtype=object)[first_m])
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)]

    departements = {c.code: c.departement for c in CENTRES}
    home = np.array([departements.get(code, "75") for code in spec.centre_codes],
                    dtype=object)[people.centre]
    others = np.array(sorted({c.departement for c in CENTRES}), dtype=object)
    moved = rng.random(n) >= _HOME_DEPARTEMENT
    dept = np.where(moved, others[rng.integers(0, others.size, n)], home)
    commune = rng.integers(0, 100, n) * 10  # most French postcodes end in 0
    paris = dept == "75"
    commune = np.where(paris, rng.integers(1, 21, n), commune)
    postcode = [f"{d}{c:03d}" for d, c in zip(dept.tolist(), commune.tolist(), strict=True)]

    sep = np.array([".", "_", ""], dtype=object)[rng.integers(0, 3, n)]
    domain = np.array(_DOMAINS, dtype=object)[rng.integers(0, len(_DOMAINS), n)]
    ascii_first = {name: _ascii(name) for name in FEMALE_NAMES + MALE_NAMES}
    ascii_last = {name: _ascii(name) for name in LAST_NAMES}
    # The participant number makes every address unique (names contain no digits), as a
    # contact table with a unique e-mail constraint requires.
    email = [
        f"{ascii_first[f]}{s}{ascii_last[la]}{pid}@{d}"
        for f, s, la, pid, d in zip(first.tolist(), sep.tolist(), last.tolist(),
                                    people.ids.tolist(), domain.tolist(), strict=True)
    ]
    return pd.DataFrame({
        "participant_key": participant_keys(people.ids),
        "first_name": first.astype(str),
        "last_name": last.astype(str),
        "sex": pd.Categorical.from_codes(np.where(female, 0, 1), categories=("F", "M")),
        "birth_date": people.birth,
        "postcode": postcode,
        "email": email,
    })
