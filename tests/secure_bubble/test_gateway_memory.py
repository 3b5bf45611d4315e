"""The gateway's own settings: its memory kept between extracts, how many extracts it serves at
once and how long one may stream."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from secure_bubble.gateway.__main__ import build_context
from secure_bubble.gateway.memory import keep_freed_memory
from tests.demo_study import empty_warehouse, open_stores
from workbench.errors import ConfigError
from workbench.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]

# On a thread (as DuckDB builds batches): four buffers grown by doubling to 8 MiB, as columns are
# appended to, then freed; page faults per round once warm.
MEMORY = ROOT / "secure_bubble" / "gateway" / "memory.py"  # loaded alone: the package imports much
ROUNDS = textwrap.dedent("""
    import ctypes, importlib.util, resource, sys, threading
    spec = importlib.util.spec_from_file_location("memory", sys.argv[2])
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    if sys.argv[1] == "keep":
        assert memory.keep_freed_memory()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = libc.realloc.restype = ctypes.c_void_p
    libc.malloc.argtypes, libc.realloc.argtypes = [ctypes.c_size_t], [ctypes.c_void_p, ctypes.c_size_t]
    libc.free.argtypes, libc.memset.argtypes = [ctypes.c_void_p], [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]

    def batch():
        held = []
        for _ in range(4):
            size = 256 << 10
            p = libc.malloc(size)
            libc.memset(p, 1, size)
            while size < 8 << 20:
                size *= 2
                p = libc.realloc(p, size)
                libc.memset(p, 1, size)
            held.append(p)
        for p in held:
            libc.free(p)

    def work():
        batch(); batch()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            batch()
        print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
""")


def _faults_per_round(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode, str(MEMORY)], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_kept_memory_is_reused_without_touching_fresh_pages() -> None:
    default, kept = _faults_per_round("default"), _faults_per_round("keep")
    assert default > 2_000, f"glibc gave the memory back only {default} pages a round: nothing to keep"
    assert kept < default / 10, (kept, default)


def test_another_c_library_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda _name: None)
    assert keep_freed_memory() is False


def test_gateway_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings({"WESHARE_HOME": str(tmp_path), "WESHARE_GATEWAY_MAX_EXTRACTS": "3",
                              "WESHARE_GATEWAY_STREAM_SECONDS": "600", "WESHARE_GATEWAY_KEEP_MEMORY": "false"})
    assert (settings.gateway_max_extracts, settings.gateway_stream_seconds, settings.gateway_keep_memory) == (3, 600, False)
    default = Settings(home=tmp_path)
    assert (default.gateway_max_extracts, default.gateway_stream_seconds, default.gateway_keep_memory) == (6, 3600, True)
    for name in ("WESHARE_GATEWAY_MAX_EXTRACTS", "WESHARE_GATEWAY_STREAM_SECONDS"):
        for bad, says in (("0", "at least 1"), ("-2", "at least 1"), ("six", "whole number")):
            with pytest.raises(ConfigError, match=says) as error:
                load_settings({"WESHARE_HOME": str(tmp_path), name: bad})
            assert name in str(error.value)
    with pytest.raises(ConfigError, match="WESHARE_GATEWAY_KEEP_MEMORY must be true or false"):
        load_settings({"WESHARE_HOME": str(tmp_path), "WESHARE_GATEWAY_KEEP_MEMORY": "maybe"})


def test_the_gateway_is_built_as_set(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, gateway_max_extracts=3, gateway_stream_seconds=90)
    op, tp = open_stores(settings)
    empty_warehouse(settings.warehouse_url).dispose()
    context = build_context(settings)
    try:
        assert context.max_extracts == 3 and context.stream_seconds == 90.0
        assert context.threads._max_workers == 3  # type: ignore[attr-defined]
        assert context.slots._value == 3  # type: ignore[attr-defined]
    finally:
        context.threads.shutdown()
        for engine in (context.operational, context.warehouse, op):
            engine.dispose()
        context.trusted_party.close()
        tp.close()
