"""The researcher's only data path in the bubble: the warehouse gateway, with the server's token.

    from secure_bubble.client import Warehouse
    wh = Warehouse("P2026-0001")            # token and URL come from the server's environment
    scores = wh.extract(["qlq-c30.*"])      # a pandas DataFrame, project pseudonyms only
    people = wh.extract(["demographics", "arm"])  # sex, birth year, arm: if the project was approved for them
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import (
    NotFoundError,
    PermissionDenied,
    ValidationError,
    WorkbenchError,
)

__all__ = ["Warehouse", "constant_strings", "plain_strings"]

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

    def _connection(self) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"not a gateway URL: {self.url!r}", where="Warehouse")
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                               context=ssl.create_default_context()), parts.path
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout), parts.path

    def extract(self, variables: list[str]) -> pd.DataFrame:
        """Approved variables of the project as a long table: participant, study, event, date,
        variable, value, text (sex and arm are text; answers, scores and birth year are values)."""
        conn, path = self._connection()
        try:
            conn.request("POST", f"{path}/api/extract",
                         body=json.dumps({"project": self.project, "variables": variables}).encode(),
                         headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
            reply = conn.getresponse()
            if reply.status != 200:
                text = reply.read().decode(errors="replace")
                message = (json.loads(text).get("error", text)
                           if (reply.getheader("Content-Type") or "").startswith("application/json") else text)
                raise _ERRORS.get(reply.status, WorkbenchError)(message)
            table = _read_stream(reply)
        except (OSError, http.client.HTTPException) as exc:
            raise WorkbenchError(f"the gateway at {self.url} could not be read: {exc}") from None
        finally:
            conn.close()
        return plain_strings(table).to_pandas()


def _read_stream(reply: http.client.HTTPResponse) -> pa.Table:
    """The Arrow stream of the reply. With a known length (the gateway sends one) the body goes
    straight from the socket into one Arrow buffer that the tables then point into: half the time
    of reading it piece by piece into fresh memory. Otherwise (a proxy that re-chunks) Arrow reads
    the reply as a file."""
    length = reply.getheader("Content-Length")
    if length is None or reply.getheader("Content-Encoding") or reply.getheader("Transfer-Encoding"):
        return pa.ipc.open_stream(reply).read_all()
    buffer = pa.allocate_buffer(int(length))
    view = memoryview(np.frombuffer(buffer, dtype=np.uint8))  # a writable view of the Arrow buffer
    got = 0
    while got < len(view):
        n = reply.readinto(view[got:])
        if not n:
            raise http.client.IncompleteRead(b"", len(view) - got)
        got += n
    return pa.ipc.open_stream(pa.BufferReader(buffer)).read_all()


def plain_strings(table: pa.Table) -> pa.Table:
    """Dictionary-encoded columns (participant, study) as the plain strings researchers get, made
    ``large_string`` at once: what pandas keeps its ``str`` columns as (it would otherwise widen the
    offsets of every string column it is given, a second pass over fresh memory)."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_dictionary(field.type) and pa.types.is_string(field.type.value_type):
            column = _decode_column(column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def constant_strings(value: str, n: int) -> pa.Array:
    """``n`` times ``value`` as an Arrow ``large_string`` array, built by repeating the bytes (a
    study's part of an extract: ten times faster than decoding it)."""
    data = value.encode()
    return pa.LargeStringArray.from_buffers(n, _offsets(n, len(data)), pa.py_buffer(data * n))


def _decode_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The record batches' pieces of a column share one dictionary: their positions are joined
    (a small copy) and decoded at once, which costs half of decoding piece by piece."""
    if column.num_chunks > 1:
        try:
            return pa.chunked_array([_decode(column.combine_chunks())], pa.large_string())
        except (pa.ArrowCapacityError, pa.ArrowInvalid):  # pieces with dictionaries of their own
            pass
    return pa.chunked_array([_decode(chunk) for chunk in column.chunks], pa.large_string())


def _decode(chunk: pa.DictionaryArray) -> pa.Array:
    """A dictionary chunk as plain ``large_string``. One value (a study's part) is repeated; values
    all of one length (project pseudonyms) are gathered as fixed-size binary, about twice as fast
    as Arrow's general decoding, which does the rest."""
    n, dictionary = len(chunk), chunk.dictionary
    if not n or chunk.null_count or dictionary.null_count or dictionary.offset:
        return chunk.cast(pa.large_string())
    low, high = (v.as_py() for v in pc.min_max(chunk.indices).values())
    if low < 0 or high >= len(dictionary):
        raise ValueError(f"a dictionary position out of range ({low}..{high} for {len(dictionary)} values)")
    if low == high:
        return constant_strings(dictionary[low].as_py(), n)
    offsets = np.frombuffer(dictionary.buffers()[1], dtype=np.int32, count=len(dictionary) + 1)
    width = int(offsets[1] - offsets[0]) if len(dictionary) else 0
    if not width or offsets[0] or not (np.diff(offsets) == width).all():
        return chunk.cast(pa.large_string())
    values = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(dictionary), [None, dictionary.buffers()[2]])
    data = values.take(chunk.indices).buffers()[1]
    return pa.LargeStringArray.from_buffers(n, _offsets(n, width), data)


def _offsets(n: int, width: int) -> pa.Buffer:
    """Offsets of ``n`` strings of ``width`` bytes (64-bit, as ``large_string`` has them), made in
    one array (fresh memory is what costs)."""
    if not width:
        return pa.py_buffer(np.zeros(n + 1, dtype=np.int64))
    return pa.py_buffer(np.arange(0, (n + 1) * width, width, dtype=np.int64))
