"""The server's own secret key, kept in a file beside the data and never in a database.

It derives values the server must be able to regenerate without storing them (participant link
tokens for reminder emails): a copy of the database alone reveals none of them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from workbench.errors import ConfigError

__all__ = ["load_or_create_key"]


def load_or_create_key(path: Path) -> bytes:
    if path.exists():
        data = path.read_bytes().strip()
        if len(data) < 64:
            raise ConfigError(f"{path} does not hold a valid key (expected 32 random bytes, hex)")
        return bytes.fromhex(data.decode("ascii"))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    return key
