"""The master key file and the keys wrapped under it.

The master key lives in a file outside the database (default ``var/ttp-master.key``, mode 0600),
so a stolen database dump or backup is useless without it. Every other key (one per pseudonym
domain, one sealing identities, one keying the linkage hashes) is random, stored in the database
wrapped with AES-256-GCM under the master key, with the key's name as associated data so a
wrapped key cannot be moved to another domain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from workbench.errors import ConfigError, ConflictError

__all__ = [
    "KEY_BYTES",
    "MasterKey",
    "create_master_key",
    "load_master_key",
    "new_key",
    "open_sealed",
    "seal",
]

KEY_BYTES = 32
_NONCE = 12
_HEADER = "weshare-ttp-master-v1:"


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    """AES-256-GCM with a fresh nonce; ``context`` is bound as associated data."""
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def open_sealed(key: bytes, blob: bytes, context: bytes) -> bytes:
    """Decrypt; raises ``InvalidTag`` if the key, the context or the blob is wrong."""
    return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], context)


class MasterKey:
    """The key-encrypting key, read from its file; never written to the database."""

    def __init__(self, secret: bytes, path: Path) -> None:
        if len(secret) != KEY_BYTES:
            raise ConfigError(f"{path}: the master key must be {KEY_BYTES} bytes")
        self._secret = secret
        self.path = path

    @property
    def fingerprint(self) -> str:
        """A public, non-reversible name for the key, to tell which key a store expects."""
        return hmac.new(self._secret, b"weshare-ttp fingerprint", hashlib.sha256).hexdigest()[:32]

    def wrap(self, name: str, key: bytes) -> bytes:
        return seal(self._secret, key, b"weshare-ttp key:" + name.encode())

    def unwrap(self, name: str, blob: bytes) -> bytes:
        try:
            return open_sealed(self._secret, blob, b"weshare-ttp key:" + name.encode())
        except InvalidTag:
            raise ConfigError(
                f"the master key in {self.path} cannot open the key {name!r} of this "
                "trusted-party store (wrong key file, or the stored key was altered)"
            ) from None

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"MasterKey(path={str(self.path)!r}, fingerprint={self.fingerprint!r})"


def create_master_key(path: Path) -> MasterKey:
    """Write a fresh master key to ``path`` (mode 0600); never overwrite an existing file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConflictError(f"{path} already exists: a master key is never overwritten") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(_HEADER + base64.b64encode(secret).decode("ascii") + "\n")
    return MasterKey(secret, path)


def load_master_key(path: Path) -> MasterKey:
    """Read the master key, refusing a missing, malformed or group/world-readable file."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigError(
            f"no trusted-party master key at {path}: run `weshare ttp init` for a new store, "
            "or restore the key file from its offline backup"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the master key ({exc})") from None
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):04o}): run `chmod 600 {path}`"
        )
    if not text.startswith(_HEADER):
        raise ConfigError(f"{path} is not a WeShare trusted-party master key file")
    try:
        secret = base64.b64decode(text[len(_HEADER):], validate=True)
    except ValueError:
        raise ConfigError(f"{path}: the master key is not valid base64") from None
    return MasterKey(secret, path)
