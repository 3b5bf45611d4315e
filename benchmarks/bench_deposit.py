"""Deposit throughput: observation rows per second into DuckDB, end to end and for the warehouse
load phase alone, each against a bare Arrow insert of the same rows in the same run
(target ≥ 1,000,000 rows/s on DuckDB)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report
from _world import closed_demo

from workbench.deposit import deposit_study
from workbench.storage.engine import session_scope
from workbench.warehouse import connect, create_schema


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 300 if args.quick else args.participants
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        world = closed_demo(home, n, seed=3)
        op, tp, wh = world.operational, world.trusted_party, world.warehouse
        start = time.perf_counter()
        with session_scope(op) as s:
            result = deposit_study(s, tp, wh, "DEMO-QOL", actor="bench")
        seconds = time.perf_counter() - start
        rows = result.rows["observation"]
        # Baseline: the same observation rows, inserted bare through DuckDB's Arrow path.
        source = wh.raw_connection()
        table = source.driver_connection.sql("SELECT * FROM observation").to_arrow_table()
        source.close()
        base = connect(f"duckdb:///{home / 'bare.duckdb'}")
        create_schema(base)
        raw = base.raw_connection()
        start = time.perf_counter()
        raw.driver_connection.register("batch", table)
        raw.driver_connection.execute("INSERT INTO observation SELECT * FROM batch")
        raw.commit()
        bare = time.perf_counter() - start
        raw.close()
        all_rows = sum(result.rows.values())
        report(f"deposit {n} participants, load phase rows/s (checks + Arrow load of all tables)",
               all_rows / result.load_seconds, "rows/s", baseline=rows / bare,
               baseline_name="bare Arrow insert of the observation rows", target=">= 1e6 rows/s",
               rows=all_rows, seconds=round(result.load_seconds, 2))
        report(f"deposit {n} participants, observation rows/s (whole deposit, end to end)", rows / seconds,
               "rows/s", baseline=rows / bare, baseline_name="bare Arrow insert of the same rows",
               target=">= 1e6 rows/s", observation_rows=rows, seconds=round(seconds, 2))
        base.dispose()
        world.close()


if __name__ == "__main__":
    main()
