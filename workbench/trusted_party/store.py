"""Creating, opening and checking a trusted-party store (database + master key file).

Only entry points call these; they pass the ``Settings`` and, if not the default
``<home>/ttp-master.key``, the master key path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.engine import make_url

from workbench import audit
from workbench.errors import ConfigError
from workbench.settings import Settings
from workbench.storage.base import utcnow
from workbench.storage.engine import connect, session_scope
from workbench.trusted_party.codes import compute_pseudonyms
from workbench.trusted_party.keys import MasterKey, create_master_key, load_master_key, new_key
from workbench.trusted_party.registry import unseal
from workbench.trusted_party.schema import (
    SCHEMA_VERSION,
    check_schema,
    create_schema,
    domains,
    identities,
    persons,
    pseudonyms,
    store_info,
    stored_version,
    upgrade_schema,
)
from workbench.trusted_party.service import TrustedParty

__all__ = [
    "VerifyReport",
    "default_master_key_path",
    "init_store",
    "open_trusted_party",
    "rotate_master_key",
    "verify_store",
]

SETTING = "WESHARE_TRUSTED_PARTY_URL"


def default_master_key_path(settings: Settings) -> Path:
    return Path(settings.home) / "ttp-master.key"


def _separate(settings: Settings) -> None:
    ttp, ops = make_url(settings.trusted_party_url), make_url(settings.database_url)
    if ttp.get_backend_name() == ops.get_backend_name() and ttp.database == ops.database \
            and ttp.host == ops.host and ttp.port == ops.port:
        raise ConfigError(f"{SETTING} must name a database apart from WESHARE_DATABASE_URL: "
                          "identities never share a store with pseudonymous data")


def init_store(settings: Settings, master_key_path: Path | None = None, *,
               actor: str = "cli") -> bool:
    """Create the schema, the master key file (unless one is provided) and the internal keys.

    Returns False if the store was already initialised (then nothing is changed).
    """
    _separate(settings)
    path = Path(master_key_path or default_master_key_path(settings))
    engine = connect(settings.trusted_party_url, setting=SETTING)
    try:
        if stored_version(engine) is not None:
            upgrade_schema(engine)
            check_schema(engine)
            load_master_key(path)
            return False
        master = load_master_key(path) if path.exists() else create_master_key(path)
        create_schema(engine)
        url = make_url(settings.trusted_party_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            os.chmod(url.database, 0o600)  # SQLite gives its -wal and -shm files the same mode
        with session_scope(engine) as s:
            s.execute(store_info.insert().values(
                id=1, schema_version=SCHEMA_VERSION, master_fingerprint=master.fingerprint,
                wrapped_identity_key=master.wrap("identities", new_key()),
                wrapped_linkage_key=master.wrap("linkage", new_key()), created_at=utcnow()))
            audit.record(s, actor=actor, action="ttp.init", object_type="store",
                         object_id="trusted_party",
                         after={"schema_version": SCHEMA_VERSION, "master": master.fingerprint})
        return True
    finally:
        engine.dispose()


def open_trusted_party(settings: Settings, master_key_path: Path | None = None) -> TrustedParty:
    """A ready ``TrustedParty``, or one clear line: unreachable, uninitialised, wrong key."""
    _separate(settings)
    engine = connect(settings.trusted_party_url, setting=SETTING)
    try:
        master = load_master_key(Path(master_key_path or default_master_key_path(settings)))
        return TrustedParty(engine, master)
    except BaseException:
        engine.dispose()
        raise


@dataclass(frozen=True)
class VerifyReport:
    audit: audit.ChainReport
    domains: int
    persons: int
    pseudonyms: int
    bad_pseudonyms: int
    bad_identities: int

    @property
    def ok(self) -> bool:
        return self.audit.ok and not self.bad_pseudonyms and not self.bad_identities

    def lines(self) -> list[str]:
        return [
            str(self.audit),
            f"{self.domains} open domain(s), {self.persons} person(s), "
            f"{self.pseudonyms} pseudonym(s) issued",
            f"pseudonyms that do not match their domain key: {self.bad_pseudonyms}",
            f"identities that cannot be opened (altered or moved): {self.bad_identities}",
        ]


def verify_store(tp: TrustedParty, batch: int = 20_000) -> VerifyReport:
    """Check the audit chain, recompute every stored pseudonym, open every sealed identity."""
    with session_scope(tp.engine) as s:
        chain = audit.verify_chain(s)
        open_domains = s.execute(select(domains.c.name).where(domains.c.wrapped_key.is_not(None))
                                 ).scalars().all()
        issued = bad = 0
        for name in open_domains:
            dom = tp.domain(s, name, actor="verify")
            last = 0
            while True:
                rows = s.execute(
                    select(pseudonyms.c.person_id, persons.c.uid, pseudonyms.c.pseudonym)
                    .join(persons, persons.c.id == pseudonyms.c.person_id)
                    .where(pseudonyms.c.domain_id == dom.id, pseudonyms.c.person_id > last)
                    .order_by(pseudonyms.c.person_id).limit(batch)).all()
                if not rows:
                    break
                expected = compute_pseudonyms(dom.key, [r.uid for r in rows])
                bad += sum(e != r.pseudonym for e, r in zip(expected, rows, strict=True))
                issued += len(rows)
                last = rows[-1].person_id
        people = broken = 0
        last = 0
        while True:
            rows = s.execute(
                select(persons.c.id, persons.c.uid, identities.c.sealed)
                .join(identities, identities.c.person_id == persons.c.id)
                .where(persons.c.id > last).order_by(persons.c.id).limit(batch)).all()
            if not rows:
                break
            for row in rows:
                try:
                    unseal(tp, row.uid, row.sealed)
                except InvalidTag:
                    broken += 1
            people += len(rows)
            last = rows[-1].id
    return VerifyReport(chain, len(open_domains), people, issued, bad, broken)


def rotate_master_key(tp: TrustedParty, new_path: Path, *, actor: str) -> MasterKey:
    """Re-wrap every stored key under a fresh master key written to ``new_path``.

    Pseudonyms do not change (the domain keys stay the same). Old backups of the database still
    need the old key file, so keep it as long as those backups.
    """
    new = create_master_key(Path(new_path))
    try:
        with session_scope(tp.engine) as s:
            row = s.execute(select(store_info)).one()
            s.execute(store_info.update().values(
                master_fingerprint=new.fingerprint,
                wrapped_identity_key=new.wrap("identities", tp._master.unwrap(
                    "identities", row.wrapped_identity_key)),
                wrapped_linkage_key=new.wrap("linkage", tp._master.unwrap(
                    "linkage", row.wrapped_linkage_key))))
            for d in s.execute(select(domains.c.id, domains.c.name, domains.c.wrapped_key)
                               .where(domains.c.wrapped_key.is_not(None))).all():
                key = tp._master.unwrap(f"domain {d.name}", d.wrapped_key)
                s.execute(domains.update().where(domains.c.id == d.id).values(
                    wrapped_key=new.wrap(f"domain {d.name}", key)))
            audit.record(s, actor=actor, action="ttp.master.rotate", object_type="store",
                         object_id="trusted_party",
                         before={"master": row.master_fingerprint}, after={"master": new.fingerprint})
    except BaseException:
        Path(new_path).unlink(missing_ok=True)  # the store still uses the old key
        raise
    tp._master = new
    return new
