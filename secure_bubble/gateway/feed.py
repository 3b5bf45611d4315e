"""Record batches pulled on a thread of their own as the warehouse makes them, held until taken.

The warehouse goes on producing while the gateway checks the release, commits the audit entry
and sends the batches already made: a million-row extract is on the wire before its last rows
exist. At most ``most`` batches are held (the warehouse then waits for the taker), so a client
that reads slowly never makes the gateway hold a whole large extract in memory. Nothing is taken
from a feed before the extract's audit entry is committed (the caller's rule); a feed that is
closed early stops its query and drops what it held.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Generator

import pyarrow as pa

__all__ = ["Feed"]


class Feed:
    def __init__(self, batches: Generator[pa.RecordBatch, None, None], *, most: int = 8) -> None:
        self._batches = batches
        self._most = most
        self._held: deque[pa.RecordBatch] = deque()
        self._ready = threading.Condition()
        self._done = False
        self._stop = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._pull, name="gateway-rows", daemon=True)
        self._thread.start()

    def _pull(self) -> None:
        try:
            for batch in self._batches:
                with self._ready:
                    while len(self._held) >= self._most and not self._stop:
                        self._ready.wait()
                    if self._stop:
                        break
                    self._held.append(batch)
                    self._ready.notify_all()
        except BaseException as exc:  # handed to the taker, raised there
            self._error = exc
        finally:
            self._batches.close()  # on this thread: the query's own clean-up (reader, registration)
            with self._ready:
                self._done = True
                self._ready.notify_all()

    def take(self) -> pa.RecordBatch | None:
        """The next batch, waiting for it; ``None`` once the rows are all taken."""
        with self._ready:
            while not self._held and not self._done:
                self._ready.wait()
            if self._held:
                self._ready.notify_all()  # room for the next one
                return self._held.popleft()
            if self._error is not None:
                raise self._error
            return None

    def close(self) -> None:
        """Stop the query (after the batch in the making) and drop what is held."""
        with self._ready:
            self._stop = True
            self._held.clear()
            self._ready.notify_all()
        self._thread.join()
