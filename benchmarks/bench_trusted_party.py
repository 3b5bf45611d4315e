"""Trusted party at cohort scale: register 100,000 synthetic people, then translate 100,000
pseudonyms study → warehouse (first deposit and repeat) and warehouse → project.

Target: a 100,000-pseudonym translation well under 2 s. Baselines run in the same process:
- registration against a plain executemany INSERT of the same number of rows (no linkage,
  no sealing), to show what record linkage and encryption cost;
- translation against the bare computation in pure Python (a dict lookup and one HMAC per
  pseudonym, no database), and against the same API called once per pseudonym.

    .venv/bin/python benchmarks/bench_trusted_party.py [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report, timed
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table

from workbench.settings import Settings
from workbench.synth.identities import generate_identities
from workbench.trusted_party import Identity, init_store, open_trusted_party

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def identities(n: int) -> list[Identity]:
    people: list[Identity] = []
    for frame in generate_identities(n, seed=11, chunk_size=50_000):
        for row in frame.itertuples(index=False):
            people.append(Identity(row.first_name, row.last_name, row.birth_date.date(),
                                   str(row.sex), postcode=row.postcode, email=row.email))
    return people


def plain_insert_baseline(engine, n: int) -> float:  # type: ignore[no-untyped-def]
    table = Table("bench_plain", MetaData(), Column("id", Integer, primary_key=True),
                  Column("k", String(64)), Column("blob", LargeBinary))
    table.create(engine)
    rows = [{"k": secrets.token_hex(32), "blob": secrets.token_bytes(120)} for _ in range(n)]
    seconds, _ = timed(lambda: _insert(engine, table, rows))
    table.drop(engine)
    return seconds


def _insert(engine, table, rows) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)


def pure_python_translation(codes: list[str]) -> float:
    key = secrets.token_bytes(32)
    table = {c: secrets.token_bytes(16) for c in codes}

    def run() -> list[bytes]:
        return [hmac.new(key, table[c], hashlib.sha256).digest() for c in codes]

    return timed(run, repeat=3)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 people: a seconds-long run")
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL db")
    args = parser.parse_args()
    n = 5_000 if args.quick else 100_000
    backend = "postgresql" if args.postgres else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ttp.sqlite'}"
        dbname = None
        if args.postgres:
            import psycopg
            dbname = f"weshare_ttpbench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{dbname}"')
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname
        try:
            run(Settings(home=Path(tmp), trusted_party_url=url), n, backend)
        finally:
            if dbname:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def run(cfg: Settings, n: int, backend: str) -> None:
    init_store(cfg, actor="bench")
    people = identities(n)
    with open_trusted_party(cfg) as tp:
        reg_s, regs = timed(lambda: tp.register_people(people, actor="bench"))
        base_s = plain_insert_baseline(tp.engine, n)
        report(f"ttp register {n} people ({backend})", reg_s, "s", baseline=base_s,
               baseline_name="plain INSERT of as many rows", target="minutes at most",
               per_person_ms=round(1000 * reg_s / n, 3),
               created=sum(r.created for r in regs),
               reviews=sum(r.possible_duplicates for r in regs))
        handles = [r.person for r in regs]
        study = tp.pseudonyms(handles, "study:BENCH", actor="bench")
        baseline = pure_python_translation(study)
        first_s, first = timed(lambda: tp.translate(study, "study:BENCH", "warehouse",
                                                    actor="bench"))
        report(f"ttp translate {len(study)} study→warehouse, first deposit ({backend})", first_s,
               "s", baseline=baseline, baseline_name="pure-Python dict+HMAC, no database",
               target="< 2 s", newly_issued=first.newly_issued)
        again_s, again = timed(lambda: tp.translate(study, "study:BENCH", "warehouse",
                                                    actor="bench"), repeat=2)
        assert again.pseudonyms == first.pseudonyms
        report(f"ttp translate {len(study)} study→warehouse, repeat ({backend})", again_s, "s",
               baseline=baseline, baseline_name="pure-Python dict+HMAC, no database",
               target="< 2 s")
        tp.open_domain("project:BENCH", actor="bench")
        codes = [c for c in first.pseudonyms if c is not None]
        proj_s, _ = timed(lambda: tp.translate(codes, "warehouse", "project:BENCH",
                                               actor="bench"))
        sample = study[:500]
        one_s, _ = timed(lambda: [tp.translate([c], "study:BENCH", "warehouse", actor="bench")
                                  for c in sample])
        report(f"ttp translate {len(codes)} warehouse→project ({backend})", proj_s, "s",
               baseline=one_s * len(codes) / len(sample),
               baseline_name="one API call per pseudonym (500 timed, scaled)", target="< 2 s")


if __name__ == "__main__":
    main()
