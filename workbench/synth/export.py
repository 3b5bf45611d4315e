"""Write a synthetic cohort (or its identities) to Parquet or CSV, chunk by chunk, atomically.

Files are written under a temporary name next to the target and renamed into place only when
complete, so a crash or a bad parameter never leaves a half-written data set behind. Identities
go to a single separate file and are refused inside a cohort directory: the trusted party's
data must not travel with the pseudonymous data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.errors import ConflictError, ValidationError
from workbench.synth.cohort import generate_cohort
from workbench.synth.identities import generate_identities
from workbench.synth.reference import CancerSiteProfile
from workbench.synth.spec import CohortSpec, TimePoint

__all__ = [
    "FORMATS",
    "MANIFEST",
    "read_spec",
    "spec_from_dict",
    "spec_to_dict",
    "write_cohort",
    "write_identities",
]

FORMATS = ("parquet", "csv")
MANIFEST = "manifest.json"
GENERATOR_VERSION = "1"


def spec_to_dict(spec: CohortSpec) -> dict[str, Any]:
    """The spec as JSON-ready data, stored with every data set so it can be regenerated."""

    def plain(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(spec))


def spec_from_dict(data: dict[str, Any], *, where: str = "spec") -> CohortSpec:
    """Inverse of ``spec_to_dict``; missing keys keep their defaults, unknown keys are refused."""
    known = {f.name for f in dataclasses.fields(CohortSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"unknown spec field(s): {', '.join(unknown)}", where=where)

    def tup(value: Any) -> Any:
        return tuple(tup(v) for v in value) if isinstance(value, list) else value

    defaults = CohortSpec()
    for key, value in data.items():
        default = getattr(defaults, key)
        if isinstance(default, bool) != isinstance(value, bool) or (
                isinstance(default, (int, float)) and not isinstance(value, (int, float))):
            raise ValidationError(f"{key} must be {type(default).__name__}, got {value!r}",
                                  where=where)
    args = {key: tup(value) for key, value in data.items()}
    try:
        if "recruitment_start" in data:
            args["recruitment_start"] = date.fromisoformat(str(data["recruitment_start"]))
        if "schedule" in data:
            args["schedule"] = tuple(TimePoint(**tp) for tp in data["schedule"])
        if "cancer_sites" in data:
            args["cancer_sites"] = tuple(
                CancerSiteProfile(**{k: tup(v) for k, v in site.items()})
                for site in data["cancer_sites"])
        return CohortSpec(**args)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValidationError(f"malformed spec: {exc}", where=where) from exc


def read_spec(path: Path) -> CohortSpec:
    """A spec from a JSON file: either a data set's ``manifest.json`` or bare spec fields."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read a JSON spec: {exc}", where=str(path)) from exc
    if not isinstance(data, dict):
        raise ValidationError("expected a JSON object", where=str(path))
    if data.get("generator") == "workbench.synth":
        data = data.get("spec", {})
    return spec_from_dict(data, where=str(path))


class _TableWriter:
    """Appends frames of one table to a Parquet or CSV file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt, self.rows = path, fmt, 0
        self._parquet: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._parquet.write_table(table)
        else:
            frame.to_csv(self.path, mode="a", header=self.rows == 0, index=False,
                         date_format="%Y-%m-%d")
        self.rows += len(frame)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}",
                              where="format")


def write_cohort(out_dir: Path, n: int, *, seed: int = 0, spec: CohortSpec | None = None,
                 chunk_size: int = 10_000, fmt: str = "parquet") -> dict[str, int]:
    """Write one file per table plus ``manifest.json`` into ``out_dir``; return row counts."""
    _check(fmt)
    spec = spec or CohortSpec()
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConflictError(f"{out_dir} already exists and is not an empty directory")
    chunks = generate_cohort(n, seed=seed, spec=spec, chunk_size=chunk_size)
    partial = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    writers: dict[str, _TableWriter] = {}
    try:
        for chunk in chunks:
            for name, frame in chunk.frames().items():
                if name not in writers:
                    writers[name] = _TableWriter(partial / f"{name}.{fmt}", fmt)
                writers[name].write(frame)
        for writer in writers.values():
            writer.close()
        counts = {name: writer.rows for name, writer in writers.items()}
        manifest = {
            "generator": "workbench.synth", "generator_version": GENERATOR_VERSION,
            "participants": n, "seed": seed, "format": fmt, "rows": counts,
            "contains_identities": False, "spec": spec_to_dict(spec),
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()
        partial.rename(out_dir)
    except BaseException:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return counts


def write_identities(path: Path, n: int, *, seed: int = 0, spec: CohortSpec | None = None,
                     chunk_size: int = 10_000) -> int:
    """Write the trusted party's identity file (``.parquet`` or ``.csv``); return its row count."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    _check(fmt)
    if (path.parent / MANIFEST).exists():
        raise ValidationError("identities must not be written into a pseudonymous cohort "
                              "directory; give the trusted party its own location", where=str(path))
    if path.exists():
        raise ConflictError(f"{path} already exists")
    frames = generate_identities(n, seed=seed, spec=spec, chunk_size=chunk_size)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _TableWriter(partial, fmt)
    try:
        for frame in frames:
            writer.write(frame)
        writer.close()
        partial.rename(path)
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    return writer.rows
