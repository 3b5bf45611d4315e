"""FHIR import: resources per second from a hospital bundle into the OMOP warehouse (DuckDB).

A seeded synthetic bundle (12 resources per patient: Patient, mCODE cancer Condition with a
stage, TNM and ECOG and weight Observations, a surgery, two treatments, a PHQ-9
QuestionnaireResponse, a Consent) is imported end to end — per-resource ``fhir.resources``
validation, mapping, the trusted party's pseudonyms (SQLite), one warehouse load with the
run state. Baselines in the same process: plain ``json.loads`` of the file, and
``fhir.resources`` validation of every resource alone (what any validated import must pay).
A second run of the same file (everything unchanged, nothing written) is measured too.

    .venv/bin/python benchmarks/bench_fhir_import.py [--patients N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report

from workbench.connectors import import_fhir
from workbench.connectors.fhir_import import validate_resource
from workbench.connectors.synthetic import synthetic_bundle
from workbench.settings import Settings
from workbench.trusted_party import init_store, open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="200 patients (tests, development)")
    args = parser.parse_args()
    patients = 200 if args.quick else args.patients
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        path = home / "bundle.json"
        path.write_text(json.dumps(synthetic_bundle(patients, seed=2026)), encoding="utf-8")
        start = time.perf_counter()
        bundle = json.loads(path.read_text(encoding="utf-8"))
        parse_s = time.perf_counter() - start
        resources = [e["resource"] for e in bundle["entry"]]
        start = time.perf_counter()
        invalid = sum(validate_resource(r) is not None for r in resources)
        validate_s = time.perf_counter() - start
        assert invalid == 0
        settings = Settings(home=home / "var")
        init_store(settings, actor="bench")
        warehouse = connect(f"duckdb:///{home / 'warehouse.duckdb'}")
        create_schema(warehouse)
        load_mini_vocabulary(warehouse)
        with open_trusted_party(settings) as tp:
            first = import_fhir(warehouse, tp, [path], source="bench", actor="bench")
            second = import_fhir(warehouse, tp, [path], source="bench", actor="bench")
        warehouse.dispose()
    n = len(resources)
    assert not first.rejected and second.unchanged == first.rows_mapped
    rate = n / first.seconds
    report(f"fhir import {n:,} resources ({patients:,} patients) into OMOP on DuckDB", rate, "resources/s",
           baseline=n / validate_s, baseline_name="fhir.resources validation alone",
           json_parse_rate=f"{n / parse_s:,.0f} resources/s", ratio_vs_json=f"{rate / (n / parse_s):.4f}x",
           omop_rows=first.rows_mapped, omop_rows_per_s=f"{first.rows_mapped / first.seconds:,.0f}",
           seconds=round(first.seconds, 2))
    report(f"fhir re-import of the same {n:,} resources (all unchanged)", n / second.seconds, "resources/s",
           baseline=rate, baseline_name="first import", seconds=round(second.seconds, 2))


if __name__ == "__main__":
    main()
