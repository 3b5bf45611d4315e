"""The researcher's only data path in the bubble: the warehouse gateway, with the server's token.

    from secure_bubble.client import Cohort, Demographics, ScoreAt, Warehouse
    wh = Warehouse("P2026-0001")            # token and URL come from the server's environment
    scores = wh.extract(["qlq-c30.*"])      # a pandas DataFrame, project pseudonyms only
    people = wh.extract(["demographics", "arm"])  # sex, birth year, arm: if the project was approved for them
    women = Cohort("women_depressed", (Demographics(sex="female"), ScoreAt("LOINC:44261-6", "BL", low=10)))
    theirs = wh.extract(["qlq-c30.*"], cohort=women)  # only the people meeting every criterion
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
from typing import Any
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
from workbench.warehouse.criteria import Cohort, Demographics, HasCondition, ScoreAt

__all__ = ["Cohort", "Demographics", "HasCondition", "ScoreAt", "Warehouse", "constant_strings", "plain_strings"]

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

    def extract(self, variables: list[str], *, cohort: Cohort | dict[str, Any] | None = None) -> pd.DataFrame:
        """Approved variables of the project as a long table: participant, study, event, date,
        variable, value, text (sex and arm are text; answers, scores and birth year are values).

        With ``cohort`` (``Demographics``, ``HasCondition``, ``ScoreAt`` criteria, all to hold; or
        the JSON ``Cohort.describe`` gives, as a notebook parameter holds it), only its people:
        each criterion must be approved for the project in every study asked."""
        ask: dict[str, object] = {"project": self.project, "variables": variables}
        if cohort is not None:
            ask["cohort"] = (cohort if isinstance(cohort, Cohort) else Cohort.from_description(cohort)).describe()
        conn, path = self._connection()
        try:
            conn.request("POST", f"{path}/api/extract", body=json.dumps(ask).encode(),
                         headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
            reply = conn.getresponse()
            if reply.status != 200:
                text = reply.read().decode(errors="replace")
                message = (json.loads(text).get("error", text)
                           if (reply.getheader("Content-Type") or "").startswith("application/json") else text)
                raise _ERRORS.get(reply.status, WorkbenchError)(message)
            table = _read_stream(reply)
        except (OSError, http.client.HTTPException, pa.ArrowInvalid) as exc:
            raise WorkbenchError(f"the gateway at {self.url} could not be read: {exc}") from None
        finally:
            conn.close()
        return table.to_pandas()


def _read_stream(reply: http.client.HTTPResponse) -> pa.Table:
    """The Arrow stream of the reply, its participant and study made plain strings batch by batch.

    The gateway sends the stream in HTTP chunks as the warehouse makes the rows: each record batch
    is read from the socket straight into fresh Arrow memory and made plain while the next one is
    on its way. With a known length (an HTTP/1.0 answer) the body goes into one Arrow buffer that
    the batches then point into. Otherwise (a proxy that compresses) Arrow reads the reply as a file.
    """
    length = reply.getheader("Content-Length")
    if reply.getheader("Content-Encoding") or (length is None and reply.getheader("Transfer-Encoding") is None):
        reader = pa.ipc.open_stream(reply)
    elif length is None:
        reader = pa.ipc.open_stream(pa.PythonFile(_Body(reply), mode="r"))
    else:
        buffer = pa.allocate_buffer(int(length))
        _fill(reply, buffer)
        reader = pa.ipc.open_stream(pa.BufferReader(buffer))
    plain = _Plain()
    return pa.Table.from_batches([plain.batch(batch) for batch in reader], _plain_schema(reader.schema))


class _Body:
    """The reply as Arrow's stream reader reads it: each piece it asks for (a message's header,
    then its body) read from the socket straight into fresh Arrow memory (http.client undoes the
    chunking), never more than asked, so a batch is decoded as soon as it is whole."""

    closed = False

    def __init__(self, reply: http.client.HTTPResponse) -> None:
        self._reply = reply

    def read_buffer(self, n: int) -> pa.Buffer:
        buffer = pa.allocate_buffer(n)
        _fill(self._reply, buffer)
        return buffer

    def read(self, n: int = -1) -> bytes:
        return self._reply.read() if n < 0 else self.read_buffer(n).to_pybytes()

    def readable(self) -> bool:
        return True


def _fill(reply: http.client.HTTPResponse, buffer: pa.Buffer) -> None:
    """Read exactly ``buffer.size`` bytes of the reply into ``buffer``; a short reply is an error
    (a stream that broke off)."""
    view = memoryview(np.frombuffer(buffer, dtype=np.uint8))  # a writable view of the Arrow buffer
    got = 0
    while got < len(view):
        n = reply.readinto(view[got:])
        if not n:
            raise http.client.IncompleteRead(b"", len(view) - got)
        got += n


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    for i, field in enumerate(schema):
        if _is_text_dictionary(field.type):
            schema = schema.set(i, field.with_type(pa.large_string()))
    return schema


def _is_text_dictionary(kind: pa.DataType) -> bool:
    return pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type)


class _Plain:
    """Dictionary-encoded text columns (participant, study) made the plain ``large_string`` columns
    researchers get (what pandas keeps its ``str`` columns as, so it does not widen them again).

    One value (a study's part) is repeated; values all of one length (project pseudonyms) are
    gathered as fixed-size binary, about twice as fast as Arrow's general decoding, which does the
    rest. The batches of a stream are mostly of one length, so their offsets and a study's repeated
    name are made once and shared (Arrow buffers are immutable): fresh memory is what decoding costs.
    """

    def __init__(self) -> None:
        self._offsets: dict[tuple[int, int], pa.Buffer] = {}
        self._constants: dict[tuple[str, int], pa.Array] = {}

    def batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = [self.array(c) if _is_text_dictionary(c.type) else c for c in batch.columns]
        return pa.record_batch(columns, schema=_plain_schema(batch.schema))

    def array(self, chunk: pa.DictionaryArray) -> pa.Array:
        n, dictionary = len(chunk), chunk.dictionary
        if not n or chunk.null_count or dictionary.null_count or dictionary.offset:
            return chunk.cast(pa.large_string())
        low, high = (v.as_py() for v in pc.min_max(chunk.indices).values())
        if low < 0 or high >= len(dictionary):
            raise ValueError(f"a dictionary position out of range ({low}..{high} for {len(dictionary)} values)")
        if low == high:
            return self.constant(dictionary[low].as_py(), n)
        offsets = np.frombuffer(dictionary.buffers()[1], dtype=np.int32, count=len(dictionary) + 1)
        width = int(offsets[1] - offsets[0])
        if not width or offsets[0] or not (np.diff(offsets) == width).all():
            return chunk.cast(pa.large_string())
        values = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(dictionary),
                                                      [None, dictionary.buffers()[2]])
        return pa.LargeStringArray.from_buffers(n, self.offsets(n, width), values.take(chunk.indices).buffers()[1])

    def constant(self, value: str, n: int) -> pa.Array:
        key = (value, n)
        if key not in self._constants:
            data = value.encode()
            self._constants[key] = pa.LargeStringArray.from_buffers(n, self.offsets(n, len(data)),
                                                                    pa.py_buffer(data * n))
        return self._constants[key]

    def offsets(self, n: int, width: int) -> pa.Buffer:
        """Offsets of ``n`` strings of ``width`` bytes (64-bit, as ``large_string`` has them)."""
        key = (n, width)
        if key not in self._offsets:
            self._offsets[key] = pa.py_buffer(np.arange(0, (n + 1) * width, width, dtype=np.int64) if width
                                              else np.zeros(n + 1, dtype=np.int64))
        return self._offsets[key]


def plain_strings(table: pa.Table) -> pa.Table:
    """The table's dictionary-encoded text columns as plain ``large_string`` columns (``_Plain``)."""
    plain = _Plain()
    columns = [pa.chunked_array([plain.array(c) for c in column.chunks], pa.large_string())
               if _is_text_dictionary(field.type) else column
               for field, column in zip(table.schema, table.columns, strict=True)]
    return pa.table(columns, names=table.column_names)


def constant_strings(value: str, n: int) -> pa.Array:
    """``n`` times ``value`` as an Arrow ``large_string`` array, built by repeating the bytes (a
    study's part of an extract: ten times faster than decoding it)."""
    return _Plain().constant(value, n)
