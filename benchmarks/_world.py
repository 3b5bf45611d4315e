"""A throwaway instance with a deposited demo study, shared by the benchmarks that need one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from workbench.demo import seed_demo
from workbench.settings import Settings
from workbench.storage.engine import make_engine, session_scope
from workbench.storage.migrate import upgrade
from workbench.studies.service import set_status
from workbench.trusted_party import TrustedParty, init_store, open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary

__all__ = ["World", "closed_demo", "open_world"]


@dataclass
class World:
    operational: sa.Engine
    trusted_party: TrustedParty
    warehouse: sa.Engine

    def close(self) -> None:
        self.trusted_party.close()
        self.warehouse.dispose()
        self.operational.dispose()


def closed_demo(home: Path, participants: int, seed: int) -> World:
    """Stores under ``home`` holding the demo study with ``participants`` people, closed."""
    cfg = Settings(home=home)
    operational = make_engine(cfg.database_url)
    upgrade(operational)
    init_store(cfg, actor="bench")
    tp = open_trusted_party(cfg)
    warehouse = connect(f"duckdb:///{home / 'wh.duckdb'}")
    create_schema(warehouse)
    load_mini_vocabulary(warehouse)
    with session_scope(operational) as s:
        seed_demo(s, tp, participants=participants, seed=seed)
        set_status(s, "DEMO-QOL", "closed", actor="bench")
    return World(operational, tp, warehouse)


def open_world(home: Path) -> World:
    """The stores a ``closed_demo`` left under ``home`` (or a copy of them), opened again."""
    cfg = Settings(home=home)
    return World(make_engine(cfg.database_url), open_trusted_party(cfg), connect(f"duckdb:///{home / 'wh.duckdb'}"))
