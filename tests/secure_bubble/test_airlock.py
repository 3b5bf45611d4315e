"""Airlock workflow: two blind reviews, no self-review, changed files void votes, audited downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from secure_bubble import airlock
from workbench import accounts, audit
from workbench.errors import ConflictError, PermissionDenied, ValidationError
from workbench.governance.models import ReleaseRequest
from workbench.storage.engine import session_scope

SAFE = b"arm,n\ncontrol,120\nintervention,118\n"


@pytest.fixture
def people(engine: Engine) -> None:
    with session_scope(engine) as s:
        accounts.add_user(s, "ana", actor="admin", roles=["researcher:project:P1"])
        accounts.add_user(s, "chk1", actor="admin", roles=["output_checker:project:P1"])
        accounts.add_user(s, "chk2", actor="admin", roles=["output_checker"])
        accounts.add_user(s, "chk3", actor="admin", roles=["output_checker:project:P2"])
        accounts.add_user(s, "both", actor="admin", roles=["researcher:project:P1", "output_checker"])


def _u(s, name: str) -> accounts.User:  # type: ignore[no-untyped-def]
    return accounts.get_user(s, name)


def _submitted(engine: Engine, store: Path, author: str = "ana") -> int:
    with session_scope(engine) as s:
        req = airlock.create_request(s, _u(s, author), "P1", "Table 1", "Counts by arm, all cells ≥ 11")
        airlock.add_file(s, store, req.id, _u(s, author), "table1.csv", SAFE)
        airlock.submit(s, req.id, _u(s, author))
        return req.id


def test_two_approvals_release_and_download(engine: Engine, people: None, tmp_path: Path) -> None:
    rid = _submitted(engine, tmp_path)
    with session_scope(engine) as s:
        airlock.review(s, rid, _u(s, "chk1"), "approve")
        # Blind: the second checker sees nothing of the first vote, the author sees nothing.
        assert airlock.visible_reviews(s, rid, _u(s, "chk2")) == []
        assert airlock.visible_reviews(s, rid, _u(s, "ana")) == []
        with pytest.raises(PermissionDenied, match="only released"):
            airlock.download(s, tmp_path, rid, "table1.csv", _u(s, "ana"))
        assert airlock.review(s, rid, _u(s, "chk2"), "approve").status == "approved"
        assert len(airlock.visible_reviews(s, rid, _u(s, "ana"))) == 2
        manifest = airlock.release(s, rid, _u(s, "ana"))
        assert airlock.download(s, tmp_path, rid, "table1.csv", _u(s, "ana")) == SAFE
        assert set(manifest) == {"table1.csv"}
        actions = [e.action for e in s.execute(select(audit.AuditEntry)).scalars()]
    for action in ("airlock.submit", "airlock.review", "airlock.view", "airlock.release", "airlock.download"):
        assert action in actions


def test_authors_and_outsiders_cannot_review(engine: Engine, people: None, tmp_path: Path) -> None:
    rid = _submitted(engine, tmp_path, author="both")
    with session_scope(engine) as s:
        with pytest.raises(PermissionDenied, match="own"):
            airlock.review(s, rid, _u(s, "both"), "approve")
        with pytest.raises(PermissionDenied, match="not an output checker"):
            airlock.review(s, rid, _u(s, "chk3"), "approve")
        airlock.review(s, rid, _u(s, "chk1"), "approve")
        with pytest.raises(ConflictError, match="already reviewed"):
            airlock.review(s, rid, _u(s, "chk1"), "approve")
        with pytest.raises(ValidationError, match="say why"):
            airlock.review(s, rid, _u(s, "chk2"), "reject")


def test_changed_file_voids_earlier_votes(engine: Engine, people: None, tmp_path: Path) -> None:
    rid = _submitted(engine, tmp_path)
    with session_scope(engine) as s:
        airlock.review(s, rid, _u(s, "chk1"), "approve")
        airlock.add_file(s, tmp_path, rid, _u(s, "ana"), "table1.csv", SAFE + b"other,200\n")
        assert airlock.review(s, rid, _u(s, "chk2"), "approve").status == "submitted"
        assert [r.id for r in airlock.pending_for(s, _u(s, "chk1"))] == [rid]
        assert airlock.review(s, rid, _u(s, "chk1"), "approve").status == "approved"


def test_disclosive_file_cannot_be_submitted(engine: Engine, people: None, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        req = airlock.create_request(s, _u(s, "ana"), "P1", "Rows", "oops")
        entry = airlock.add_file(s, tmp_path, req.id, _u(s, "ana"), "rows.csv", b"pseudonym,x\nP-1,3\n")
        assert entry.check_status == "fail"
        with pytest.raises(ValidationError, match=r"automatic checks failed for rows\.csv"):
            airlock.submit(s, req.id, _u(s, "ana"))
        with pytest.raises(PermissionDenied, match="not a researcher"):
            airlock.create_request(s, _u(s, "chk3"), "P1", "x", "y")


def test_rejection_goes_back_to_the_author(engine: Engine, people: None, tmp_path: Path) -> None:
    rid = _submitted(engine, tmp_path)
    with session_scope(engine) as s:
        airlock.review(s, rid, _u(s, "chk1"), "reject", "cell 'other' is 3")
        assert airlock.review(s, rid, _u(s, "chk2"), "approve").status == "rejected"
        with pytest.raises(ConflictError):
            airlock.release(s, rid, _u(s, "ana"))
        airlock.add_file(s, tmp_path, rid, _u(s, "ana"), "table1.csv", SAFE + b"# fixed\n")
        assert s.get(ReleaseRequest, rid).status == "submitted"


def test_tampered_store_file_is_not_released(engine: Engine, people: None, tmp_path: Path) -> None:
    rid = _submitted(engine, tmp_path)
    with session_scope(engine) as s:
        airlock.review(s, rid, _u(s, "chk1"), "approve")
        airlock.review(s, rid, _u(s, "chk2"), "approve")
        airlock.release(s, rid, _u(s, "chk2"))
        stored = next((tmp_path / str(rid)).iterdir())
        stored.write_bytes(b"arm,n\nrow-level,1\n")
        with pytest.raises(ConflictError, match="no longer matches"):
            airlock.download(s, tmp_path, rid, "table1.csv", _u(s, "ana"))
