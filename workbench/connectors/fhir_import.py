"""Import FHIR R4/R4B bundles from a hospital into the warehouse.

Each resource is validated on its own with ``fhir.resources`` (R4B models, which read R4
payloads of these resource types), so one invalid resource is rejected — with the element and
the error, never its value — and the others are imported. Files may be Bundles (any type), single
resources, or NDJSON (one resource per line, as FHIR bulk export writes), or folders of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pydantic
import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy.engine import Engine

from workbench.connectors.fhir_map import Unmapped, denies_research, map_resource, patient_record
from workbench.connectors.pipeline import PatientRecord, Progress, Row, commit
from workbench.connectors.report import RunReport
from workbench.connectors.state import ensure_state, known_records
from workbench.connectors.vocab import ConceptMap, ensure_connector_vocabulary
from workbench.errors import NotFoundError, ValidationError
from workbench.trusted_party import TrustedParty
from workbench.warehouse.schema import metadata

__all__ = ["SUPPORTED", "import_fhir", "read_resources", "validate_resource", "validated_entries"]

SUPPORTED = ("Patient", "Encounter", "Condition", "Observation", "Procedure", "MedicationAdministration",
             "MedicationStatement", "QuestionnaireResponse", "Consent")
# Rows are resolved in this order, so a reference to a visit or a condition finds it whatever the
# order of the bundle's entries.
_ORDER = {"Encounter": 0, "Condition": 1}
_MODELS = {name: get_fhir_model_class(name) for name in SUPPORTED}


def _files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix in (".json", ".ndjson"))
        elif path.exists():
            out.append(path)
        else:
            raise NotFoundError(f"no such file or folder: {path}")
    return out


def read_resources(paths: Sequence[Path], report: RunReport) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """``(where, fullUrl, resource)`` for every resource in the files; unreadable files are reported."""
    for path in _files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.reject(path.name, f"cannot read the file: {exc.__class__.__name__}")
            continue
        if path.suffix == ".ndjson":
            for n, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        yield f"{path.name} line {n}", None, json.loads(line)
                    except json.JSONDecodeError as exc:
                        report.reject(f"{path.name} line {n}", f"not JSON: {exc.msg}")
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            report.reject(path.name, f"not JSON: {exc.msg} at line {exc.lineno}")
            continue
        if not isinstance(data, dict) or "resourceType" not in data:
            report.reject(path.name, "not a FHIR resource (no resourceType)")
        elif data["resourceType"] == "Bundle":
            for n, entry in enumerate(data.get("entry") or [], start=1):
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    yield f"{path.name} entry {n}", entry.get("fullUrl"), entry["resource"]
                else:
                    report.reject(f"{path.name} entry {n}", "entry without a resource")
        else:
            yield path.name, None, data


def validate_resource(resource: dict[str, Any]) -> str | None:
    """None if valid, else the first errors as ``element: message`` (no values echoed)."""
    model = _MODELS[resource["resourceType"]]
    try:
        model.model_validate(resource)
    except pydantic.ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(resource)'}: {e['msg']}" for e in exc.errors()[:3]]
        more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        return "invalid FHIR: " + "; ".join(parts) + more
    except (ValueError, TypeError) as exc:
        return f"invalid FHIR: {exc.__class__.__name__}"
    return None


Entry = tuple[str, str, dict[str, Any]]  # where (file, entry, Type/id), Type/id key, resource


def validated_entries(paths: Sequence[Path], report: RunReport, kinds: Sequence[str], tick: Progress,
                      other_kind: Callable[[str, str], None]) -> tuple[list[Entry], dict[str, str]]:
    """Every readable, valid resource of ``kinds``, and each bundle ``fullUrl`` → its key.

    Reading is counted per type in ``report``; invalid resources are rejected with the reason;
    ``other_kind(where, kind)`` says what becomes of a type the caller does not import.
    """
    entries: list[Entry] = []
    urls: dict[str, str] = {}
    raw = list(read_resources(paths, report))
    for n, (where, full_url, resource) in enumerate(raw):
        if n % 500 == 0:
            tick("validate", n, len(raw))
        kind = str(resource.get("resourceType"))
        report.read[kind] += 1
        key = f"{kind}/{resource['id']}" if resource.get("id") else (full_url or f"{kind}@{where}")
        where = f"{where} ({key})"
        if kind not in kinds:
            other_kind(where, kind)
            continue
        error = validate_resource(resource)
        if error:
            report.reject(where, error)
            continue
        if full_url:
            urls[full_url] = key
        entries.append((where, key, resource))
    tick("validate", len(raw), len(raw))
    return entries, urls


def import_fhir(engine: Engine, tp: TrustedParty, paths: Sequence[Path], *, source: str, actor: str,
                progress: Progress | None = None) -> RunReport:
    """Validate, map and load FHIR files from ``source`` (a hospital's name); returns the report."""
    if not source.strip() or len(source) > 100:
        raise ValidationError("name the source (the establishment), 1 to 100 characters", where="source")
    start = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    report = RunReport("fhir", source)
    ensure_state(engine)
    ensure_connector_vocabulary(engine, loaded_by=actor)
    entries, urls = validated_entries(paths, report, SUPPORTED, tick, lambda where, kind: report.reject(
        where, f"resource type {kind} is not imported"))
    patients: dict[str, PatientRecord] = {}
    rows: list[Row] = []
    later: list[str] = []  # patients of earlier runs whose Consent now denies research use
    with engine.connect() as conn:
        cmap = ConceptMap(conn)
        for where, key, resource in entries:
            if resource["resourceType"] == "Patient":
                record, death = patient_record(resource, key, where, source)
                patients[key] = record
                if death is not None:
                    rows.append(death)
        for where, key, resource in sorted(entries, key=lambda e: _ORDER.get(e[2]["resourceType"], 2)):
            kind = resource["resourceType"]
            if kind == "Patient":
                continue
            try:
                mapped = map_resource(kind, resource, key, where, urls, cmap, report.reject)
            except Unmapped as exc:
                report.reject(where, str(exc))
                continue
            if kind == "Consent" and denies_research(resource):
                target = patients.get(mapped[0].patient)
                if target is not None and target.source is not None:
                    patients[target.key] = replace(target, source=replace(target.source, opposed=True))
                else:
                    later.append(mapped[0].patient)
                continue
            rows.extend(mapped)
    if later:
        _oppose_earlier(engine, tp, source, later, actor)
    return commit(engine, tp, report, patients, rows, actor=actor, progress=progress, started=start)


def _oppose_earlier(engine: Engine, tp: TrustedParty, source: str, keys: list[str], actor: str) -> None:
    """Record at the trusted party the opposition of patients imported by an earlier run."""
    person = metadata.tables["person"]
    with engine.connect() as conn:
        state = known_records(conn, source, keys)
        ids = sorted({int(r.target_id) for r in state.values() if r.table_name == "person"})
        codes = conn.execute(sa.select(person.c.person_source_value)
                             .where(person.c.person_id.in_(ids))).scalars().all() if ids else []
    for code in codes:
        tp.set_opposition(code, "warehouse", opposed=True, actor=actor,
                          reason=f"FHIR Consent from {source} denies research use")
