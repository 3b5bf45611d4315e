"""The gateway client: the researcher gets plain string columns equal to Arrow's own decoding,
whichever shortcut built them, and reads the stream whether its length is announced or not."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow as pa
import pytest

from secure_bubble.client import Warehouse, constant_strings, plain_strings
from workbench.errors import PermissionDenied

PSEUDONYMS = pa.array(["A9KD1PGPDKDK4", "2WF73SCWZFCX9", "BX72ZS3W3STZJ"])


@pytest.mark.parametrize(("indices", "dictionary"), [
    (pa.array(np.zeros(1000, np.int16)), pa.array(["DEMO-QOL", "OTHER"])),  # one value: repeated
    (pa.array([2, 0, 1, 1, 0], pa.int32()), PSEUDONYMS),  # one width: gathered
    (pa.array([0, 1, 2, 1], pa.int32()), pa.array(["a", "bb", "ccc"])),  # widths differ: Arrow
    (pa.array([0, None, 1], pa.int32()), PSEUDONYMS),  # a missing index
    (pa.array([0, 1, 0], pa.int32()), pa.array(["AB", None])),  # a missing value
    (pa.array([], pa.int32()), PSEUDONYMS),
    (pa.array([1, 1], pa.int8()), pa.array(["", ""])),  # empty strings
    (pa.array([0, 2, 1, 2, 0, 1], pa.int32()).slice(2), PSEUDONYMS),  # a slice of the indices
    (pa.array([0, 1, 0], pa.int32()), PSEUDONYMS.slice(1)),  # a slice of the dictionary
])
def test_plain_strings_equal_arrow_decoding(indices: pa.Array, dictionary: pa.Array) -> None:
    encoded = pa.DictionaryArray.from_arrays(indices, dictionary)
    table = pa.table({"participant": pa.chunked_array([encoded, encoded]), "value": pa.array(
        np.arange(2 * len(encoded), dtype=np.float64))})
    plain = plain_strings(table)
    assert plain.schema == pa.schema([("participant", pa.large_string()), ("value", pa.float64())])
    assert plain["participant"].to_pylist() == encoded.cast(pa.string()).to_pylist() * 2
    assert plain["participant"].equals(pa.chunked_array([encoded.cast(pa.large_string())] * 2))
    assert plain.column("value").equals(table.column("value"))
    plain.validate(full=True)
    # The frame researchers get is the one Arrow's own decoding gives.
    own = pa.table({"participant": pa.chunked_array([encoded, encoded]).cast(pa.string()), "value": table["value"]})
    assert plain.to_pandas().equals(own.to_pandas())
    assert list(plain.to_pandas().dtypes) == list(own.to_pandas().dtypes)


@pytest.mark.parametrize("indices", [pa.array([0, 3], pa.int16()), pa.array([-1, 0], pa.int16()),
                                     pa.array([3, 3], pa.int16()), pa.array([-1, -1], pa.int8())])
def test_a_position_out_of_the_dictionary_is_refused(indices: pa.Array) -> None:
    encoded = pa.DictionaryArray.from_arrays(indices, PSEUDONYMS, safe=False)
    with pytest.raises((ValueError, IndexError, pa.ArrowException)):
        plain_strings(pa.table({"participant": pa.chunked_array([encoded])}))


def test_pieces_with_their_own_dictionaries() -> None:
    pieces = [pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int16()), PSEUDONYMS),
              pa.DictionaryArray.from_arrays(pa.array([0, 0], pa.int16()), pa.array(["DEMO-QOL"])),
              pa.DictionaryArray.from_arrays(pa.array([1, 2], pa.int16()), pa.array(["x", "yy", "zzz"]))]
    plain = plain_strings(pa.table({"participant": pa.chunked_array(pieces)}))
    assert plain["participant"].to_pylist() == [PSEUDONYMS[1].as_py(), PSEUDONYMS[0].as_py(), "DEMO-QOL",
                                                "DEMO-QOL", "yy", "zzz"]


def test_constant_strings() -> None:
    assert constant_strings("DEMO-QOL", 3).equals(pa.array(["DEMO-QOL"] * 3, pa.large_string()))
    assert constant_strings("", 2).to_pylist() == ["", ""]
    assert constant_strings("é", 0).to_pylist() == []
    constant_strings("é", 5).validate(full=True)


def _stream() -> bytes:
    table = pa.table({"participant": pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int32()), PSEUDONYMS),
                      "value": [1.0, 2.0, None]})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=2)
    return sink.getvalue()


class _Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["project"] == "refused":
            answer = json.dumps({"error": "no access to project refused"}).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        data = _stream()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.apache.arrow.stream")
        if body["project"] == "chunked":  # as a proxy may re-send it: no length announced
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(data), 100):
                piece = data[start:start + 100]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def gateway_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/warehouse-gateway"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("project", ["P1", "chunked"])
def test_the_stream_is_read_with_or_without_a_length(gateway_url: str, project: str) -> None:
    frame = Warehouse(project, url=gateway_url, token="t").extract(["phq-9.*"])
    assert frame["participant"].tolist() == ["A9KD1PGPDKDK4", "2WF73SCWZFCX9", "A9KD1PGPDKDK4"]
    assert str(frame["participant"].dtype) == "str" and frame["value"].isna().tolist() == [False, False, True]


def test_a_refusal_is_raised_with_the_gateways_words(gateway_url: str) -> None:
    with pytest.raises(PermissionDenied, match="no access to project refused"):
        Warehouse("refused", url=gateway_url, token="t").extract(["phq-9.*"])
