"""Voila prelaunch hook for the staff dashboards: tell the notebook who is looking.

The hook runs inside the dashboards server, after the hub's OAuth has authenticated the request,
and before the kernel starts. It prepends one cell assigning the authenticated hub username.
Nothing the viewer sends (query string, headers, widget values) reaches that cell, so the
viewer cannot pose as somebody else; the dashboard then asks the domain for that user's scope.
"""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any

__all__ = ["VIEWER_VARIABLE", "inject_viewer", "viewer_cell_source"]

VIEWER_VARIABLE = "WESHARE_VIEWER"
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


def viewer_cell_source(username: str) -> str:
    if not _USERNAME.match(username):
        raise ValueError("not a workbench username")
    return f"{VIEWER_VARIABLE} = {username!r}"


def inject_viewer(req: Any, notebook: Any, cwd: str) -> Any:
    """Return a copy of ``notebook`` whose first cell names the authenticated viewer."""
    import nbformat
    from tornado.web import HTTPError

    user = getattr(req, "current_user", None)
    username = getattr(user, "username", None) or (user.get("name") if isinstance(user, dict) else None)
    if not username or not _USERNAME.match(username):
        raise HTTPError(403, "sign in to the hub to see dashboards")
    scoped = deepcopy(notebook)  # the cached notebook is shared between viewers: never edit it
    scoped.cells.insert(0, nbformat.v4.new_code_cell(viewer_cell_source(username)))
    return scoped
