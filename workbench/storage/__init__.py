"""Operational store: engines, sessions, ORM base and migrations."""

from typing import Any

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow
from workbench.storage.engine import check_schema, connect, make_engine, session_scope

__all__ = [
    "Base",
    "JSONText",
    "UTCDateTime",
    "check_schema",
    "connect",
    "make_engine",
    "session_scope",
    "upgrade",
    "utcnow",
]


def __getattr__(name: str) -> Any:
    """``upgrade`` loads Alembic (~0.3 CPU-s) only when asked for: every participant form kernel
    imports this package and never migrates."""
    if name == "upgrade":
        from workbench.storage.migrate import upgrade

        return upgrade
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
