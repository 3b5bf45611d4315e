"""The gateway end to end: a real Tornado service, a stand-in hub API, a deposited warehouse.

Attacks from the issue: another project's data, an expired project, a forged or unscoped token,
a variable not approved, SQL in a variable name — each refused, audited, nothing leaked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select

from secure_bubble.client import Warehouse
from tests.secure_bubble.served import served_gateway, wait_until_up
from workbench import audit
from workbench.errors import PermissionDenied, ValidationError
from workbench.storage.engine import session_scope


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with served_gateway(tmp_path) as served:
        yield served


@pytest.fixture(scope="module")
def refusing_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """One world for every refused request (building it costs ~10 s here): each test looks only at
    the audit entries its own request added."""
    with served_gateway(tmp_path_factory.mktemp("refusals")) as served:
        yield served


def test_approved_data_in_project_pseudonyms(gateway: tuple[str, Engine]) -> None:
    url, op = gateway
    wait_until_up(url)
    frame = Warehouse("P1", url=url, token="tok-ana").extract(["phq-9.*", "condition"])
    assert len(frame) > 0 and set(frame["variable"]) - {"condition"} <= {f"phq-9.q{i}" for i in range(1, 10)}
    narrow = Warehouse("P1", url=url, token="tok-ana").extract(["phq-9.q9"])
    assert set(narrow["variable"]) == {"phq-9.q9"}
    with session_scope(op) as s:
        study_codes = set(s.execute(sa.text("SELECT pseudonym FROM participants")).scalars())
        entries = s.execute(select(audit.AuditEntry).where(audit.AuditEntry.action == "gateway.extract")).scalars().all()
    assert not (set(frame["participant"]) & study_codes)  # project pseudonyms, not study ones
    assert [e.actor for e in entries] == ["ana", "ana"] and entries[0].object_id == "P1"


@pytest.mark.parametrize(("project", "token", "variables", "error", "message"), [
    ("P2", "tok-ana", ["gad-7.*"], PermissionDenied, "not a researcher of this project"),
    ("P3", "tok-bob", ["gad-7.*"], PermissionDenied, "expired"),
    ("P1", "forged", ["phq-9.*"], PermissionDenied, "invalid or missing token"),
    ("P1", "tok-ana-unscoped", ["phq-9.*"], PermissionDenied, "not scoped"),
    ("P1", "tok-ana", ["qlq-c30.*"], PermissionDenied, "not approved"),
    ("P1", "tok-ana", ["phq-9.*' OR 1=1 --"], ValidationError, "not a variable name"),
    ("P1", "tok-ana", ["*"], ValidationError, "not a variable name"),
])
def test_attacks_are_refused_and_audited(refusing_gateway: tuple[str, Engine], project: str, token: str,
                                         variables: list[str], error: type[Exception], message: str) -> None:
    url, op = refusing_gateway
    wait_until_up(url)
    with session_scope(op) as s:
        before = s.execute(select(sa.func.coalesce(sa.func.max(audit.AuditEntry.seq), 0))).scalar_one()
    with pytest.raises(error, match=message):
        Warehouse(project, url=url, token=token).extract(variables)
    with session_scope(op) as s:
        refusals = s.execute(select(audit.AuditEntry).where(
            audit.AuditEntry.seq > before,
            audit.AuditEntry.action.in_(["gateway.refused", "gateway.extract"]))).scalars().all()
    assert refusals and refusals[-1].action == "gateway.refused"  # every refusal, with its reason
    assert all(r.action != "gateway.extract" for r in refusals)
