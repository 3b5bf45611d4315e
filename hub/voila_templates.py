"""Compile Voila's page templates once per server, not once per kernel.

Voila builds a new nbconvert exporter, hence a new Jinja environment, for every kernel it
preheats and every page it serves; each then parses and compiles the same ``index.html.j2`` and
its includes again. Under a burst of participants that was about 40 % of the forms server's only
thread (py-spy, 40 arrivals in 30 s). A shared in-memory bytecode cache lets every later
environment load the compiled code instead. Jinja checks each entry against the template's
source checksum, so an edited template is compiled afresh; the key also carries the
environment's settings (async rendering, extensions), since compiled code depends on them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket

__all__ = ["MemoryBytecodeCache", "share_compiled_templates"]

_PATCHED = "_weshare_shared_bytecode"


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept in this process, keyed by template, source and environment."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def get_bucket(self, environment: Environment, name: str, filename: str | None,
                   source: str) -> Bucket:
        settings = f"{environment.is_async}|{sorted(environment.extensions)}"
        key = hashlib.sha1(f"{name}|{filename}|{settings}".encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()

    def __len__(self) -> int:
        return len(self._store)


def share_compiled_templates(exporter_class: Any = None) -> MemoryBytecodeCache:
    """Give every Jinja environment nbconvert creates from now on one shared bytecode cache.

    Called from a Voila server's config file (the only code of ours that runs in that process
    before it renders). Idempotent: a second call returns the cache already installed.
    """
    if exporter_class is None:
        from nbconvert.exporters.templateexporter import TemplateExporter as exporter_class
    existing = getattr(exporter_class, _PATCHED, None)
    if existing is not None:
        return existing
    cache = MemoryBytecodeCache()
    create = exporter_class._create_environment

    def _create_environment(self: Any) -> Environment:
        environment = create(self)
        environment.bytecode_cache = cache
        return environment

    exporter_class._create_environment = _create_environment
    setattr(exporter_class, _PATCHED, cache)
    return cache
