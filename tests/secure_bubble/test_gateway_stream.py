"""The extract as a stream: audited before its first row leaves, sent in chunks as the warehouse
makes the rows, audited again with what left; a stream that breaks off is an error for the client
and recorded as incomplete."""

from __future__ import annotations

import copy
import http.client
import json
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from secure_bubble.client import Warehouse
from secure_bubble.gateway import app as gateway_app
from secure_bubble.gateway import rows as gateway_rows
from secure_bubble.gateway.extract import Extract
from secure_bubble.gateway.feed import Feed
from tests.secure_bubble.served import served_gateway, wait_until_up
from workbench import audit
from workbench.errors import WorkbenchError
from workbench.storage.engine import session_scope


def _batches(n: int, log: list[str], fail_after: int | None = None) -> Generator[pa.RecordBatch, None, None]:
    try:
        for i in range(n):
            if fail_after is not None and i == fail_after:
                raise RuntimeError("the warehouse went away")
            log.append(f"made {i}")
            yield pa.record_batch({"i": [i]})
    finally:
        log.append("cleaned up")


def test_a_feed_gives_its_batches_in_order_then_none() -> None:
    log: list[str] = []
    feed = Feed(_batches(3, log))
    assert [feed.take().column(0)[0].as_py() for _ in range(3)] == [0, 1, 2]  # type: ignore[union-attr]
    assert feed.take() is None
    feed.close()
    assert log[-1] == "cleaned up"


def test_a_feed_hands_on_the_warehouse_error_after_what_it_made() -> None:
    feed = Feed(_batches(5, [], fail_after=2))
    assert feed.take() is not None and feed.take() is not None
    with pytest.raises(RuntimeError, match="went away"):
        feed.take()
    feed.close()


def test_a_feed_closed_early_stops_its_query_and_cleans_up() -> None:
    log: list[str] = []
    feed = Feed(_batches(10**9, log))
    assert feed.take() is not None
    feed.close()
    assert log[-1] == "cleaned up" and len(log) < 10**6  # stopped, on its own thread


def test_a_feed_holds_a_few_batches_at_most_while_no_one_takes() -> None:
    log: list[str] = []
    feed = Feed(_batches(10**9, log), most=3)
    time.sleep(0.3)
    assert len(log) <= 4  # three held and one in hand, waiting for room
    assert [feed.take().column(0)[0].as_py() for _ in range(5)] == list(range(5))  # type: ignore[union-attr]
    feed.close()
    assert log[-1] == "cleaned up"


@pytest.fixture(scope="module")
def stream_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    with served_gateway(tmp_path_factory.mktemp("stream")) as served:
        wait_until_up(served[0])
        yield served


def _seq(op: Engine) -> int:
    with session_scope(op) as s:
        return s.execute(sa.select(sa.func.coalesce(sa.func.max(audit.AuditEntry.seq), 0))).scalar_one()


def _entries(op: Engine, after: int, *, ended: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """The extract entries written after ``after``; waits for the closing one (written once the
    response has gone, so it may follow the client's last byte by a moment)."""
    for _ in range(200):
        with session_scope(op) as s:
            entries = [(e.action, e.after) for e in s.execute(sa.select(audit.AuditEntry).where(
                audit.AuditEntry.seq > after, audit.AuditEntry.action.like("gateway.extract%"))
                .order_by(audit.AuditEntry.seq)).scalars()]
        if not ended or (entries and entries[-1][0] == "gateway.extract.end"):
            return entries
        time.sleep(0.05)
    raise AssertionError(f"no closing entry: {entries}")


def _ended(op: Engine, after: int, n: int) -> list[int]:
    """The numbers of the ``n`` closing entries written after ``after``, waited for (each follows
    its extract's last bytes by a moment)."""
    for _ in range(200):
        with session_scope(op) as s:
            seqs = list(s.execute(sa.select(audit.AuditEntry.seq).where(
                audit.AuditEntry.seq > after, audit.AuditEntry.action == "gateway.extract.end")
                .order_by(audit.AuditEntry.seq)).scalars())
        if len(seqs) >= n:
            return seqs
        time.sleep(0.05)
    raise AssertionError(f"{len(seqs)} closing entries, not {n}")


def _post(url: str, *, version: int = 11) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    if version == 10:
        conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"  # type: ignore[attr-defined]
    conn.request("POST", f"{parts.path}/api/extract", body=json.dumps({"project": "P1", "variables": ["phq-9.*"]}),
                 headers={"Authorization": "token tok-ana", "Content-Type": "application/json"})
    return conn, conn.getresponse()


def test_rows_leave_in_chunks_after_the_audit_entry(stream_gateway: tuple[str, Engine],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url, op = stream_gateway
    monkeypatch.setattr(gateway_rows, "BATCH_ROWS", 100)  # several batches from the small demo study
    seen_before_rows: list[list[str]] = []
    first_next = gateway_app._Stream.next

    def next_after_audit(self: gateway_app._Stream) -> tuple[list[bytes | memoryview], int]:
        if not seen_before_rows:
            seen_before_rows.append([a for a, _ in _entries(op, before, ended=False)])
        return first_next(self)

    monkeypatch.setattr(gateway_app._Stream, "next", next_after_audit)
    before = _seq(op)
    _conn, reply = _post(url)
    assert reply.status == 200 and reply.getheader("Transfer-Encoding") == "chunked"
    table = pa.ipc.open_stream(reply.read()).read_all()
    assert table.num_rows > 300 and len(table.to_batches()) > 3
    assert seen_before_rows == [["gateway.extract"]]  # committed before the first batch was taken
    entries = _entries(op, before)
    assert [a for a, _ in entries] == ["gateway.extract", "gateway.extract.end"]
    people = len(set(table["participant"].to_pylist()))
    assert entries[1][1] == {"rows": table.num_rows, "people": people, "complete": True}
    assert entries[0][1]["studies"] == ["DEMO-QOL"] and entries[0][1]["withheld"] == 0
    frame = Warehouse("P1", url=url, token="tok-ana").extract(["phq-9.*"])  # the client reads the same
    assert sorted(map(str, frame.itertuples(index=False))) == sorted(
        map(str, table.to_pandas().astype({"participant": "str", "study": "str"}).itertuples(index=False)))


def test_an_http_10_client_gets_the_stream_with_its_length(stream_gateway: tuple[str, Engine]) -> None:
    url, op = stream_gateway
    before = _seq(op)
    _conn, reply = _post(url, version=10)
    assert reply.status == 200 and reply.getheader("Transfer-Encoding") is None
    body = reply.read()
    assert int(reply.getheader("Content-Length") or -1) == len(body)
    table = pa.ipc.open_stream(body).read_all()
    assert _entries(op, before)[-1][1]["rows"] == table.num_rows > 0


def test_a_stream_that_breaks_off_is_an_error_and_audited_incomplete(stream_gateway: tuple[str, Engine],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url, op = stream_gateway
    monkeypatch.setattr(gateway_rows, "BATCH_ROWS", 100)
    batches = Extract.batches

    def breaking(self: Extract) -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(batches(self)):
            if i == 2:
                raise RuntimeError("the warehouse went away")
            yield batch

    monkeypatch.setattr(Extract, "batches", breaking)
    before = _seq(op)
    with pytest.raises(WorkbenchError, match="could not be read"):
        Warehouse("P1", url=url, token="tok-ana").extract(["phq-9.*"])
    entries = _entries(op, before)
    assert [a for a, _ in entries] == ["gateway.extract", "gateway.extract.end"]
    assert entries[1][1]["complete"] is False and entries[1][1]["rows"] == 200  # the two batches sent


def test_a_client_that_leaves_mid_stream_is_audited_incomplete(stream_gateway: tuple[str, Engine],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url, op = stream_gateway
    monkeypatch.setattr(gateway_rows, "BATCH_ROWS", 100)
    left = threading.Event()
    first_next = gateway_app._Stream.next

    def held(self: gateway_app._Stream) -> tuple[list[bytes | memoryview], int]:
        left.wait(10)  # every batch waits until the client has gone
        return first_next(self)

    monkeypatch.setattr(gateway_app._Stream, "next", held)
    before = _seq(op)
    conn, reply = _post(url)
    assert reply.status == 200
    conn.close()  # after the headers, before any row
    left.set()
    entries = _entries(op, before)
    assert entries[-1][0] == "gateway.extract.end" and entries[-1][1]["complete"] is False



def test_extracts_at_the_same_time_each_get_their_own_rows_and_entries(stream_gateway: tuple[str, Engine],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Researchers of two projects extracting at once, more extracts than the gateway serves at a
    time and than the warehouse pool has connections: every client gets what it gets alone, each
    extract has its two entries, and the audit chain stays whole (24 at once used to hit SQLite's
    lock timeout: each opening held the operational store's write lock while it waited on the
    warehouse pool, which streams needing that lock to end held)."""
    url, op = stream_gateway
    many = 24
    monkeypatch.setattr(gateway_rows, "BATCH_ROWS", 50)  # many batches, so the streams interleave
    asks = {"tok-ana": ("P1", ["phq-9.*", "condition"]), "tok-bob": ("P2", ["gad-7.*"])}
    before = _seq(op)
    alone = {token: Warehouse(project, url=url, token=token).extract(variables)
             for token, (project, variables) in asks.items()}
    before = _ended(op, before, 2)[-1]  # their closing entries written too
    got: dict[int, Any] = {}

    def run(i: int, token: str) -> None:
        project, variables = asks[token]
        got[i] = Warehouse(project, url=url, token=token).extract(variables)

    threads = [threading.Thread(target=run, args=(i, token)) for i, token in enumerate(["tok-ana", "tok-bob"] * (many // 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(got) == list(range(many))
    for i, frame in got.items():
        expected = alone[["tok-ana", "tok-bob"][i % 2]]
        assert sorted(map(str, frame.itertuples(index=False))) == sorted(map(str, expected.itertuples(index=False)))
    _ended(op, before, many)
    entries = _entries(op, before, ended=False)
    opened = [after for action, after in entries if action == "gateway.extract"]
    ended = [after for action, after in entries if action == "gateway.extract.end"]
    assert len(opened) == many and len(ended) == many and all(e["complete"] for e in ended)
    assert sorted(e["rows"] for e in ended) == sorted(len(f) for f in got.values())
    with session_scope(op) as s:
        assert audit.verify_chain(s).ok


def test_a_client_that_stops_reading_holds_a_few_batches_then_is_dropped(stream_gateway: tuple[str, Engine],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Backpressure: the gateway queues a few batches for a client that reads nothing, not the
    whole extract, and drops the stream once the oldest has waited its time (recorded incomplete)."""
    url, op = stream_gateway
    monkeypatch.setattr(gateway_app, "WRITE_TIMEOUT", 1.0)
    taken: list[int] = []

    def big(self: gateway_app._Stream) -> tuple[list[bytes | memoryview], int]:
        taken.append(1)  # a batch larger than the sockets' buffers, and no end to them
        return [bytes(16 << 20)], 16 << 20

    monkeypatch.setattr(gateway_app._Stream, "next", big)
    before = _seq(op)
    conn, reply = _post(url)  # headers read, then nothing
    assert reply.status == 200
    entries = _entries(op, before)
    assert entries[-1][0] == "gateway.extract.end" and entries[-1][1]["complete"] is False
    assert len(taken) <= gateway_app.QUEUED_BATCHES + 2
    with pytest.raises(http.client.HTTPException):
        while reply.read(1 << 20):
            pass
    conn.close()


def test_a_stream_still_going_after_its_time_is_dropped(stream_gateway: tuple[str, Engine],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A client that keeps reading, but too slowly to ever finish, loses its place once the
    stream's time is up (it never goes silent long enough for the write timeout)."""
    url, op = stream_gateway
    opened = gateway_app.ExtractHandler.initialize

    def brief(self: gateway_app.ExtractHandler, context: gateway_app.GatewayContext) -> None:
        opened(self, copy.copy(context))  # the same threads and places, a shorter time per stream
        self.context.stream_seconds = 1.0

    def endless(self: gateway_app._Stream) -> tuple[list[bytes | memoryview], int]:
        return [bytes(1 << 20)], 1 << 20  # batch after batch, no end

    monkeypatch.setattr(gateway_app.ExtractHandler, "initialize", brief)
    monkeypatch.setattr(gateway_app._Stream, "next", endless)
    before = _seq(op)
    conn, reply = _post(url)
    assert reply.status == 200
    started, read = time.monotonic(), 0
    with caplog.at_level("WARNING", logger=gateway_app.__name__), pytest.raises(http.client.HTTPException):
        while piece := reply.read(256 << 10):  # a trickle: never silent for long
            read += len(piece)
            time.sleep(0.02)
            assert time.monotonic() - started < 20, "the stream was never dropped"
    conn.close()
    assert read > 1 << 20  # the client did get rows before the end
    entries = _entries(op, before)
    assert entries[-1][0] == "gateway.extract.end" and entries[-1][1]["complete"] is False
    assert any("still going after 1 s" in r.getMessage() for r in caplog.records)
