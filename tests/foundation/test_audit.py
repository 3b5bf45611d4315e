"""The audit chain: intact after normal use; edits, deletions and truncation are all detected."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from workbench import audit
from workbench.storage.engine import session_scope


def _write(engine: Engine, n: int) -> None:
    with session_scope(engine) as s:
        for i in range(n):
            audit.record(s, actor="alice", action="thing.update", object_type="thing", object_id=i,
                         reason="test", before={"v": i}, after={"v": i + 1, "é": "ü"})


def _bypass_triggers(conn) -> None:  # type: ignore[no-untyped-def]
    """What a DBA with raw access could do: switch the append-only triggers off."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
    else:
        conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")


def _verify(engine: Engine) -> audit.ChainReport:
    with session_scope(engine) as s:
        return audit.verify_chain(s)


def test_chain_intact_after_writes(engine: Engine) -> None:
    _write(engine, 12)
    report = _verify(engine)
    assert report.ok and report.entries == 12, report


def test_entry_rolls_back_with_the_change(engine: Engine) -> None:
    _write(engine, 2)
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        audit.record(s, actor="bob", action="x", object_type="t", object_id=1)
        raise RuntimeError("the change failed")
    assert _verify(engine).entries == 2


def test_triggers_refuse_update_and_delete(engine: Engine) -> None:
    _write(engine, 3)
    for statement in ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
                      "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert _verify(engine).ok


def test_edit_is_detected_at_the_edited_entry(engine: Engine) -> None:
    _write(engine, 6)
    with engine.begin() as conn:
        _bypass_triggers(conn)
        conn.execute(text("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 4"))
    report = _verify(engine)
    assert not report.ok and report.first_break == 4
    assert "changed" in str(report)


def test_rehashed_edit_breaks_the_next_link(engine: Engine) -> None:
    _write(engine, 6)
    with engine.begin() as conn:
        _bypass_triggers(conn)
        conn.execute(text("UPDATE audit_log SET hash = :h WHERE seq = 3"), {"h": "f" * 64})
    report = _verify(engine)
    assert report.first_break == 3  # own hash no longer matches its content


def test_deletion_in_the_middle_is_detected(engine: Engine) -> None:
    _write(engine, 6)
    with engine.begin() as conn:
        _bypass_triggers(conn)
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    report = _verify(engine)
    assert report.first_break == 3 and "missing" in str(report)


def test_deleting_the_newest_entries_is_detected(engine: Engine) -> None:
    _write(engine, 6)
    with engine.begin() as conn:
        _bypass_triggers(conn)
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 5"))
    report = _verify(engine)
    assert not report.ok and report.first_break == 5
