"""The gateway keeps the memory it frees, for the next extract (glibc only).

Each extract has DuckDB build tens of megabytes of Arrow batches on its threads, which the gateway
frees once they are sent. By default glibc hands such memory back to the system at once (blocks
over a threshold are mapped and unmapped one by one, a heap's free top is trimmed, and each of up
to 8 heaps per core is trimmed on its own), so the next extract touches fresh pages again: ~9,000
page faults per million-row extract in the gateway process. Keeping it is what a long-running
service wants: blocks up to 32 MiB come from the heaps, which are never trimmed, and there are as
many heaps as cores. Measured: ~3,000 faults left, the gateway's CPU per extract down by
15–30 ms of ~230 (docs/governance.md, "Benchmark"). The price: the gateway keeps its peak heap
after a burst of extracts instead of shrinking back (``WESHARE_GATEWAY_KEEP_MEMORY=false``
turns this off).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["keep_freed_memory"]

log = logging.getLogger(__name__)

# mallopt's parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8
LARGEST_HEAP_BLOCK = 32 * 1024 * 1024  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
KEEP_FREE_TOP = 2**31 - 1  # the largest free top a heap keeps (mallopt takes an int)
TOP_PAD = 64 * 1024 * 1024  # asked of the system at once when a heap grows (reserved, not touched)


def keep_freed_memory(arenas: int | None = None) -> bool:
    """Have glibc keep freed memory for reuse; ``False``, with nothing changed, on another C
    library. Call it before other threads start: heaps are made as threads first allocate."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        libc = None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return False
    settings = ((M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK), (M_TRIM_THRESHOLD, KEEP_FREE_TOP), (M_TOP_PAD, TOP_PAD),
                (M_ARENA_MAX, arenas or os.cpu_count() or 2))
    kept = all([libc.mallopt(param, value) == 1 for param, value in settings])  # every one tried
    if not kept:
        log.warning("glibc refused a memory setting: the gateway may hand freed memory back to the system")
    return kept
