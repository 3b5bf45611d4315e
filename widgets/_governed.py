"""The governance dashboards' one path to the domain: the viewer's user, one transaction, and an
audited refusal (``secure_bubble.governed``) when the domain says no.

Also the small pieces of view every governance dashboard shares (bilingual labels, tables, a
download link), so each dashboard module stays a layout plus thin callbacks.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Sequence
from html import escape
from typing import Any, TypeVar

import ipywidgets as w
from sqlalchemy.orm import Session

from secure_bubble.governed import Runner, governed
from widgets._store import in_session
from widgets.guarded import show_error
from workbench.accounts import get_user
from workbench.accounts.models import User
from workbench.errors import PermissionDenied
from workbench.settings import Settings

__all__ = ["Desk", "bi", "data_link", "html_table", "signed_out"]

T = TypeVar("T")


def bi(fr: str, en: str) -> str:
    """French first, English alongside and marked as English (escaped)."""
    return f'{escape(fr)} <span lang="en">/ {escape(en)}</span>'


def html_table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
               empty: str) -> str:
    """A captioned table; cells are already-escaped HTML, the first one is the row header."""
    if not rows:
        return f'<p role="status">{empty}</p>'
    head = "".join(f'<th scope="col">{h}</th>' for h in headers)
    body = "".join(
        "<tr>" + f'<th scope="row">{r[0]}</th>' + "".join(f"<td>{c}</td>" for c in r[1:]) + "</tr>"
        for r in rows)
    return (f'<table class="weshare-table"><caption>{caption}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def data_link(name: str, content: bytes, mime: str, label: str) -> str:
    """A link that saves ``content`` under ``name`` (nothing is written on the server)."""
    data = base64.b64encode(content).decode()
    return f'<a download="{escape(name)}" href="data:{mime};base64,{data}">{label}</a>'


class Desk:
    """Runs work for the signed-in ``viewer``: ``read`` plainly, ``act`` as a governed action."""

    def __init__(self, run: Runner[Any], viewer: str) -> None:
        self.run, self.viewer = run, viewer

    @classmethod
    def for_settings(cls, settings: Settings, viewer: str) -> Desk:
        return cls(functools.partial(in_session, settings), viewer)

    def read(self, work: Callable[[Session, User], T]) -> T:
        return self.run(lambda s: work(s, get_user(s, self.viewer)))  # type: ignore[no-any-return]

    def act(self, action: str, object_type: str, object_id: str | int,
            work: Callable[[Session, User], T]) -> T:
        return governed(self.run, lambda s: work(s, get_user(s, self.viewer)), actor=self.viewer,
                        action=action, object_type=object_type, object_id=object_id)


def signed_out() -> w.VBox:
    """What a dashboard shows when the hub did not name a viewer (never a traceback)."""
    status = w.HTML()
    show_error(status, PermissionDenied("Connectez-vous d'abord. / Please sign in first."))
    return w.VBox([status])
