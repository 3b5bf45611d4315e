"""The warehouse gateway: a Tornado service behind the hub, the only data path into the bubble.

POST {prefix}api/extract with ``Authorization: token <JupyterHub API token>`` and a JSON body
``{"project": "P2026-0001", "variables": ["qlq-c30.*"]}`` → an Arrow IPC stream. Every answer,
refusals included, is audited in the operational store.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from tornado.web import Application, RequestHandler

from secure_bubble.gateway.extract import extract
from secure_bubble.gateway.hub_tokens import HubTokenValidator
from secure_bubble.gateway.pseudonyms import ProjectPseudonyms
from secure_bubble.gateway.withdrawals import WithdrawalSync
from workbench import audit
from workbench.errors import (
    AuthError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    WorkbenchError,
)
from workbench.storage.engine import session_scope
from workbench.trusted_party import TrustedParty

__all__ = ["ARROW_STREAM", "GatewayContext", "make_app"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
STATUS = {AuthError: 401, PermissionDenied: 403, NotFoundError: 404, ValidationError: 400}


@dataclass
class GatewayContext:
    operational: sa.Engine
    warehouse: sa.Engine
    trusted_party: TrustedParty
    tokens: HubTokenValidator
    pseudonyms: ProjectPseudonyms = field(default_factory=ProjectPseudonyms)
    withdrawals: WithdrawalSync = field(default_factory=WithdrawalSync)


class _Pieces:
    """Where the Arrow stream writer puts the stream: its small headers as bytes, the columns'
    buffers as themselves (no copy); the whole goes out to the socket piece by piece."""

    closed = False

    def __init__(self) -> None:
        self.pieces: list[bytes | memoryview] = []
        self.size = 0

    def write(self, data: bytes | pa.Buffer) -> int:
        piece = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self.pieces.append(piece)
        self.size += len(piece)
        return len(piece)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class ExtractHandler(RequestHandler):
    def initialize(self, context: GatewayContext) -> None:
        self.context = context

    def check_xsrf_cookie(self) -> None:  # token-authenticated API, no cookies involved
        return None

    def _token(self) -> str:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() in ("token", "bearer") else ""

    def _run(self, token: str, body: dict[str, Any]) -> _Pieces:
        ctx = self.context
        caller = ctx.tokens.caller(token)
        project, variables = body.get("project"), body.get("variables")
        if not isinstance(project, str) or not isinstance(variables, list):
            raise ValidationError("send {\"project\": ..., \"variables\": [...]}", where="request body")
        failure: WorkbenchError | None = None
        with session_scope(ctx.operational) as session:
            try:
                table = extract(session, ctx.trusted_party, ctx.warehouse, project, caller.name, variables,
                                pseudonyms=ctx.pseudonyms, withdrawals=ctx.withdrawals)
            except WorkbenchError as exc:  # keep the refusal's audit entry: commit, then answer
                failure = exc
        if failure is not None:
            raise failure
        sink = _Pieces()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink

    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            if not isinstance(body, dict):
                raise ValidationError("the body must be a JSON object", where="request body")
            payload = await asyncio.get_running_loop().run_in_executor(None, self._run, self._token(), body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._error(400, "the body is not JSON")
            return
        except WorkbenchError as exc:
            if isinstance(exc, AuthError):
                self._audit_unauthenticated(exc)
            status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
            self._error(status, str(exc) if not isinstance(exc, AuthError) else "invalid or missing token")
            return
        self.set_header("Content-Type", ARROW_STREAM)
        self.set_header("Content-Length", str(payload.size))
        await self.flush()  # the headers; then the stream's pieces straight from Arrow's buffers, queued
        # at once (the stream keeps large pieces as views, not copies); finish() waits for the last.
        for piece in payload.pieces:
            self.request.connection.write(piece)  # type: ignore[arg-type]
        self.finish()

    def _audit_unauthenticated(self, exc: AuthError) -> None:
        with session_scope(self.context.operational) as session:
            audit.record(session, actor="unknown", action="gateway.refused", object_type="gateway",
                         object_id=self.request.remote_ip or "-", reason=exc.reason)

    def _error(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))


class HealthHandler(RequestHandler):
    def get(self) -> None:
        self.finish({"status": "ok"})


def make_app(context: GatewayContext, prefix: str = "/") -> Application:
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    return Application([
        (prefix + "api/extract", ExtractHandler, {"context": context}),
        (prefix + "api/health", HealthHandler),
    ])
