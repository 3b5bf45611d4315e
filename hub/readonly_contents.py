"""A contents manager that serves files but refuses every change.

The shared dashboards server is reachable by every signed-in staff member; if its contents API
could write, anyone could replace a dashboard notebook and run code in everyone's next view.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError

__all__ = ["ReadOnlyContentsManager"]


class ReadOnlyContentsManager(AsyncLargeFileManager):  # type: ignore[misc]
    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        raise HTTPError(403, "dashboards are read-only")

    async def delete_file(self, path: str) -> None:
        raise HTTPError(403, "dashboards are read-only")

    async def rename_file(self, old_path: str, new_path: str) -> None:
        raise HTTPError(403, "dashboards are read-only")
