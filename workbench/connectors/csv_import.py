"""Import CSV extracts from a hospital warehouse, as a declared mapping file (TOML) says.

The mapping names the patient file (the patient number and any name or contact columns go to
the trusted party only) and, for each other file, its record key, patient column, code and its
vocabulary, date and value columns, and the target table (or ``auto``: by the concept's
domain). A section of the mapping that does not fit its file (missing key, column absent from
the header, unknown table) is reported and skipped, the other sections are imported; rows with
an unmapped code or an unreadable date are rejected one by one. See docs/connectors.md.

Incremental: a section may name an ``updated`` column (ISO dates or timestamps); rows not newer
than the last run's largest value are not read again. Without it, every row is compared with
the stored digests, so only new or changed rows are written.
"""

from __future__ import annotations

import csv
import time
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from workbench.connectors.fhir_map import _COLUMNS, EHR, TABLE_OF_DOMAIN, _event
from workbench.connectors.pipeline import PatientRecord, Progress, Row, commit
from workbench.connectors.report import RunReport
from workbench.connectors.state import ensure_state, watermarks
from workbench.connectors.vocab import ConceptMap, ensure_connector_vocabulary, vocabulary_of
from workbench.errors import NotFoundError, ValidationError
from workbench.trusted_party import TrustedParty
from workbench.trusted_party.identity import Identity
from workbench.trusted_party.sources import SourcePatient

__all__ = ["import_csv", "read_mapping"]

TARGETS = ("auto", *_COLUMNS)
_SEX = {"male": (8507, "M"), "female": (8532, "F")}


def read_mapping(path: Path) -> dict[str, Any]:
    """The mapping file, checked for what every section needs; errors name file and key."""
    try:
        mapping = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"no mapping file {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"not a TOML file: {exc}", where=Path(path).name) from None
    patients = mapping.get("patients")
    if not isinstance(patients, dict):
        raise ValidationError("a [patients] section is required", where=Path(path).name)
    for key in ("file", "id"):
        if not patients.get(key):
            raise ValidationError("is required", where=f"{Path(path).name} [patients] {key}")
    if not patients.get("birth_date") and not patients.get("birth_year"):
        raise ValidationError("birth_date or birth_year is required", where=f"{Path(path).name} [patients]")
    return mapping


def _read_csv(path: Path, options: dict[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding=options.get("encoding", "utf-8"), newline="") as fh:
        reader = csv.DictReader(fh, delimiter=options.get("delimiter", ","))
        return list(reader.fieldnames or []), list(reader)


def _parse_date(text: str, fmt: str) -> date:
    return datetime.strptime(text.strip(), fmt).date()


def _check_section(section: dict[str, Any], header: list[str]) -> str | None:
    for key in ("file", "key", "patient", "code", "date"):
        if not section.get(key):
            return f"{key} is required"
    if section.get("target", "auto") not in TARGETS:
        return f"target {section.get('target')!r} is not one of {', '.join(TARGETS)}"
    if not section.get("vocabulary") and not section.get("vocabulary_column"):
        return "vocabulary or vocabulary_column is required"
    for key in ("key", "patient", "code", "date", "end_date", "value", "value_text", "unit",
                "vocabulary_column", "updated"):
        column = section.get(key)
        if column and column not in header:
            return f"{key}: column {column!r} is not in {section['file']}"
    link = section.get("linked_to")
    if link and (not isinstance(link, dict) or link.get("column") not in header or not link.get("table")):
        return "linked_to needs a table (another section's name) and a column of this file"
    return None


def _patients(mapping: dict[str, Any], folder: Path, source: str, report: RunReport) -> dict[str, PatientRecord]:
    spec, options = mapping["patients"], mapping.get("options", {})
    fmt = options.get("date_format", "%Y-%m-%d")
    path = folder / spec["file"]
    if not path.exists():
        raise NotFoundError(f"no patient file {path}")
    header, rows = _read_csv(path, options)
    wanted = [spec[k] for k in ("id", "sex", "birth_date", "birth_year", "death_date", "first_name",
                                "last_name", "postcode") if spec.get(k)]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ValidationError(f"column(s) {', '.join(missing)} not in {spec['file']}", where="[patients]")
    system = spec.get("identifier_system") or f"csv:{source}"
    values = {str(k): str(v) for k, v in (spec.get("sex_values") or {}).items()}
    out: dict[str, PatientRecord] = {}
    for n, r in enumerate(rows, start=2):
        where = f"{spec['file']} row {n}"
        report.read["patients"] += 1
        pid = (r.get(spec["id"]) or "").strip()
        if not pid:
            report.reject(where, f"empty patient identifier ({spec['id']})")
            continue
        try:
            born = _parse_date(r[spec["birth_date"]], fmt) if spec.get("birth_date") else None
            year = born.year if born else int(r[spec["birth_year"]])
            died = r.get(spec.get("death_date") or "", "").strip()
            death = _parse_date(died, fmt) if died else None
        except (ValueError, KeyError):
            report.reject(where, f"birth or death date not in format {fmt}")
            continue
        gender, sex = _SEX.get(values.get(r.get(spec.get("sex") or "", ""), ""), (0, "U"))
        identity = None
        if born and spec.get("first_name") and spec.get("last_name"):
            try:
                identity = Identity(r[spec["first_name"]], r[spec["last_name"]], born, sex,
                                    postcode=r.get(spec.get("postcode") or "", "")).validated()
            except Exception:  # a malformed name or postcode: the identifier alone is enough
                identity = None
        key = f"patients/{pid}"
        out[key] = PatientRecord(key, where, SourcePatient(system, pid, identity), gender,
                                 r.get(spec.get("sex") or "", "")[:50], year, death)
    return out


def import_csv(engine: Engine, tp: TrustedParty, mapping_path: Path, *, source: str, actor: str,
               folder: Path | None = None, progress: Progress | None = None) -> RunReport:
    """Import the CSV files a mapping describes (files are read next to it unless ``folder``)."""
    if not source.strip() or len(source) > 100:
        raise ValidationError("name the source (the establishment), 1 to 100 characters", where="source")
    start = time.perf_counter()
    mapping = read_mapping(mapping_path)
    folder = Path(folder or Path(mapping_path).parent)
    report = RunReport("csv", source)
    ensure_state(engine)
    ensure_connector_vocabulary(engine, loaded_by=actor)
    patients = _patients(mapping, folder, source, report)
    options = mapping.get("options", {})
    fmt = options.get("date_format", "%Y-%m-%d")
    with engine.connect() as conn:
        marks = dict(conn.execute(select(watermarks.c.stream, watermarks.c.value)
                                  .where(watermarks.c.source == source)).all())
    new_marks: dict[str, str] = {}
    rows: list[Row] = []
    sections = mapping.get("tables") or []
    with engine.connect() as conn:
        cmap = ConceptMap(conn)
        for n, section in enumerate(sections, start=1):
            name = str(section.get("name") or f"table{n}")
            label = f"{Path(mapping_path).name} [[tables]] {name}"
            path = folder / str(section.get("file") or "")
            if not section.get("file") or not path.is_file():
                report.reject(label, f"file {section.get('file')!r} not found: section skipped")
                continue
            header, items = _read_csv(path, options)
            problem = _check_section(section, header)
            if problem:
                report.reject(label, problem + ": section skipped")
                continue
            mark = marks.get(name)
            updated = section.get("updated")
            for i, r in enumerate(items, start=2):
                if progress and i % 5000 == 0:
                    progress(f"map {name}", i, len(items))
                if updated and mark and (r.get(updated) or "") <= mark:
                    continue
                report.read[name] += 1
                row = _row(section, name, r, f"{section['file']} row {i}", cmap, fmt, report)
                if row is not None:
                    rows.append(row)
                if updated and (r.get(updated) or "") > new_marks.get(name, mark or ""):
                    new_marks[name] = r[updated]
    return commit(engine, tp, report, patients, rows, actor=actor, marks=new_marks, progress=progress,
                  started=start)


def _row(section: dict[str, Any], name: str, r: dict[str, str], where: str, cmap: ConceptMap, fmt: str,
         report: RunReport) -> Row | None:
    code = (r.get(section["code"]) or "").strip()
    vocab = section.get("vocabulary") or vocabulary_of(r.get(section.get("vocabulary_column", ""), ""))
    concept = cmap.get(vocab, code) if code else None
    if concept is None:
        report.reject(where, f"unmapped code {vocab}:{code}" if code else f"empty code ({section['code']})")
        return None
    target = section.get("target", "auto")
    table = TABLE_OF_DOMAIN.get(concept.domain_id, "observation") if target == "auto" else target
    try:
        day = _parse_date(r[section["date"]], fmt)
        end = _parse_date(r[section["end_date"]], fmt) if section.get("end_date") and r[section["end_date"]].strip() else None
    except ValueError:
        report.reject(where, f"column {section['date']}: not a date in format {fmt}")
        return None
    values = _event(table, concept, f"{vocab}:{code}", day, None)
    values[_COLUMNS[table][5]] = EHR
    if table == "drug_exposure":
        values["drug_exposure_end_date"] = end or day
    elif table == "condition_occurrence" and end:
        values["condition_end_date"] = end
    elif table == "procedure_occurrence" and end:
        values["procedure_end_date"] = end
    if table in ("measurement", "observation"):
        raw = (r.get(section.get("value") or "") or "").strip().replace(",", ".")
        if raw:
            try:
                values["value_as_number"] = float(raw)
            except ValueError:
                report.reject(where, f"column {section['value']}: not a number")
                return None
        text = (r.get(section.get("value_text") or "") or "").strip()
        if text:
            values["value_as_string" if table == "observation" else "value_source_value"] = text[:50]
        unit = (r.get(section.get("unit") or "") or "").strip()
        if unit:
            values["unit_source_value"] = unit[:50]
    links = {}
    link = section.get("linked_to")
    if link and (r.get(link["column"]) or "").strip() and table in ("measurement", "observation"):
        column = "measurement_event_id" if table == "measurement" else "observation_event_id"
        values["meas_event_field_concept_id" if table == "measurement" else "obs_event_field_concept_id"] = 1147127
        links[column] = f"{link['table']}/{r[link['column']].strip()}"
    return Row(f"{name}/{r[section['key']].strip()}", where, table, f"patients/{r[section['patient']].strip()}",
               values, links)
