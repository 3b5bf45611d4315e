"""Engines and sessions for the operational store, and the check that its schema is current."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from workbench.errors import SchemaOutOfDate, StoreUnavailable

__all__ = ["check_schema", "connect", "make_engine", "schema_head", "session_scope"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, setting: str = "WESHARE_DATABASE_URL", **kwargs: Any) -> Engine:
    """Build an engine; SQLite files get WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    try:
        engine = create_engine(url, future=True, **kwargs)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreUnavailable(f"{setting}: cannot use {parsed.render_as_string()}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        # Take the write lock at BEGIN: SQLite otherwise fails a reader that later writes
        # (SQLITE_BUSY_SNAPSHOT) instead of waiting, and the audit chain needs serial appends.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    engine.info_setting = setting  # type: ignore[attr-defined]
    return engine


def connect(url: str, *, setting: str = "WESHARE_DATABASE_URL") -> Engine:
    """An engine that has answered once, or one clear line naming the setting."""
    engine = make_engine(url, setting=setting)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        safe = make_url(url).render_as_string()
        raise StoreUnavailable(f"{setting}: cannot reach {safe} ({reason})") from None
    return engine


@cache
def schema_head() -> str:
    """The code's migration head (read once per process: it changes only with the code)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def check_schema(engine: Engine) -> None:
    """Refuse to run on a store whose schema is not at the code's migration head."""
    head = schema_head()
    current = None
    with engine.connect() as conn:
        if inspect(conn).has_table("alembic_version"):
            current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaOutOfDate(
            f"the operational store is {state}, this code needs revision {head}: "
            "run `weshare db upgrade`"
        )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
