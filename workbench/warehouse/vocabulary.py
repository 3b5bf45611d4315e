"""Vocabularies: the curated mini-vocabulary shipped with the workbench, and a site's Athena bundle.

The mini-vocabulary covers what the workbench itself writes: gender, visit, type and episode
concepts, LOINC PHQ-9/GAD-7 items, panels and answers, common cancer sites (SNOMED, ICD-O-3),
a few treatments, and custom concepts (≥ 2,000,000,000) for EORTC QLQ-C30 items and scales and
for survey metadata. Concepts from external vocabularies get *provisional* ids in the
2,000,100,000–2,000,399,999 block because the real OMOP ids come only from Athena; loading a
bundle retires each provisional concept (``invalid_reason='U'``) and maps it to the real one.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.errors import NotFoundError, ValidationError
from workbench.warehouse.loader import LoadResult, load_tables, to_arrow
from workbench.warehouse.schema import LOAD_LOG, VOCABULARY_TABLES, metadata

__all__ = [
    "CUSTOM_CONCEPT_MIN",
    "PROVISIONAL_RANGE",
    "ancestors_from_relationships",
    "load_athena_bundle",
    "load_mini_vocabulary",
    "plausible_values",
    "resolve_codes",
]

CUSTOM_CONCEPT_MIN = 2_000_000_000
PROVISIONAL_RANGE = (2_000_100_000, 2_000_399_999)
_DATA = resources.files("workbench.warehouse") / "data"
CONCEPT = metadata.tables["concept"]
RELATIONSHIP = metadata.tables["concept_relationship"]


def _read_csv(name: str) -> pa.Table:
    with resources.as_file(_DATA / name) as path:
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True, null_values=[""]))


def ancestors_from_relationships(concept_ids: Iterable[int], relationships: pa.Table) -> pa.Table:
    """``concept_ancestor`` rows (self rows included) from the transitive closure of 'Is a'."""
    parents: dict[int, set[int]] = defaultdict(set)
    for child, parent, rel in zip(relationships.column("concept_id_1").to_pylist(),
                                  relationships.column("concept_id_2").to_pylist(),
                                  relationships.column("relationship_id").to_pylist(), strict=True):
        if rel == "Is a":
            parents[child].add(parent)
    rows: dict[tuple[int, int], tuple[int, int]] = {}
    for concept in concept_ids:
        frontier, depth, seen = {concept}, 0, {concept}
        while frontier:
            for node in frontier:
                low, high = rows.get((node, concept), (depth, depth))
                rows[(node, concept)] = (min(low, depth), max(high, depth))
            frontier = {p for n in frontier for p in parents[n]}
            if frontier & seen and depth > 64:
                raise ValidationError("cycle in 'Is a' relationships", where="concept_relationship")
            seen |= frontier
            depth += 1
    keys = sorted(rows)
    return pa.table({
        "ancestor_concept_id": [k[0] for k in keys], "descendant_concept_id": [k[1] for k in keys],
        "min_levels_of_separation": [rows[k][0] for k in keys],
        "max_levels_of_separation": [rows[k][1] for k in keys],
    })


def load_mini_vocabulary(engine: Engine, *, loaded_by: str = "workbench") -> LoadResult:
    """Load the shipped mini-vocabulary (once; a second call is a no-op)."""
    tables = {name: _read_csv(f"{name}.csv") for name in
              ("concept", "vocabulary", "domain", "concept_class", "concept_relationship")}
    tables["concept_ancestor"] = ancestors_from_relationships(
        tables["concept"].column("concept_id").to_pylist(), tables["concept_relationship"])
    return load_tables(engine, "vocabulary:weshare-mini-1", tables,
                       source="workbench mini-vocabulary", loaded_by=loaded_by)


def plausible_values() -> list[tuple[str, str, float, float]]:
    """``(vocabulary_id, concept_code, low, high)`` for scores and items the workbench knows."""
    table = _read_csv("plausible_values.csv")
    return list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def _read_athena(path: Path, table: str) -> pa.Table:
    """Athena files are tab-separated, unquoted, with dates written YYYYMMDD."""
    columns = metadata.tables[table].columns
    types = {c.name: pa.string() for c in columns}
    try:
        raw = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                             convert_options=pacsv.ConvertOptions(
                                 column_types=types, strings_can_be_null=True, null_values=[""]))
    except pa.ArrowInvalid as exc:
        raise ValidationError(f"cannot read Athena file: {exc}", where=path.name) from None
    raw = raw.rename_columns([n.lower() for n in raw.column_names])
    out = {}
    for column in columns:
        if column.name not in raw.column_names:
            continue
        values = raw.column(column.name)
        if "DATE" in str(column.type):
            values = pc.strptime(values, format="%Y%m%d", unit="s").cast(pa.date32())
        out[column.name] = values
    return to_arrow(table, pa.table(out))


def load_athena_bundle(engine: Engine, directory: Path, *, loaded_by: str) -> LoadResult:
    """Load a site's Athena export (CONCEPT.csv, CONCEPT_RELATIONSHIP.csv, …) from ``directory``.

    Concepts already present with the same id are kept (the bundle must agree with them); the
    provisional concepts of the mini-vocabulary that the bundle now covers are retired and mapped.
    """
    directory = Path(directory)
    files = {t: directory / f"{t.upper()}.csv" for t in VOCABULARY_TABLES}
    if not files["concept"].exists():
        raise NotFoundError(f"no CONCEPT.csv in {directory}")
    digest = hashlib.sha256()
    for path in files.values():
        if path.exists():
            with path.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
    label = f"vocabulary:athena:{digest.hexdigest()[:32]}"
    with engine.connect() as conn:
        done = conn.execute(sa.select(LOAD_LOG.c.row_counts)
                            .where(LOAD_LOG.c.load_id == label)).scalar()
    if done is not None:  # the same files again: only finish retiring, should that have failed
        with engine.begin() as conn:
            _retire_provisional(conn)
        return LoadResult(label, json.loads(done), already_loaded=True)
    tables = {t: _read_athena(p, t) for t, p in files.items() if p.exists()}
    with engine.connect() as conn:
        have = set(conn.execute(sa.select(CONCEPT.c.concept_id)).scalars())
        vocabs = set(conn.execute(sa.select(metadata.tables["vocabulary"].c.vocabulary_id)).scalars())
        domains = set(conn.execute(sa.select(metadata.tables["domain"].c.domain_id)).scalars())
        classes = set(conn.execute(
            sa.select(metadata.tables["concept_class"].c.concept_class_id)).scalars())
    keep = {"concept": ("concept_id", have), "vocabulary": ("vocabulary_id", vocabs),
            "domain": ("domain_id", domains), "concept_class": ("concept_class_id", classes)}
    for name, (key, present) in keep.items():
        if name in tables and present:
            tables[name] = tables[name].filter(
                pc.invert(pc.is_in(tables[name].column(key), pa.array(sorted(present)))))
    result = load_tables(engine, label, tables, source=str(directory), loaded_by=loaded_by)
    with engine.begin() as conn:  # idempotent: a re-run finishes it if this step failed
        _retire_provisional(conn)
    return result


def _retire_provisional(conn: Connection) -> None:
    low, high = PROVISIONAL_RANGE
    provisional = CONCEPT.alias("p")
    real = CONCEPT.alias("r")
    pairs = conn.execute(sa.select(provisional.c.concept_id, real.c.concept_id).join(
        real, sa.and_(real.c.vocabulary_id == provisional.c.vocabulary_id,
                      real.c.concept_code == provisional.c.concept_code,
                      real.c.concept_id < CUSTOM_CONCEPT_MIN))
        .where(provisional.c.concept_id.between(low, high), provisional.c.invalid_reason.is_(None))
    ).all()
    for old, new in pairs:
        conn.execute(CONCEPT.update().where(CONCEPT.c.concept_id == old).values(
            invalid_reason="U", standard_concept=None))
        conn.execute(RELATIONSHIP.insert().values(
            concept_id_1=old, concept_id_2=new, relationship_id="Maps to",
            valid_start_date=date.today(), valid_end_date=date(2099, 12, 31)))


def resolve_codes(conn: Connection, codes: Sequence[str]) -> dict[str, int]:
    """``"VOCAB:code"`` → concept id, preferring a valid concept; unknown codes are named."""
    out: dict[str, int] = {}
    for text in codes:
        vocab, sep, code = text.partition(":")
        if not sep or not vocab or not code:
            raise ValidationError(f"concept code {text!r} must read VOCABULARY:CODE", where="concept")
        rows = conn.execute(sa.select(CONCEPT.c.concept_id, CONCEPT.c.invalid_reason).where(
            CONCEPT.c.vocabulary_id == vocab, CONCEPT.c.concept_code == code)).all()
        if not rows:
            raise NotFoundError(f"unknown concept {text}")
        rows.sort(key=lambda r: (r.invalid_reason is not None, r.concept_id))
        out[text] = int(rows[0].concept_id)
    return out
