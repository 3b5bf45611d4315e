"""The gateway's token check: answers cached briefly, by digest, in a bounded cache; refusals never cached."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from secure_bubble.gateway import hub_tokens
from secure_bubble.gateway.hub_tokens import HubTokenValidator
from workbench.errors import AuthError, PermissionDenied

SCOPED = {"kind": "user", "name": "ana", "scopes": ["access:services!service=warehouse-gateway"]}


class _Reply:
    def __init__(self, status: int, model: dict[str, Any] | None = None) -> None:
        self.status_code, self._model = status, model or {}

    def json(self) -> dict[str, Any]:
        return self._model


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stand-in for the hub's ``GET /user``: answers per token, and the tokens it was asked about."""
    state: dict[str, Any] = {"answers": {}, "asked": []}

    def get(url: str, *, timeout: float, headers: dict[str, str]) -> _Reply:
        token = headers["Authorization"].removeprefix("token ")
        state["asked"].append(token)
        answer = state["answers"].get(token, _Reply(403))
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(hub_tokens.requests, "get", get)
    return state


def test_an_answer_is_kept_for_its_time_then_asked_again(hub: dict[str, Any]) -> None:
    hub["answers"]["t1"] = _Reply(200, SCOPED)
    check = HubTokenValidator("http://hub/hub/api", service="warehouse-gateway", ttl=0.2)
    assert check.caller("t1").name == "ana" and check.caller("t1").name == "ana"
    assert hub["asked"] == ["t1"]
    time.sleep(0.25)
    check.caller("t1")
    assert hub["asked"] == ["t1", "t1"]


def test_refusals_are_never_kept(hub: dict[str, Any]) -> None:
    hub["answers"]["unscoped"] = _Reply(200, {**SCOPED, "scopes": ["read:users"]})
    hub["answers"]["service"] = _Reply(200, {"kind": "service", "name": "x", "scopes": ["access:services"]})
    hub["answers"]["down"] = requests.ConnectionError("refused")
    hub["answers"]["odd"] = _Reply(500)
    check = HubTokenValidator("http://hub/hub/api", service="warehouse-gateway")

    def refused(token: str) -> str:  # the reason audited (people see a generic message)
        with pytest.raises(AuthError) as caught:
            check.caller(token)
        return caught.value.reason

    for _ in range(2):
        assert refused("forged") == "token refused by the hub"
        with pytest.raises(PermissionDenied, match="not scoped"):
            check.caller("unscoped")
        with pytest.raises(PermissionDenied, match="user's token"):
            check.caller("service")
        assert refused("down").startswith("hub unreachable")
        assert refused("odd") == "hub answered 500"
    assert refused("") == "no token"
    assert hub["asked"] == ["forged", "unscoped", "service", "down", "odd"] * 2


def test_the_cache_is_bounded_and_keeps_no_token(hub: dict[str, Any]) -> None:
    check = HubTokenValidator("http://hub/hub/api", service="warehouse-gateway", most=3)
    for i in range(10):
        hub["answers"][f"secret-{i}"] = _Reply(200, SCOPED)
        check.caller(f"secret-{i}")
    assert len(check._cache) == 3
    assert not any(b"secret" in key for key in check._cache)
    check.caller("secret-9")  # among the newest: still kept
    check.caller("secret-0")  # the oldest went first: asked again
    assert hub["asked"][-1:] == ["secret-0"] and hub["asked"].count("secret-9") == 1
