"""Short-lived signed tickets naming a hub-authenticated viewer, for a kernel started before its visit.

A preheated Voila kernel runs its notebook before anyone asks for the page, so the viewer cannot
be written into the notebook (as ``hub.voila_hooks`` does for the dashboards). The coding
service's identity provider (``hub.coding_service``) mints a ticket once the hub's OAuth has
authenticated the request; Voila hands it to the kernel server-side, never through the browser;
the kernel accepts only a ticket signed with a key derived from the instance's secret key, for
this purpose, that has not expired. Nothing the viewer sends can name another viewer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from pathlib import Path

from workbench.errors import PermissionDenied
from workbench.keys import load_or_create_key

__all__ = ["TICKET_SECONDS", "mint_ticket", "ticket_key", "verify_ticket"]

TICKET_SECONDS = 120  # a fresh kernel (empty pool) may take a few seconds to read its ticket
_PURPOSE = b"weshare coding viewer ticket v1"
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")  # as hub.voila_hooks: no ':' inside


def ticket_key(secret_key_file: Path) -> bytes:
    """A key for tickets only, derived from the instance key (both the service and its kernels read it)."""
    return hmac.new(load_or_create_key(secret_key_file), _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, expires: int, viewer: str) -> str:
    return hmac.new(key, f"{expires}:{viewer}".encode(), hashlib.sha256).hexdigest()


def mint_ticket(key: bytes, viewer: str, *, now: float | None = None, lifetime: int = TICKET_SECONDS) -> str:
    """``<expires>:<viewer>:<signature>``; only for a viewer the hub has just authenticated."""
    if not _USERNAME.match(viewer):
        raise ValueError("not a workbench username")
    expires = int(time.time() if now is None else now) + lifetime
    return f"{expires}:{viewer}:{_signature(key, expires, viewer)}"


def verify_ticket(key: bytes, ticket: str, *, now: float | None = None) -> str:
    """The viewer a valid, unexpired ticket names; ``PermissionDenied`` for anything else."""
    parts = ticket.split(":")
    refused = PermissionDenied("connectez-vous au hub / sign in to the hub first")
    if len(parts) != 3 or not parts[0].isdigit() or not _USERNAME.match(parts[1]):
        raise refused
    expires, viewer, signature = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(signature, _signature(key, expires, viewer)):
        raise refused
    if (time.time() if now is None else now) > expires:
        raise refused
    return viewer
