"""Callbacks that never fail silently and never show a traceback.

ipywidgets swallows exceptions raised in callbacks (they only reach the kernel log), so a user
clicking a button would see nothing happen. ``guarded`` wraps a callback: a ``WorkbenchError``
shows its one-line message, anything else a generic apology; the details go to the log without
values, so no row-level data lands there.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from html import escape
from typing import Any, TypeVar

import ipywidgets as w

from workbench.errors import WorkbenchError

__all__ = ["UNEXPECTED", "guarded", "show_error", "show_message"]

log = logging.getLogger("widgets")
F = TypeVar("F", bound=Callable[..., Any])

UNEXPECTED = (
    "Une erreur inattendue est survenue ; l'équipe technique a été prévenue.",
    "An unexpected error occurred; the technical team has been notified.",
)


def show_message(status: w.HTML, text: str, *, kind: str = "info") -> None:
    role = "alert" if kind == "error" else "status"
    color = "#a40000" if kind == "error" else "#1a5e1a"
    status.value = f'<p role="{role}" class="weshare-{kind}" style="color:{color}">{escape(text)}</p>'


def show_error(status: w.HTML, error: BaseException) -> None:
    """What a viewer sees for ``error``: its own message if meant for people, else a generic one."""
    if isinstance(error, WorkbenchError):
        show_message(status, str(error), kind="error")
    else:
        show_message(status, " / ".join(UNEXPECTED), kind="error")


def guarded(status: w.HTML) -> Callable[[F], F]:
    """Decorator: run the callback, report any failure in ``status`` instead of losing it."""

    def wrap(callback: F) -> F:
        @functools.wraps(callback)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except WorkbenchError as exc:
                log.info("%s refused: %s", callback.__name__, type(exc).__name__)
                show_error(status, exc)
            except Exception as exc:
                log.error("%s failed: %s", callback.__name__, type(exc).__name__)
                show_error(status, exc)
            return None

        return run  # type: ignore[return-value]

    return wrap
