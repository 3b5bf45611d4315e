"""Operational store: engines, sessions, ORM base and migrations."""

from workbench.storage.base import Base, JSONText, UTCDateTime, utcnow
from workbench.storage.engine import check_schema, connect, make_engine, session_scope
from workbench.storage.migrate import upgrade

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
