"""Settings, built once by an entry point from ``WESHARE_*`` variables and an optional TOML file.

Nothing else reads the environment: a ``Settings`` is passed down to whatever needs it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from workbench.errors import ConfigError

__all__ = ["Settings", "load_settings"]

PREFIX = "WESHARE_"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where the stores live and how the workbench reaches the outside world."""

    home: Path = REPO_ROOT / "var"
    database_url: str = ""
    warehouse_url: str = ""
    trusted_party_url: str = ""
    vault_dir: Path = Path()
    secret_key_file: Path = Path()
    demo: bool = False
    public_url: str = "http://127.0.0.1:8000"
    hub_port: int = 8000
    hub_api_port: int = 8081
    proxy_api_port: int = 8001
    forms_port: int = 8866
    dashboards_port: int = 8867
    gateway_port: int = 8868
    # The warehouse gateway: how many extracts it serves at once (the others wait their turn), how
    # long one stream may last before it is dropped (a client reading very slowly would otherwise
    # keep its place), and whether it keeps the memory it frees (secure_bubble.gateway.memory).
    gateway_max_extracts: int = 6
    gateway_stream_seconds: int = 3600
    gateway_keep_memory: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "WeShare <no-reply@weshare.invalid>"
    lockout_threshold: int = 5
    lockout_base_seconds: int = 60
    lockout_max_seconds: int = 3600
    reset_link_minutes: int = 30
    # Videoconference service for interviews, e.g. a self-hosted Jitsi "https://visio.example.org";
    # each appointment gets an unguessable room under it. Empty: interviews cannot be booked.
    video_base_url: str = ""
    # A local faster-whisper (CTranslate2) model directory; empty: no transcription.
    transcription_model_dir: Path = Path()
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        home = Path(self.home)
        object.__setattr__(self, "home", home)
        if str(self.secret_key_file) in ("", "."):
            object.__setattr__(self, "secret_key_file", home / "secret.key")
        if str(self.vault_dir) in ("", "."):
            # Signed consent PDFs name the participant: they sit with the trusted party's files.
            object.__setattr__(self, "vault_dir", home / "trusted_party" / "consents")
        defaults = {
            "database_url": f"sqlite:///{home / 'weshare.sqlite'}",
            "warehouse_url": f"duckdb:///{home / 'warehouse.duckdb'}",
            "trusted_party_url": f"sqlite:///{home / 'trusted_party.sqlite'}",
        }
        for name, default in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, default)
        for name in defaults:
            _check_url(name, getattr(self, name))
        for name in ("gateway_max_extracts", "gateway_stream_seconds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{PREFIX}{name.upper()} must be at least 1, not {getattr(self, name)}")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _check_url(name: str, value: str) -> None:
    setting = PREFIX + name.upper()
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(f"{setting} is not a valid database URL: {value!r}") from None
    if not url.drivername:
        raise ConfigError(f"{setting} has no database driver: {value!r}")


def _coerce(name: str, raw: object, kind: type) -> object:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{PREFIX}{name.upper()} must be true or false, not {raw!r}")
    if kind is int:
        try:
            return int(raw)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise ConfigError(f"{PREFIX}{name.upper()} must be a whole number, not {raw!r}") from None
    if kind is Path:
        return Path(str(raw)).expanduser()
    return str(raw)


_KINDS = {"bool": bool, "int": int, "Path": Path, "str": str}


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Merge defaults, the TOML file (``WESHARE_CONFIG``) and ``WESHARE_*`` variables, in that order."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    path = config_file or (Path(env[PREFIX + "CONFIG"]) if env.get(PREFIX + "CONFIG") else None)
    if path is None:
        # An embedded instance keeps its own settings (e.g. ``demo = true``) next to its data.
        local = Path(env.get(PREFIX + "HOME") or Settings.home) / "weshare.toml"
        path = local if local.is_file() else None
    known = {f.name: _KINDS.get(str(f.type), str) for f in fields(Settings) if f.name != "extra"}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{PREFIX}CONFIG points at a missing file: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, known[key])
    for key, kind in known.items():
        raw = env.get(PREFIX + key.upper())
        if raw is not None and raw != "":
            values[key] = _coerce(key, raw, kind)
    return Settings(**values)  # type: ignore[arg-type]
