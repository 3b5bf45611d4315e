"""One transaction against the operational store for a widget action (glue, no business rules)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope

__all__ = ["in_session"]

T = TypeVar("T")


def in_session(settings: Settings, work: Callable[[Session], T]) -> T:
    engine = open_operational(settings)
    try:
        with session_scope(engine) as session:
            return work(session)
    finally:
        engine.dispose()
