"""Who is calling: a JupyterHub API token checked against the hub's REST API, over HTTP.

Asking the hub (``GET /hub/api/user``) keeps this package free of any Jupyter import; results
are cached for a few seconds so a burst of requests costs one round trip.
"""

from __future__ import annotations

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
    def __init__(self, hub_api_url: str, *, service: str, ttl: float = 30.0, timeout: float = 5.0) -> None:
        self.hub_api_url = hub_api_url.rstrip("/")
        self.service, self.ttl, self.timeout = service, ttl, timeout
        self._cache: dict[str, tuple[float, Caller]] = {}

    def caller(self, token: str) -> Caller:
        """The token's user, if the token may use this service; AuthError / PermissionDenied otherwise."""
        if not token:
            raise AuthError("no token")
        hit = self._cache.get(token)
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
        self._cache[token] = (time.monotonic() + self.ttl, caller)
        return caller
