"""The gateway keeps a project's translation only while the trusted party is unchanged.

A kept translation must never outlive an opposition (filed or lifted), a closed project domain,
or a change made while it was being computed; and it answers only for the same people.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from secure_bubble.gateway.pseudonyms import ProjectPseudonyms, Release
from tests.demo_study import deposit_demo, open_stores
from tests.secure_bubble.conftest import approve_projects
from workbench.errors import WorkbenchError
from workbench.settings import Settings
from workbench.trusted_party import (
    Identity,
    Translation,
    TrustedParty,
    init_store,
    open_trusted_party,
)


@pytest.fixture
def tp(tmp_path: Path) -> Iterator[TrustedParty]:
    cfg = Settings(home=tmp_path)
    init_store(cfg, actor="test")
    party = open_trusted_party(cfg)
    yield party
    party.close()


def _people(tp: TrustedParty, n: int) -> list[str]:
    """Warehouse pseudonyms of ``n`` registered people, sorted as the gateway passes them."""
    refs = [tp.register_person(Identity(f"Ann{i}", f"Doe{i}", date(1960, 1, 1 + i)), actor="test").person
            for i in range(n)]
    return sorted(tp.pseudonyms(refs, "warehouse", actor="test"))


def _translations(tp: TrustedParty) -> int:
    """How many times the trusted party itself translated (each is an audited action)."""
    from sqlalchemy import func, select

    from workbench.audit import AuditEntry
    from workbench.storage.engine import session_scope

    with session_scope(tp.engine) as s:
        return int(s.execute(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "ttp.translate")).scalar_one())


def _two_projects(tp: TrustedParty) -> tuple[list[str], ProjectPseudonyms, Translation]:
    """Four people, projects P1 and P2 open, and P1's translation of them kept."""
    codes = _people(tp, 4)
    tp.open_domain("project:P1", actor="committee")
    tp.open_domain("project:P2", actor="committee")
    kept = ProjectPseudonyms()
    return codes, kept, kept.translate(tp, codes, "P1", actor="ana")


def test_kept_while_nothing_changes_and_only_for_the_same_people(tp: TrustedParty) -> None:
    codes, kept, first = _two_projects(tp)
    again = kept.translate(tp, codes, "P1", actor="ana")
    assert again == first and _translations(tp) == 1  # the second answer came from memory
    assert None not in first.pseudonyms and not set(first.pseudonyms) & set(codes)
    fewer = kept.translate(tp, codes[:2], "P1", actor="ana")
    assert fewer.pseudonyms == first.pseudonyms[:2] and _translations(tp) == 2  # other people: asked
    other = kept.translate(tp, codes, "P2", actor="bob")
    assert not set(other.pseudonyms) & set(first.pseudonyms) and _translations(tp) == 3  # own domain


def test_kept_while_other_projects_translate_and_read_oppositions(tp: TrustedParty) -> None:
    """Extracts of several projects at once: one project's translation does not drop another's."""
    codes, kept, first = _two_projects(tp)
    people = kept.release(tp, _warehouse(codes), "P2", actor="bob")
    tp.opposed(codes, "warehouse", actor="dpo")
    asked = _translations(tp)
    assert kept.translate(tp, codes, "P1", actor="ana") == first and _translations(tp) == asked
    assert kept.release(tp, _warehouse(codes), "P2", actor="bob") is people and _translations(tp) == asked
    assert kept.latest(tp, "P2", ()) is people


@pytest.mark.parametrize("change", ["a deposit's pseudonyms", "a project domain opened", "past the look"])
def test_any_other_entry_drops_what_was_kept(change: str, tp: TrustedParty) -> None:
    codes = _people(tp, 3)
    tp.open_domain("project:P1", actor="committee")
    tp.open_domain("project:P2", actor="committee")
    kept = ProjectPseudonyms()
    first = kept.translate(tp, codes, "P1", actor="ana")
    if change == "a deposit's pseudonyms":  # new warehouse pseudonyms: codes unknown before may be known now
        tp.open_domain("study:S1", actor="committee")
        study = tp.pseudonyms([tp.register_person(Identity("Eve", "Roe", date(1970, 2, 2)), actor="t").person],
                              "study:S1", actor="t")
        tp.translate(study, "study:S1", "warehouse", actor="steward")
    elif change == "a project domain opened":
        tp.open_domain("project:P3", actor="committee")
    else:
        for _ in range(201):
            tp.translate(codes[:1], "warehouse", "project:P2", actor="bob")
    asked = _translations(tp)
    assert kept.translate(tp, codes, "P1", actor="ana").pseudonyms == first.pseudonyms
    assert _translations(tp) == asked + 1  # the same pseudonyms, from the trusted party


def test_an_opposition_filed_or_lifted_drops_what_was_kept(tp: TrustedParty) -> None:
    codes = _people(tp, 3)
    tp.open_domain("project:P1", actor="committee")
    kept = ProjectPseudonyms()
    before = kept.translate(tp, codes, "P1", actor="ana")
    tp.set_opposition(codes[1], "warehouse", opposed=True, actor="dpo", reason="request 7")
    during = kept.translate(tp, codes, "P1", actor="ana")
    assert during.pseudonyms == [before.pseudonyms[0], None, before.pseudonyms[2]]
    assert during.withheld_opposed == 1
    assert kept.translate(tp, codes, "P1", actor="ana") == during  # kept again from then on
    tp.set_opposition(codes[1], "warehouse", opposed=False, actor="dpo", reason="request 7 withdrawn")
    assert kept.translate(tp, codes, "P1", actor="ana").pseudonyms == before.pseudonyms


def test_a_change_made_while_translating_is_not_kept(tp: TrustedParty) -> None:
    codes = _people(tp, 2)
    tp.open_domain("project:P1", actor="committee")
    kept = ProjectPseudonyms()
    translate = tp.translate

    def racing(*args: object, **kwargs: object) -> Translation:
        answer = translate(*args, **kwargs)  # type: ignore[arg-type]
        tp.set_opposition(codes[0], "warehouse", opposed=True, actor="dpo", reason="filed meanwhile")
        return answer

    tp.translate = racing  # type: ignore[method-assign]
    stale = kept.translate(tp, codes, "P1", actor="ana")
    tp.translate = translate  # type: ignore[method-assign]
    assert stale.pseudonyms[0] is not None  # answered before the opposition: used once, not kept
    assert kept.translate(tp, codes, "P1", actor="ana").pseudonyms[0] is None


def test_a_closed_project_domain_is_not_served_from_memory(tp: TrustedParty) -> None:
    codes = _people(tp, 2)
    tp.open_domain("project:P1", actor="committee")
    kept = ProjectPseudonyms()
    kept.translate(tp, codes, "P1", actor="ana")
    tp.close_domain("project:P1", actor="committee", reason="project ended")
    with pytest.raises(WorkbenchError):
        kept.translate(tp, codes, "P1", actor="ana")


def _warehouse(codes: list[str], ids: list[int] | None = None) -> pa.Table:
    """The studies' people as the warehouse gives them to the gateway: person_id and code."""
    return pa.table({"person_id": pa.array(ids or list(range(1, len(codes) + 1)), pa.int64()),
                     "code": pa.array(codes, pa.string())})


def _released(release: Release) -> dict[int, str]:
    """person_id → the project pseudonym it is released as."""
    return dict(zip(release.people.column("person_id").to_pylist(),
                    release.pseudonyms.take(release.people.column("slot")).to_pylist(), strict=True))


def test_a_release_is_kept_while_nothing_changes_and_only_for_the_same_people(tp: TrustedParty) -> None:
    codes = _people(tp, 3)
    tp.open_domain("project:P1", actor="committee")
    truth = tp.translate(codes, "warehouse", "project:P1", actor="test", reason="truth").pseudonyms
    kept = ProjectPseudonyms()
    first = kept.release(tp, _warehouse(codes), "P1", actor="ana")
    assert _released(first) == {1: truth[0], 2: truth[1], 3: truth[2]} and first.withheld_opposed == 0
    assert kept.release(tp, _warehouse(codes), "P1", actor="ana") is first and _translations(tp) == 2
    moved = kept.release(tp, _warehouse(codes, [7, 8, 9]), "P1", actor="ana")  # other ids: built anew
    assert _released(moved) == {7: truth[0], 8: truth[1], 9: truth[2]} and _translations(tp) == 2
    fewer = kept.release(tp, _warehouse(codes[:2]), "P1", actor="ana")  # other people: asked again
    assert _released(fewer) == {1: truth[0], 2: truth[1]} and _translations(tp) == 3


def test_an_opposition_or_a_closed_domain_drops_a_kept_release(tp: TrustedParty) -> None:
    codes = _people(tp, 3)
    tp.open_domain("project:P1", actor="committee")
    kept, people = ProjectPseudonyms(), _warehouse(codes)
    before = _released(kept.release(tp, people, "P1", actor="ana"))
    tp.set_opposition(codes[1], "warehouse", opposed=True, actor="dpo", reason="request 8")
    during = kept.release(tp, people, "P1", actor="ana")
    assert _released(during) == {1: before[1], 3: before[3]} and during.withheld_opposed == 1
    tp.set_opposition(codes[1], "warehouse", opposed=False, actor="dpo", reason="request 8 withdrawn")
    assert _released(kept.release(tp, people, "P1", actor="ana")) == before
    tp.close_domain("project:P1", actor="committee", reason="project ended")
    with pytest.raises(WorkbenchError):
        kept.release(tp, people, "P1", actor="ana")


@pytest.mark.parametrize("change", ["erasure", "key rotation"])
def test_an_erasure_or_a_key_rotation_makes_the_trusted_party_asked_again(change: str, tp: TrustedParty,
                                                                           tmp_path: Path) -> None:
    from workbench.trusted_party import rotate_master_key

    codes = _people(tp, 2)
    tp.open_domain("project:P1", actor="committee")
    kept, people = ProjectPseudonyms(), _warehouse(codes)
    before = _released(kept.release(tp, people, "P1", actor="ana"))
    if change == "erasure":
        tp.erase_identity(codes[0], "warehouse", actor="dpo", reason="erasure request 3")
    else:
        rotate_master_key(tp, tmp_path / "new-master.key", actor="admin")
    asked = _translations(tp)
    assert _released(kept.release(tp, people, "P1", actor="ana")) == before  # pseudonyms are kept...
    assert _translations(tp) == asked + 1  # ...but the answer came from the trusted party


@contextlib.contextmanager
def approved_world(kind: str, tmp_path: Path, new_warehouse) -> Iterator[tuple[sa.Engine, TrustedParty, sa.Engine]]:  # type: ignore[no-untyped-def]
    """A deposited demo study and project P1 (ana) approved for its PHQ-9 and demographics:
    the operational store, the trusted party and the warehouse."""
    from workbench.storage.engine import session_scope

    op, tp = open_stores(Settings(home=tmp_path))
    wh = new_warehouse(kind, tmp_path)
    try:
        deposit_demo(op, tp, wh, participants=12, seed=3)
        with session_scope(op) as s:
            approve_projects(s, tp, "ana", {"P1": {"DEMO-QOL": ["phq-9.*", "demographics"]}})
        yield op, tp, wh
    finally:
        tp.close()
        wh.dispose()
        op.dispose()


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_an_extract_after_an_opposition_leaves_the_person_out(kind: str, tmp_path: Path, new_warehouse) -> None:  # type: ignore[no-untyped-def]
    from secure_bubble.gateway.extract import extract
    from workbench import audit
    from workbench.storage.engine import session_scope

    with approved_world(kind, tmp_path, new_warehouse) as (op, tp, wh):
        kept = ProjectPseudonyms()

        def people() -> set[str]:
            with session_scope(op) as s:
                table = extract(s, tp, wh, "P1", "ana", ["phq-9.*", "demographics"], pseudonyms=kept)
            return set(table.column("participant").to_pylist())

        before, again = people(), people()
        with wh.connect() as conn:
            code = conn.execute(sa.text("SELECT person_source_value FROM person ORDER BY person_id")).scalars().first()
        tp.set_opposition(code, "warehouse", opposed=True, actor="dpo", reason="opposition filed")
        after = people()
        assert again == before and len(after) == len(before) - 1 and after < before
        with session_scope(op) as s:
            entries = s.execute(sa.select(audit.AuditEntry).where(audit.AuditEntry.action.like("gateway.extract%"))
                                .order_by(audit.AuditEntry.seq)).scalars().all()
        # Before the rows: people released and withheld; once they have gone: distinct people taken.
        assert [e.action for e in entries] == ["gateway.extract", "gateway.extract.end"] * 3
        starts, ends = [e.after for e in entries[::2]], [e.after for e in entries[1::2]]
        assert [(a["released"], a["withheld"]) for a in starts] == [(len(before), 0), (len(before), 0), (len(before) - 1, 1)]
        assert [(a["people"], a["complete"]) for a in ends] == [(len(before), True), (len(before), True), (len(before) - 1, True)]


@pytest.mark.parametrize("scope", ["reuse", "data_use", "total"])
def test_a_withdrawal_recorded_in_the_study_after_deposit_leaves_the_person_out(scope: str, tmp_path: Path,
                                                                               new_warehouse) -> None:  # type: ignore[no-untyped-def]
    from secure_bubble.gateway.extract import extract
    from secure_bubble.gateway.withdrawals import WithdrawalSync
    from workbench.consent.withdrawal import withdraw
    from workbench.participants.models import Participant
    from workbench.storage.engine import session_scope

    with approved_world("duckdb", tmp_path, new_warehouse) as (op, tp, wh):
        kept, passed = ProjectPseudonyms(), WithdrawalSync()

        def people() -> set[str]:
            with session_scope(op) as s:
                table = extract(s, tp, wh, "P1", "ana", ["phq-9.*", "demographics"], pseudonyms=kept,
                                withdrawals=passed)
            return set(table.column("participant").to_pylist())

        before = people()
        with session_scope(op) as s:
            deposited = s.execute(sa.select(Participant).where(Participant.reuse_opposed.is_(False),
                                                               Participant.data_use_stopped.is_(False))
                                  .order_by(Participant.id)).scalars().first()
            assert deposited is not None
            withdraw(s, deposited, scope, reason="not given", actor="investigator")
        after = people()
        assert len(after) == len(before) - 1 and after < before
        seq = tp.audit_seq()
        assert people() == after and tp.audit_seq() == seq  # passed on once; the kept translation serves


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_rows_begun_for_the_last_release_are_dropped_when_the_warehouse_people_changed(
        kind: str, tmp_path: Path, new_warehouse, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The gateway starts the rows for the release it last made for these studies while it reads
    the studies' people; rows read for people who are no longer those are never served."""
    import importlib

    from workbench.storage.engine import session_scope

    module = importlib.import_module("secure_bubble.gateway.extract")
    fetched: list[int] = []
    released_batches = module.released_batches

    def counted(*args: object) -> Generator[pa.RecordBatch, None, None]:
        fetched.append(1)
        return released_batches(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "released_batches", counted)
    with approved_world(kind, tmp_path, new_warehouse) as (op, tp, wh):
        kept = ProjectPseudonyms()

        def rows(cache: ProjectPseudonyms) -> list[tuple[str, ...]]:
            fetched.clear()
            with session_scope(op) as s:
                table = module.extract(s, tp, wh, "P1", "ana", ["phq-9.*", "demographics"], pseudonyms=cache)
            columns = ("participant", "event", "date", "variable", "value", "text")
            return sorted(tuple(map(str, row)) for row in zip(*[table.column(c).to_pylist() for c in columns],
                                                               strict=True))

        first = rows(kept)
        assert rows(kept) == first and fetched == [1]  # begun for the last release, which held
        with wh.begin() as conn:  # two people swap warehouse pseudonyms: same ids, other people
            (a, code_a), (b, code_b) = conn.execute(sa.text(
                "SELECT person_id, person_source_value FROM person ORDER BY person_id LIMIT 2")).all()
            for pid, code in ((a, "SWAP"), (b, code_a), (a, code_b)):
                conn.execute(sa.text("UPDATE person SET person_source_value = :c WHERE person_id = :p"),
                             {"c": code, "p": pid})
        swapped = rows(kept)
        assert fetched == [1, 1]  # the guess's rows were dropped and fetched again
        assert swapped != first and swapped == rows(ProjectPseudonyms())  # as a gateway with nothing kept
