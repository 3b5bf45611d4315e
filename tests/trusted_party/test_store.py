"""The trusted-party store on SQLite and PostgreSQL: registration, domains, translation,
opposition, purpose-bound disclosure, audit, tamper detection and key handling."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from workbench.audit import AuditEntry
from workbench.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    SchemaOutOfDate,
    ValidationError,
)
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.trusted_party import (
    ContactPreferences,
    TrustedParty,
    create_master_key,
    format_pseudonym,
    init_store,
    open_trusted_party,
    rotate_master_key,
    verify_store,
)
from workbench.trusted_party import domains as domains_module
from workbench.trusted_party.codes import compute_pseudonyms
from workbench.trusted_party.linkage import jaro_winkler, normalise_name
from workbench.trusted_party.schema import identities, pseudonyms, store_info


def audit_rows(tp: TrustedParty) -> list[AuditEntry]:
    with session_scope(tp.engine) as s:
        return list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def test_registration_links_exact_matches_and_queues_near_ones(tp: TrustedParty, make_person) -> None:
    first = tp.register_person(make_person("Jean-Pierre", "Lefèvre", sex="M"), actor="clerk")
    same = tp.register_person(make_person("JEAN PIERRE", "LEFEVRE", sex="M"), actor="clerk")
    near = tp.register_person(make_person("Jean-Pierre", "Lefebvre", sex="M"), actor="clerk")
    other = tp.register_person(make_person("Claire", "Moreau", date(1980, 5, 1)), actor="clerk")
    assert first.created and not same.created and same.person == first.person
    assert near.created and near.person != first.person and near.possible_duplicates == 1
    assert other.possible_duplicates == 0
    [review] = tp.duplicate_reviews()
    assert review.score >= 0.85 and "last name" in review.reasons
    a, b = tp.review_pair(review.id, actor="reviewer")
    assert {a.last_name, b.last_name} == {"Lefebvre", "Lefèvre"}
    tp.resolve_review(review.id, same_person=False, actor="reviewer")
    assert tp.duplicate_reviews() == [] and len(tp.duplicate_reviews(status="different")) == 1


def test_batch_registration_links_within_the_batch(tp: TrustedParty, make_person) -> None:
    batch = [make_person("Anne", "Roux"), make_person("ANNE", "ROUX"),
             make_person("Anne", "Rous"), make_person("Paul", "Simon", sex="M")]
    out = tp.register_people(batch, actor="import")
    assert out[0].person == out[1].person and not out[1].created
    assert out[2].possible_duplicates == 1
    assert len({r.person for r in out}) == 3
    assert normalise_name.cache_info().currsize == jaro_winkler.cache_info().currsize == 0
    with pytest.raises(ValidationError, match=r"person 2 identity\.email"):
        tp.register_people([make_person("A", "B"), make_person(email="bad")], actor="import")


def test_pseudonyms_stable_within_and_unlinkable_across_domains(
        tp: TrustedParty, ttp_settings: Settings, key_path: Path, make_person) -> None:
    people = [r.person for r in tp.register_people(
        [make_person(f"Prénom{i}", f"Nom{i}", date(1950 + i % 40, 1 + i % 12, 1 + i % 28))
         for i in range(60)], actor="import")]
    study = tp.pseudonyms(people, "study:QOL1", actor="dm")
    other = tp.pseudonyms(people, "study:QOL2", actor="dm")
    tp.open_domain("project:7", actor="committee")
    proj = tp.pseudonyms(people, "project:7", actor="ops")
    assert len(set(study)) == len(set(other)) == len(set(proj)) == 60
    assert not set(study) & set(other) and not set(study) & set(proj)
    tp.close()
    with open_trusted_party(ttp_settings, key_path) as again:
        assert again.pseudonyms(people, "study:QOL1", actor="dm") == study
        assert again.pseudonym(people[3], "study:QOL2", actor="dm") == other[3]


def test_translation_round_trips_one_way_only(tp: TrustedParty, make_person) -> None:
    people = [r.person for r in tp.register_people(
        [make_person(f"P{i}", f"N{i}", date(1960, 1, 1 + i)) for i in range(20)], actor="i")]
    study = tp.pseudonyms(people, "study:S1", actor="dm")
    deposit = tp.translate([*study, "0000000000000"], "study:S1", "warehouse", actor="deposit")
    assert deposit.unknown == 1 and deposit.pseudonyms[-1] is None
    assert deposit.newly_issued == 20
    assert deposit.pseudonyms[:20] == tp.pseudonyms(people, "warehouse", actor="x")
    with pytest.raises(NotFoundError, match="approved"):
        tp.translate(deposit.pseudonyms[:5], "warehouse", "project:9", actor="x")
    tp.open_domain("project:9", actor="committee")
    extract = tp.translate(deposit.pseudonyms[:5], "warehouse", "project:9", actor="gateway")
    assert extract.pseudonyms == tp.pseudonyms(people[:5], "project:9", actor="x")
    again = tp.translate(study, "study:S1", "warehouse", actor="deposit")
    assert again.pseudonyms == deposit.pseudonyms[:20] and again.newly_issued == 0
    for src, dst in (("warehouse", "study:S1"), ("project:9", "warehouse"),
                     ("study:S1", "project:9"), ("study:S1", "study:S2")):
        with pytest.raises(PermissionDenied, match="not allowed"):
            tp.translate(study[:1], src, dst, actor="x")
    entry = next(e for e in audit_rows(tp) if e.action == "ttp.translate")
    assert entry.object_id == "study:S1 -> warehouse" and entry.reason == "deposit"
    assert entry.after == {"requested": 21, "unknown": 1, "withheld_opposed": 0,
                           "newly_issued": 20}


def test_opposition_withholds_reuse_and_is_readable_without_identity(
        tp: TrustedParty, make_person) -> None:
    people = [r.person for r in tp.register_people(
        [make_person("Luc", "Petit", sex="M"), make_person("Eva", "Blanc")], actor="i")]
    study = tp.pseudonyms(people, "study:S1", actor="dm")
    tp.set_opposition(study[0], "study:S1", opposed=True, actor="dpo", reason="letter 2026-11")
    assert tp.opposed([*study, "0000000000000"], "study:S1", actor="deposit") == [True, False, None]
    moved = tp.translate(study, "study:S1", "warehouse", actor="deposit")
    assert moved.pseudonyms[0] is None and moved.withheld_opposed == 1
    assert moved.pseudonyms[1] is not None
    tp.set_opposition(study[0], "study:S1", opposed=False, actor="dpo", reason="withdrawn")
    assert tp.translate(study, "study:S1", "warehouse", actor="d").withheld_opposed == 0


def test_reidentify_only_for_allowed_purposes_and_audited(tp: TrustedParty, make_person) -> None:
    who = make_person("Sophie", "Garnier", email="sophie@example.org")
    p = tp.register_person(who, actor="clerk").person
    code = tp.pseudonym(p, "study:S1", actor="dm")
    wh = tp.pseudonym(p, "warehouse", actor="dm")
    found = tp.reidentify(code, "study:S1", purpose="safety_alert", actor="dr.x")
    assert found == who.validated() and "Sophie" not in repr(found)
    with pytest.raises(PermissionDenied, match="allowed: consent_management"):
        tp.reidentify(code, "study:S1", purpose="research", actor="curious")
    with pytest.raises(PermissionDenied, match="safety_alert"):
        tp.reidentify(wh, "warehouse", purpose="safety_alert", actor="dr.x")
    tp.open_domain("project:1", actor="committee")
    pj = tp.pseudonym(p, "project:1", actor="ops")
    with pytest.raises(PermissionDenied, match="never allowed"):
        tp.reidentify(pj, "project:1", purpose="data_subject_request", actor="researcher")
    with pytest.raises(NotFoundError):
        tp.reidentify("0000000000000", "study:S1", purpose="safety_alert", actor="prober")
    rows = audit_rows(tp)
    actions = [(e.action, e.actor, e.reason) for e in rows if "reidentify" in e.action]
    assert actions == [("ttp.reidentify", "dr.x", "safety_alert"),
                       ("ttp.reidentify.refused", "curious", "research"),
                       ("ttp.reidentify.refused", "dr.x", "safety_alert"),
                       ("ttp.reidentify.refused", "researcher", "data_subject_request"),
                       ("ttp.reidentify.unknown", "prober", "safety_alert")]
    dump = " ".join(f"{e.object_id} {e.reason} {e.before} {e.after}" for e in rows)
    for secret in ("Sophie", "Garnier", "sophie@example.org", "1956-02-14"):
        assert secret not in dump


def test_contact_addresses_honour_channels_and_opt_ins(tp: TrustedParty, make_person) -> None:
    everyone = [
        make_person("A", "Un", contact=ContactPreferences(email=True, results=True)),
        make_person("B", "Deux", contact=ContactPreferences(email=False, sms=True),
                    phone="+33 6 12 34 56 78", language="en"),
        make_person("C", "Trois", contact=ContactPreferences(email=False)),
    ]
    people = [r.person for r in tp.register_people(everyone, actor="clerk")]
    codes = tp.pseudonyms(people, "study:S1", actor="dm")
    batch = tp.contact_addresses([*codes, "0000000000000"], "study:S1",
                                 purpose="study_reminder", actor="mailer")
    assert [(a.email, a.phone, a.language) for a in batch.addresses] == [
        ("a.un@example.org", "", "fr"), ("", "+33612345678", "en")]
    assert (batch.unknown, batch.not_contactable) == (1, 1)
    assert "example.org" not in repr(batch)
    results = tp.contact_addresses(codes, "study:S1", purpose="study_results", actor="mailer")
    assert [a.pseudonym for a in results.addresses] == codes[:1]
    with pytest.raises(PermissionDenied):
        tp.contact_addresses(codes, "study:S1", purpose="marketing", actor="mailer")
    last = audit_rows(tp)[-1]
    assert last.action == "ttp.contact.lookup" and last.after["released"] == 1


def test_verify_detects_tampering(tp: TrustedParty, make_person) -> None:
    people = [r.person for r in tp.register_people(
        [make_person("X", "Yz"), make_person("Q", "Rs", sex="M")], actor="i")]
    codes = tp.pseudonyms(people, "study:S1", actor="dm")
    assert verify_store(tp).ok
    with tp.engine.begin() as conn:
        # Another person's pseudonym with a wrong check character (never its own: the column is unique).
        forged = codes[1][:-1] + ("1" if codes[1].endswith("0") else "0")
        conn.execute(update(pseudonyms).where(pseudonyms.c.pseudonym == codes[0]).values(pseudonym=forged))
        a, b = conn.execute(select(identities.c.person_id, identities.c.sealed)).all()
        conn.execute(update(identities).where(identities.c.person_id == a.person_id)
                     .values(sealed=b.sealed))  # a sealed identity moved to another person
    report = verify_store(tp)
    assert (report.bad_pseudonyms, report.bad_identities) == (1, 1) and not report.ok


def test_audit_log_is_append_only_and_chained(tp: TrustedParty, make_person) -> None:
    tp.register_person(make_person(), actor="clerk")
    with pytest.raises(Exception, match="append-only"), tp.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with tp.engine.begin() as conn:  # an operator with DDL rights bypasses the trigger...
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            conn.execute(text("DROP TRIGGER ttp_audit_append_only ON audit_log"))
        conn.execute(text("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2"))
    report = verify_store(tp)  # ...and the chain names the edited entry
    assert not report.ok and report.audit.first_break == 2


def test_wrong_master_key_schema_mismatch_and_shared_store_are_refused(
        tp: TrustedParty, ttp_settings: Settings, key_path: Path, tmp_path: Path) -> None:
    other = create_master_key(tmp_path / "other.key")
    with pytest.raises(ConfigError, match="not the key of this trusted-party store"):
        open_trusted_party(ttp_settings, other.path)
    assert init_store(ttp_settings, key_path) is False
    with tp.engine.begin() as conn:
        conn.execute(update(store_info).values(schema_version=99))
    with pytest.raises(SchemaOutOfDate, match=r"version 99.*needs 4"):
        open_trusted_party(ttp_settings, key_path)
    with tp.engine.begin() as conn:  # a version-1 store is refused, then upgraded by init
        conn.execute(update(store_info).values(schema_version=1))
    with pytest.raises(SchemaOutOfDate, match=r"run `weshare ttp init` to upgrade"):
        open_trusted_party(ttp_settings, key_path)
    assert init_store(ttp_settings, key_path) is False
    open_trusted_party(ttp_settings, key_path).close()
    shared = ttp_settings.with_overrides(database_url=ttp_settings.trusted_party_url)
    with pytest.raises(ConfigError, match="apart from WESHARE_DATABASE_URL"):
        init_store(shared, key_path)


def test_uninitialised_store_says_which_command(ttp_settings: Settings, key_path: Path) -> None:
    create_master_key(key_path)
    with pytest.raises(SchemaOutOfDate, match="weshare ttp init"):
        open_trusted_party(ttp_settings, key_path)


def test_master_rotation_keeps_pseudonyms_and_retires_the_old_key(
        tp: TrustedParty, ttp_settings: Settings, key_path: Path, tmp_path: Path,
        make_person) -> None:
    p = tp.register_person(make_person(), actor="clerk").person
    before = tp.pseudonym(p, "study:S1", actor="dm")
    new_path = tmp_path / "new.key"
    rotate_master_key(tp, new_path, actor="ops")
    with open_trusted_party(ttp_settings, new_path) as again:
        assert again.pseudonym(p, "study:S1", actor="dm") == before
        assert again.reidentify(before, "study:S1", purpose="consent_management",
                                actor="dm").last_name == "Dupont"
    with pytest.raises(ConfigError, match="not the key"):
        open_trusted_party(ttp_settings, key_path)


def test_closing_a_project_domain_destroys_its_key(tp: TrustedParty, make_person) -> None:
    p = tp.register_person(make_person(), actor="clerk").person
    wh = tp.pseudonym(p, "warehouse", actor="deposit")
    tp.open_domain("project:3", actor="committee")
    tp.translate([wh], "warehouse", "project:3", actor="gateway")
    tp.close_domain("project:3", actor="ops", reason="project ended")
    with pytest.raises(Exception, match="closed"):
        tp.translate([wh], "warehouse", "project:3", actor="gateway")
    with pytest.raises(ValidationError, match="domain"):
        tp.pseudonym(p, "hospital", actor="x")
    assert verify_store(tp).ok


def test_whole_domain_scan_gives_the_same_answers_as_chunked_lookups(
        tp: TrustedParty, make_person, monkeypatch: pytest.MonkeyPatch) -> None:
    people = [r.person for r in tp.register_people(
        [make_person(f"Nom{i}", f"Prénom{i}", date(1940 + i, 3, 3)) for i in range(30)],
        actor="i")]
    study = tp.pseudonyms(people, "study:S1", actor="dm")
    tp.set_opposition(study[4], "study:S1", opposed=True, actor="dpo", reason="letter")
    asked = [*study[:20], "0000000000000", study[25].lower(), format_pseudonym(study[26])]
    chunked = tp.translate(asked, "study:S1", "warehouse", actor="d")
    monkeypatch.setattr(domains_module, "CHUNK", 5)  # every request now counts as "large"
    scanned = tp.translate(asked, "study:S1", "warehouse", actor="d")
    assert scanned.pseudonyms == chunked.pseudonyms
    assert (scanned.unknown, scanned.withheld_opposed) == (1, 1)
    assert scanned.pseudonyms[-2:] == tp.pseudonyms(people[25:27], "warehouse", actor="x")
    assert tp.opposed(study, "study:S1", actor="d") == [i == 4 for i in range(30)]
    new = tp.translate(study, "study:S1", "warehouse", actor="d")
    assert new.newly_issued == 8 and new.withheld_opposed == 1  # 30 - 21 issued - 1 opposed


def test_a_pseudonym_collision_is_refused_not_merged(tp: TrustedParty, make_person) -> None:
    a, b = (r.person for r in tp.register_people(
        [make_person("Ana", "Lopes"), make_person("Bo", "Kim", sex="M")], actor="i"))
    code_a = tp.pseudonym(a, "study:S1", actor="dm")
    with session_scope(tp.engine) as s:  # forge the table so that B's code is already A's
        dom = tp.domain(s, "study:S1", actor="test")
        code_b = compute_pseudonyms(dom.key, [b.uid])[0]
        s.execute(update(pseudonyms).where(pseudonyms.c.pseudonym == code_a)
                  .values(pseudonym=code_b))
    with pytest.raises(ConflictError, match="same pseudonym"):
        tp.pseudonym(b, "study:S1", actor="dm")
    assert tp.pseudonyms([a], "study:S1", actor="dm") == [code_a]  # computed, not read...
    assert verify_store(tp).bad_pseudonyms == 1  # ...and verify names it


def test_translation_matches_a_plain_reference_on_random_requests(
        tp: TrustedParty, make_person) -> None:
    rng = random.Random(5)
    people = [r.person for r in tp.register_people(
        [make_person(f"N{i}", f"P{i}", date(1930 + i, 1 + i % 12, 1 + i % 28)) for i in range(40)],
        actor="i")]
    study = tp.pseudonyms(people, "study:S1", actor="dm")
    warehouse = tp.pseudonyms(people, "warehouse", actor="x")
    opposed = set(rng.sample(range(40), 5))
    for i in opposed:
        tp.set_opposition(study[i], "study:S1", opposed=True, actor="dpo", reason="r")
    with pytest.raises(PermissionDenied, match="5 of these people opposed"):
        tp.pseudonyms(people, "warehouse", actor="x")
    assert tp.pseudonyms(people, "study:S2", actor="dm")  # studies are not reuse
    reference = {s: (None if i in opposed else w)
                 for i, (s, w) in enumerate(zip(study, warehouse, strict=True))}
    for _ in range(15):
        asked = rng.choices([*study, "0000000000000", "ZZZZ"], k=rng.randint(0, 60))
        got = tp.translate(asked, "study:S1", "warehouse", actor="d")
        assert got.pseudonyms == [reference.get(c) for c in asked]
        assert got.unknown == sum(c not in reference for c in asked)
        assert got.withheld_opposed == sum(c in reference and reference[c] is None for c in asked)


def test_concurrent_first_use_of_a_domain_agrees_on_one_key(
        tp: TrustedParty, ttp_settings: Settings, key_path: Path, make_person) -> None:
    p = tp.register_person(make_person(), actor="clerk").person
    parties = [open_trusted_party(ttp_settings, key_path) for _ in range(4)]
    barrier = threading.Barrier(len(parties))

    def first_use(party: TrustedParty) -> str:
        barrier.wait(timeout=30)
        return party.pseudonym(p, "study:RACE", actor="dm")

    try:
        with ThreadPoolExecutor(len(parties)) as pool:
            codes = list(pool.map(first_use, parties))
    finally:
        for party in parties:
            party.close()
    assert len(set(codes)) == 1 and codes[0] == tp.pseudonym(p, "study:RACE", actor="dm")
    creations = [e for e in audit_rows(tp) if e.action == "ttp.domain.create"]
    assert [e.object_id for e in creations] == ["study:RACE"]


def test_erasure_keeps_pseudonyms_but_nothing_identifying(tp: TrustedParty, make_person) -> None:
    out = tp.register_people([make_person("Lou", "Perrin"), make_person("Lou", "Perin")],
                             actor="clerk")
    assert out[1].possible_duplicates == 1
    code = tp.pseudonym(out[0].person, "study:S1", actor="dm")
    tp.erase_identity(code, "study:S1", actor="dpo", reason="erasure request 17")
    with pytest.raises(NotFoundError, match="erased"):
        tp.reidentify(code, "study:S1", purpose="data_subject_request", actor="dpo")
    batch = tp.contact_addresses([code], "study:S1", purpose="study_reminder", actor="mailer")
    assert (batch.addresses, batch.not_contactable) == ([], 1)
    assert tp.translate([code], "study:S1", "warehouse", actor="d").pseudonyms[0] is not None
    assert tp.duplicate_reviews() == [] and len(tp.duplicate_reviews(status="erased")) == 1
    again = tp.register_person(make_person("Lou", "Perrin"), actor="clerk")
    assert again.created and again.person != out[0].person
    with pytest.raises(ConflictError, match="already erased"):
        tp.erase_identity(code, "study:S1", actor="dpo", reason="twice")
    actions = [e.action for e in audit_rows(tp)]
    assert "ttp.identity.erase" in actions and "ttp.reidentify.erased" in actions
    assert verify_store(tp).ok


def test_rectification_audits_field_names_not_values(tp: TrustedParty, make_person) -> None:
    people = [r.person for r in tp.register_people(
        [make_person("Rose", "Blanc"), make_person("Yves", "Noir", sex="M")], actor="clerk")]
    code, other = tp.pseudonyms(people, "study:S1", actor="dm")
    tp.update_identity(code, "study:S1", make_person("Rose", "Blanc", email="rose@example.net",
                                                     postcode="75011"),
                       actor="dm", reason="new address")
    who = tp.reidentify(code, "study:S1", purpose="data_subject_request", actor="dm")
    assert (who.email, who.postcode) == ("rose@example.net", "75011")
    entry = next(e for e in audit_rows(tp) if e.action == "ttp.identity.update")
    assert entry.after == {"fields": ["postcode", "email"]} and entry.reason == "new address"
    assert "rose@example.net" not in str(entry.after) + str(entry.before)
    with pytest.raises(ConflictError, match="exactly this identity"):
        tp.update_identity(other, "study:S1", make_person("Rose", "Blanc"), actor="dm",
                           reason="typo")


def test_project_translations_hold_through_other_projects_and_reads_only(tp: TrustedParty, make_person) -> None:
    """What the gateway asks before reusing a kept translation, on each store."""
    people = [r.person for r in tp.register_people(
        [make_person(f"H{i}", f"N{i}", date(1970, 1, 1 + i)) for i in range(3)], actor="i")]
    study = tp.pseudonyms(people, "study:S1", actor="dm")
    codes = [c for c in tp.translate(study, "study:S1", "warehouse", actor="deposit").pseudonyms if c]
    tp.open_domain("project:1", actor="committee")
    tp.open_domain("project:2", actor="committee")
    start = tp.audit_seq()
    assert tp.project_translations_hold(start) == start  # nothing since
    tp.translate(codes, "warehouse", "project:2", actor="gateway")
    tp.opposed(codes, "warehouse", actor="gateway")
    assert tp.project_translations_hold(start) == tp.audit_seq() == start + 2
    assert tp.project_translations_hold(start, look=1) is None  # more entries than it may look at
    for change in (lambda: tp.set_opposition(codes[0], "warehouse", opposed=True, actor="dpo", reason="r"),
                   lambda: tp.translate(study, "study:S1", "warehouse", actor="deposit"),
                   lambda: tp.open_domain("project:3", actor="committee")):
        seq = tp.audit_seq()
        change()
        assert tp.audit_seq() > seq and tp.project_translations_hold(seq) is None
