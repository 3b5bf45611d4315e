"""Who is calling: a JupyterHub API token checked against the hub's REST API, over HTTP.

Asking the hub (``GET /hub/api/user``) keeps this package free of any Jupyter import; answers
are cached for a few seconds so a burst of requests costs one round trip. The cache is keyed by
the token's SHA-256, not the token, and holds ``most`` answers at the most (the expired ones go
first, then the oldest): a gateway that runs for months does not collect every token it saw.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import requests

from workbench.errors import AuthError, PermissionDenied

__all__ = ["Caller", "HubTokenValidator"]


@dataclass(frozen=True)
class Caller:
    name: str
    scopes: frozenset[str]


class HubTokenValidator:
    def __init__(self, hub_api_url: str, *, service: str, ttl: float = 30.0, timeout: float = 5.0,
                 most: int = 4096) -> None:
        self.hub_api_url = hub_api_url.rstrip("/")
        self.service, self.ttl, self.timeout, self.most = service, ttl, timeout, most
        self._cache: dict[bytes, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def caller(self, token: str) -> Caller:
        """The token's user, if the token may use this service; AuthError / PermissionDenied otherwise."""
        if not token:
            raise AuthError("no token")
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            reply = requests.get(f"{self.hub_api_url}/user", timeout=self.timeout,
                                 headers={"Authorization": f"token {token}"})
        except requests.RequestException as exc:
            raise AuthError(f"hub unreachable: {exc}") from None
        if reply.status_code in (401, 403):
            raise AuthError("token refused by the hub")
        if reply.status_code != 200:
            raise AuthError(f"hub answered {reply.status_code}")
        model = reply.json()
        scopes = frozenset(model.get("scopes") or [])
        if model.get("kind", "user") != "user" or not model.get("name"):
            raise PermissionDenied("only a user's token can read data")
        allowed = {"access:services", f"access:services!service={self.service}"}
        if not scopes & allowed:
            raise PermissionDenied(f"this token is not scoped for the {self.service} service")
        caller = Caller(model["name"], scopes)
        self._keep(key, caller)
        return caller

    def _keep(self, key: bytes, caller: Caller) -> None:
        now = time.monotonic()
        with self._lock:
            self._cache.pop(key, None)
            if len(self._cache) >= self.most:
                for stale in [k for k, (until, _c) in self._cache.items() if until <= now]:
                    del self._cache[stale]
                while len(self._cache) >= self.most:
                    del self._cache[next(iter(self._cache))]  # the oldest answer
            self._cache[key] = (now + self.ttl, caller)
