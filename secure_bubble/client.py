"""The researcher's only data path in the bubble: the warehouse gateway, with the server's token.

    from secure_bubble.client import Warehouse
    wh = Warehouse("P2026-0001")            # token and URL come from the server's environment
    scores = wh.extract(["qlq-c30.*"])      # a pandas DataFrame, project pseudonyms only
    people = wh.extract(["demographics", "arm"])  # sex, birth year, arm: if the project was approved for them
"""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa
import requests

from workbench.errors import (
    NotFoundError,
    PermissionDenied,
    ValidationError,
    WorkbenchError,
)

__all__ = ["Warehouse"]

_ERRORS = {401: PermissionDenied, 403: PermissionDenied, 404: NotFoundError, 400: ValidationError}


class Warehouse:
    def __init__(self, project: str, *, url: str | None = None, token: str | None = None,
                 timeout: float = 300.0) -> None:
        self.project = project
        self.url = (url or os.environ.get("WESHARE_GATEWAY_URL", "")).rstrip("/")
        self.token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.timeout = timeout
        if not self.url:
            raise ValidationError("no gateway URL (WESHARE_GATEWAY_URL is not set in this server)",
                                  where="Warehouse")

    def extract(self, variables: list[str]) -> pd.DataFrame:
        """Approved variables of the project as a long table: participant, study, event, date,
        variable, value, text (sex and arm are text; answers, scores and birth year are values)."""
        # Streamed: Arrow reads the record batches straight off the response, no copy of the body.
        with requests.post(f"{self.url}/api/extract", json={"project": self.project, "variables": variables},
                           headers={"Authorization": f"token {self.token}"}, timeout=self.timeout,
                           stream=True) as reply:
            if reply.status_code != 200:
                message = reply.json().get("error", reply.text) if reply.headers.get(
                    "Content-Type", "").startswith("application/json") else reply.text
                raise _ERRORS.get(reply.status_code, WorkbenchError)(message)
            reply.raw.decode_content = True
            table = pa.ipc.open_stream(reply.raw).read_all()
        # Participant and study travel dictionary-encoded; researchers get plain string columns.
        plain = pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
                           for f in table.schema])
        return table.cast(plain).to_pandas()
