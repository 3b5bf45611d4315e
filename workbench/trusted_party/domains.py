"""Pseudonym domains and the batch SQL shared by the trusted party's operations.

A domain is a context where one person has one pseudonym: each study (``study:CODE``), the
warehouse (``warehouse``) and each approved project (``project:ID``). Each has its own random
key, so pseudonyms of the same person in two domains cannot be linked without this store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, null, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.trusted_party.schema import domains, persons, pseudonyms

__all__ = [
    "ALLOWED_TRANSLATIONS",
    "CHUNK",
    "Domain",
    "chunks",
    "domain_kind",
    "domain_row",
    "existing_people",
    "lookup_codes",
    "store_codes",
]

CHUNK = 5000
_NAME = re.compile(r"^(study:[A-Za-z0-9_.-]{1,60}|warehouse|project:[A-Za-z0-9_.-]{1,60})$")
# Pseudonyms move one way only: a study deposits into the warehouse, the warehouse feeds an
# approved project. The reverse would let a project re-link its data to a study or to care.
ALLOWED_TRANSLATIONS = frozenset({("study", "warehouse"), ("warehouse", "project")})


def domain_kind(name: str) -> str:
    """``study``, ``warehouse`` or ``project``; a ValidationError for any other name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            "a domain is 'study:CODE', 'warehouse' or 'project:ID' (letters, digits, . _ -)",
            where=f"domain {name!r}",
        )
    return name.split(":", 1)[0]


@dataclass(frozen=True)
class Domain:
    id: int
    name: str
    kind: str
    key: bytes


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _scan_whole_domain(session: Session, domain_id: int, wanted: int) -> bool:
    """Large requests read the domain's whole mapping once instead of thousands of IN lists."""
    if wanted <= CHUNK:
        return False
    size = session.execute(select(func.count()).select_from(pseudonyms)
                           .where(pseudonyms.c.domain_id == domain_id)).scalar_one()
    return wanted * 4 >= size


def lookup_codes(session: Session, domain_id: int, codes: Iterable[str], *,
                 target_id: int | None = None) -> dict[str, Row[Any]]:
    """Stored pseudonyms of a domain → (pseudonym, id, uid, opposed_warehouse, target).

    ``target`` is the person's pseudonym already issued in domain ``target_id`` (or None), so a
    translation computes and stores only what is new.
    """
    wanted = set(codes)
    target = pseudonyms.alias("target")
    query = (select(pseudonyms.c.pseudonym, persons.c.id, persons.c.uid,
                    persons.c.opposed_warehouse,
                    (target.c.pseudonym if target_id is not None else null()).label("target"))
             .join(persons, persons.c.id == pseudonyms.c.person_id)
             .where(pseudonyms.c.domain_id == domain_id))
    if target_id is not None:
        query = query.outerjoin(target, (target.c.person_id == pseudonyms.c.person_id)
                                & (target.c.domain_id == target_id))
    if _scan_whole_domain(session, domain_id, len(wanted)):
        return {row[0]: row for row in session.execute(query).all() if row[0] in wanted}  # fetchall: 10x fewer calls
    found: dict[str, Row[Any]] = {}
    for part in chunks(sorted(wanted)):
        rows = session.execute(query.where(pseudonyms.c.pseudonym.in_(part))).all()
        found.update((row[0], row) for row in rows)
    return found


def existing_people(session: Session, domain_id: int, person_ids: Sequence[int]) -> set[int]:
    """Which of these people already have a pseudonym in the domain."""
    wanted = set(person_ids)
    query = select(pseudonyms.c.person_id).where(pseudonyms.c.domain_id == domain_id)
    if _scan_whole_domain(session, domain_id, len(wanted)):
        return wanted.intersection(session.execute(query).scalars())
    have: set[int] = set()
    for part in chunks(sorted(wanted)):
        have.update(session.execute(query.where(pseudonyms.c.person_id.in_(part))).scalars())
    return have


def store_codes(session: Session, domain: Domain, pairs: Sequence[tuple[int, str]], *,
                checked: bool = False) -> int:
    """Record issued pseudonyms (idempotent per person); refuse a collision between two people.

    ``checked``: the caller already knows none of these people has one in the domain.
    """
    if not pairs:
        return 0
    have = set() if checked else existing_people(session, domain.id, [p for p, _ in pairs])
    rows = [(domain.id, p, c) for p, c in dict(pairs).items() if p not in have]
    if not rows:
        return 0
    # Straight to the driver: at 100,000 rows the ORM's per-row parameter handling dominates.
    # PostgreSQL takes a chunk as three arrays in one statement, SQLite as an executemany.
    head = f"INSERT INTO {pseudonyms.name} (domain_id, person_id, pseudonym) "
    tail = " ON CONFLICT (domain_id, person_id) DO NOTHING"
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    try:
        with session.begin_nested():
            for part in chunks(rows, 20_000):
                if postgres:
                    columns = [list(col) for col in zip(*part, strict=True)]
                    connection.exec_driver_sql(
                        head + "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::text[])"
                        + tail, tuple(columns))
                else:
                    connection.exec_driver_sql(head + "VALUES (?, ?, ?)" + tail, list(part))
    except IntegrityError:
        raise ConflictError(
            f"two people received the same pseudonym in {domain.name}: nothing was issued; "
            "report this to the trusted-party operator (the domain key must be replaced)"
        ) from None
    return len(rows)


def domain_row(session: Session, name: str) -> Row[Any]:
    row = session.execute(select(domains).where(domains.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no pseudonym domain {name!r} at the trusted party")
    if row.wrapped_key is None:
        raise ConflictError(f"the domain {name!r} was closed and its key destroyed")
    return row
