"""The deposited demo study that gateway, indicator and project-space tests start from: the
stores, an empty warehouse, and the study seeded, closed and deposited, made the same way
everywhere (each test still picks its own size and seed)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from workbench.demo import seed_demo
from workbench.deposit import deposit_study
from workbench.settings import Settings
from workbench.storage.engine import make_engine, session_scope
from workbench.storage.migrate import upgrade
from workbench.studies.service import set_status
from workbench.trusted_party import TrustedParty, init_store, open_trusted_party
from workbench.warehouse import connect, create_schema, load_mini_vocabulary


def open_stores(cfg: Settings) -> tuple[Engine, TrustedParty]:
    """The operational store (migrated) and a new trusted party, under ``cfg``."""
    op = make_engine(cfg.database_url)
    upgrade(op)
    init_store(cfg, actor="test")
    return op, open_trusted_party(cfg)


def empty_warehouse(url: str) -> Engine:
    """A warehouse with its schema and the mini vocabulary, and nothing deposited."""
    wh = connect(url)
    create_schema(wh)
    load_mini_vocabulary(wh)
    return wh


def deposit_demo(op: Engine, tp: TrustedParty, wh: Engine, *, participants: int, seed: int,
                 before_close: Callable[[Session], None] | None = None) -> None:
    """The demo study seeded with ``participants`` people, closed and deposited into ``wh``;
    ``before_close`` may change the seeded study in the same transaction first."""
    with session_scope(op) as s:
        seed_demo(s, tp, participants=participants, seed=seed)
        if before_close is not None:
            before_close(s)
        set_status(s, "DEMO-QOL", "closed", actor="sm")
    with session_scope(op) as s:
        deposit_study(s, tp, wh, "DEMO-QOL", actor="steward")
