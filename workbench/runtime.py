"""Opening the stores for an entry point: connect, check the schema, fail with one clear line."""

from __future__ import annotations

from sqlalchemy import Engine

from workbench.settings import Settings
from workbench.storage.engine import check_schema, connect

__all__ = ["open_operational"]


def open_operational(settings: Settings, *, check: bool = True) -> Engine:
    engine = connect(settings.database_url, setting="WESHARE_DATABASE_URL")
    if check:
        check_schema(engine)
    return engine
