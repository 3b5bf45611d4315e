"""Helpers shared by CLI modules: settings from the environment, stores, output."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from workbench.runtime import open_operational
from workbench.settings import Settings, load_settings
from workbench.storage.engine import session_scope

__all__ = ["add_command", "settings", "store_session"]

CLI_ACTOR = "cli"


def settings() -> Settings:
    return load_settings()


@contextmanager
def store_session(cfg: Settings | None = None) -> Iterator[Session]:
    engine = open_operational(cfg or settings())
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def add_command(
    group: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    handler: Callable[[argparse.Namespace], int | None],
    help_text: str,
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser
