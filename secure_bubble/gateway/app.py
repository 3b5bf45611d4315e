"""The warehouse gateway: a Tornado service behind the hub, the only data path into the bubble.

POST {prefix}api/extract with ``Authorization: token <JupyterHub API token>`` and a JSON body
``{"project": "P2026-0001", "variables": ["qlq-c30.*"]}`` (and optionally ``"cohort": {"name": ...,
"criteria": [...]}``, the extract narrowed to its people) → an Arrow IPC stream, sent in HTTP
chunks as the warehouse makes the rows (one chunk per record batch; with ``Content-Length`` to an
HTTP/1.0 client). Every answer, refusals included, is audited in the operational store: an extract
before its first row is sent, and again once it has gone or broke off (a stream that breaks off
ends without its last chunk, so no client takes it for whole).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from tornado.iostream import StreamClosedError
from tornado.web import Application, RequestHandler

from secure_bubble.gateway.extract import Extract, open_extract
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

log = logging.getLogger(__name__)

ARROW_STREAM = "application/vnd.apache.arrow.stream"
STATUS = {AuthError: 401, PermissionDenied: 403, NotFoundError: 404, ValidationError: 400}
# Batches queued on a connection at most (~5 MB each): the next waits until the client has read
# the oldest, so a slow reader costs the gateway a few batches of memory, not a whole extract.
QUEUED_BATCHES = 2
# How long a queued batch may wait for the client to read it before the stream is dropped and
# its place freed for someone else (recorded incomplete).
WRITE_TIMEOUT = 120.0


@dataclass
class GatewayContext:
    """What the gateway serves from. At most ``max_extracts`` extracts are opened or streamed at a
    time (others wait their turn, unaudited until then): each holds up to two warehouse connections
    while it opens and one while it streams (SQLAlchemy's default pool has 15), and one of
    ``threads`` at a time for its blocking steps, so no extract waits on a connection or a thread
    another one needs to finish. A stream still going after ``stream_seconds`` is dropped, so a
    client that reads very slowly cannot keep a place for ever."""

    operational: sa.Engine
    warehouse: sa.Engine
    trusted_party: TrustedParty
    tokens: HubTokenValidator
    pseudonyms: ProjectPseudonyms = field(default_factory=ProjectPseudonyms)
    withdrawals: WithdrawalSync = field(default_factory=WithdrawalSync)
    max_extracts: int = 6
    stream_seconds: float = 3600.0
    threads: ThreadPoolExecutor = field(init=False)
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.threads = ThreadPoolExecutor(self.max_extracts, thread_name_prefix="gateway")
        self.slots = asyncio.Semaphore(self.max_extracts)


class _Pieces:
    """Where the Arrow stream writer puts the stream: its small headers as bytes, the columns'
    buffers as themselves (no copy); taken batch by batch and sent piece by piece."""

    closed = False

    def __init__(self) -> None:
        self.pieces: list[bytes | memoryview] = []
        self.size = 0

    def write(self, data: bytes | pa.Buffer) -> int:
        piece = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self.pieces.append(piece)
        self.size += len(piece)
        return len(piece)

    def take(self) -> tuple[list[bytes | memoryview], int]:
        taken = self.pieces, self.size
        self.pieces, self.size = [], 0
        return taken

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class _Stream:
    """An opened extract written out as Arrow IPC, one record batch at a time."""

    def __init__(self, opened: Extract) -> None:
        self.opened = opened
        self._batches = opened.batches()
        self._sink = _Pieces()
        self._writer = pa.ipc.new_stream(self._sink, opened.schema)
        self.ended = False

    def next(self) -> tuple[list[bytes | memoryview], int]:
        """The next batch's pieces (the schema and dictionaries before the first; the end-of-stream
        mark after the last, then ``ended``). Waits for the warehouse."""
        batch = next(self._batches, None)
        if batch is None:
            self._writer.close()
            self.ended = True
        else:
            self._writer.write_batch(batch)
        return self._sink.take()


class ExtractHandler(RequestHandler):
    def initialize(self, context: GatewayContext) -> None:
        self.context = context

    def check_xsrf_cookie(self) -> None:  # token-authenticated API, no cookies involved
        return None

    def _token(self) -> str:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() in ("token", "bearer") else ""

    def _open(self, token: str, body: dict[str, Any]) -> _Stream:
        ctx = self.context
        try:
            caller = ctx.tokens.caller(token)
        except PermissionDenied as exc:  # a real token, not for this (a service's, or unscoped)
            with session_scope(ctx.operational) as session:
                audit.record(session, actor="unknown", action="gateway.refused", object_type="gateway",
                             object_id=self.request.remote_ip or "-", reason=str(exc))
            raise
        project, variables = body.get("project"), body.get("variables")
        if not isinstance(project, str) or not isinstance(variables, list):
            raise ValidationError("send {\"project\": ..., \"variables\": [...]}", where="request body")
        failure: WorkbenchError | None = None
        with session_scope(ctx.operational) as session:  # committed here: audited before any row leaves
            try:
                opened = open_extract(session, ctx.trusted_party, ctx.warehouse, project, caller.name, variables,
                                      cohort=body.get("cohort"), pseudonyms=ctx.pseudonyms,
                                      withdrawals=ctx.withdrawals)
            except WorkbenchError as exc:  # keep the refusal's audit entry: commit, then answer
                failure = exc
        if failure is not None:
            raise failure
        try:
            return _Stream(opened)
        except BaseException:
            opened.close()
            raise

    def _end(self, opened: Extract, complete: bool) -> None:
        try:
            with session_scope(self.context.operational) as session:
                opened.record_end(session, complete=complete)
        finally:
            opened.close()

    async def post(self) -> None:
        async with self.context.slots:
            await self._extract()

    async def _extract(self) -> None:
        loop, threads = asyncio.get_running_loop(), self.context.threads
        try:
            body = json.loads(self.request.body or b"{}")
            if not isinstance(body, dict):
                raise ValidationError("the body must be a JSON object", where="request body")
            stream = await loop.run_in_executor(threads, self._open, self._token(), body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._error(400, "the body is not JSON")
            return
        except WorkbenchError as exc:
            if isinstance(exc, AuthError):
                self._audit_unauthenticated(exc)
            status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
            self._error(status, str(exc) if not isinstance(exc, AuthError) else "invalid or missing token")
            return
        complete = False
        try:
            complete = await self._send(loop, stream)
        finally:
            await loop.run_in_executor(threads, self._end, stream.opened, complete)

    async def _send(self, loop: asyncio.AbstractEventLoop, stream: _Stream) -> bool:
        """Send the batches as they come; ``True`` once every byte of the stream has been handed
        to the connection (written to the socket, not merely queued).

        To an HTTP/1.1 client (Tornado then announces chunks) each batch is one chunk, framed here
        and written to the connection's stream: Tornado's own framing would copy every piece into
        a new bytes object. Tornado ends the chunks itself on ``finish``. Whether the client has
        closed its end is no measure: a client that has read the end-of-stream mark closes at once,
        often before the last (empty) chunk. At most ``QUEUED_BATCHES`` batches wait on the
        connection; a client that reads none for ``WRITE_TIMEOUT`` seconds is dropped, and so is a
        stream still going after the context's ``stream_seconds``.
        """
        connection = self.request.connection
        socket_stream = getattr(connection, "stream", None)
        self.set_header("Content-Type", ARROW_STREAM)
        chunked = self.request.version == "HTTP/1.1"
        if chunked:
            await self.flush()  # the headers
        deadline = loop.time() + self.context.stream_seconds

        def waiting() -> float:  # how long the oldest queued batch may still wait; TimeoutError if none
            left = min(WRITE_TIMEOUT, deadline - loop.time())
            if left <= 0:
                raise TimeoutError
            return left

        def dropped() -> bool:
            log.warning("extract for project %s dropped: %s", stream.opened.project,
                        f"still going after {self.context.stream_seconds:.0f} s" if loop.time() >= deadline
                        else f"the client read nothing for {WRITE_TIMEOUT:.0f} s")
            if socket_stream is not None:
                socket_stream.close()
            return False

        held: list[bytes | memoryview] = []
        queued: deque[Awaitable[None]] = deque()  # each batch's last write, done once it is written
        try:
            while not stream.ended:
                pieces, size = await loop.run_in_executor(self.context.threads, stream.next)
                if socket_stream is not None and socket_stream.closed():
                    return False  # the client went away; the rest is not read
                if not chunked:
                    held += pieces
                elif socket_stream is None and pieces:
                    for piece in pieces[:-1]:
                        connection.write(piece)  # type: ignore[arg-type]
                    queued.append(connection.write(pieces[-1]))  # type: ignore[arg-type]
                elif size:
                    socket_stream.write(b"%x\r\n" % size)
                    for piece in pieces:  # queued at once: large pieces stay views, not copies
                        socket_stream.write(piece)
                    queued.append(socket_stream.write(b"\r\n"))
                while len(queued) > QUEUED_BATCHES:  # the client reads slower than rows come
                    await asyncio.wait_for(asyncio.shield(queued.popleft()), waiting())
                if chunked:
                    waiting()  # past the stream's time, even for a client that keeps up
        except StreamClosedError:
            return False  # the client went away while a batch was queued
        except TimeoutError:
            return dropped()
        except Exception as exc:
            # The error's kind only: its message may quote a value from the rows. The client sees
            # the stream break off (no last chunk).
            log.error("extract for project %s broke off: %s", stream.opened.project, type(exc).__name__)
            if socket_stream is not None:
                socket_stream.close()
            return False
        try:
            if not chunked:
                self.set_header("Content-Length", str(sum(len(p) for p in held)))
                await self.flush()
                for piece in held:
                    queued.append(connection.write(piece))  # type: ignore[arg-type]
            if queued:
                await asyncio.wait_for(asyncio.shield(queued[-1]), waiting())
        except StreamClosedError:
            return False
        except TimeoutError:
            return dropped()
        # Every byte of the extract, its end-of-stream mark included, is written; a client that has
        # read the mark may leave before the last chunk.
        with contextlib.suppress(StreamClosedError):
            await self.finish()
        return True

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
