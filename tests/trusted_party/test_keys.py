"""The master key file: created private, never overwritten, refused when exposed or wrong."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workbench.errors import ConfigError, ConflictError
from workbench.trusted_party.keys import create_master_key, load_master_key, new_key


def test_created_mode_0600_and_reloads_to_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ttp-master.key"
    key = create_master_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_master_key(path)
    assert again.fingerprint == key.fingerprint
    secret = path.read_text().split(":")[1].strip()
    assert secret not in repr(key) and key.fingerprint in repr(key)
    with pytest.raises(ConflictError, match="never overwritten"):
        create_master_key(path)


def test_refuses_missing_exposed_and_malformed_files(tmp_path: Path) -> None:
    path = tmp_path / "k"
    with pytest.raises(ConfigError, match="weshare ttp init"):
        load_master_key(path)
    create_master_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_master_key(path)
    os.chmod(path, 0o600)
    path.write_text("not a key\n")
    with pytest.raises(ConfigError, match="not a WeShare"):
        load_master_key(path)


def test_wrapped_keys_are_bound_to_their_name_and_master(tmp_path: Path) -> None:
    a, b = create_master_key(tmp_path / "a"), create_master_key(tmp_path / "b")
    key = new_key()
    blob = a.wrap("domain study:X", key)
    assert a.unwrap("domain study:X", blob) == key
    with pytest.raises(ConfigError, match="cannot open the key 'domain study:Y'"):
        a.unwrap("domain study:Y", blob)
    with pytest.raises(ConfigError, match="cannot open"):
        b.unwrap("domain study:X", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ConfigError):
        a.unwrap("domain study:X", tampered)
