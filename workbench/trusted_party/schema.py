"""The trusted party's own schema: its own MetaData, a version row, no Alembic.

The TTP database is deliberately apart from the operational store (other file or other server,
other credentials), so it cannot share the operational migrations. It has a single version
number; code refuses to open a store at another version and says what to do.
Identities are sealed (AES-GCM) and linkage keys are keyed hashes, so a copy of this database
without the master key file reveals counts and dates of registration, not people.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
)

from workbench.audit import GENESIS, AuditEntry, AuditHead
from workbench.errors import SchemaOutOfDate
from workbench.storage.base import NAMING, UTCDateTime

__all__ = [
    "SCHEMA_VERSION",
    "check_schema",
    "create_schema",
    "domains",
    "identities",
    "link_details",
    "link_runs",
    "links",
    "metadata",
    "persons",
    "pseudonyms",
    "reviews",
    "source_ids",
    "store_info",
    "stored_version",
    "upgrade_schema",
]

SCHEMA_VERSION = 4  # 2: linkage runs and links held by the trusted party; 3: source identifiers;
# 4: the compared values of pairs sent to clerical review
# Codes and hex keys compare byte-wise: PostgreSQL's locale collation only slows their indexes.
Code = String(64).with_variant(String(64, collation="C"), "postgresql")

metadata = MetaData(naming_convention=NAMING)

store_info = Table(
    "ttp_store", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("schema_version", Integer, nullable=False),
    Column("master_fingerprint", String(32), nullable=False),
    # Internal keys, wrapped under the master key: one seals identities, one keys linkage hashes.
    Column("wrapped_identity_key", LargeBinary, nullable=False),
    Column("wrapped_linkage_key", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

domains = Table(
    "ttp_domain", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=True),  # NULL once closed: the key is destroyed
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
)

persons = Table(
    "ttp_person", metadata,
    Column("id", Integer, primary_key=True),
    # The person's internal TTP id: random, never shown outside; pseudonyms are HMACs of it.
    Column("uid", Code, nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("opposed_warehouse", Boolean, nullable=False, default=False),
    Column("opposition_at", UTCDateTime, nullable=True),
)

identities = Table(
    "ttp_identity", metadata,
    Column("person_id", Integer, ForeignKey("ttp_person.id"), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    # Unique: an exact match is the same person, and two registrations racing on PostgreSQL
    # must not both create one.
    Column("exact_key", Code, nullable=False, unique=True),
    Column("dob_key", Code, nullable=False, index=True),
    Column("name_key", Code, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

pseudonyms = Table(
    "ttp_pseudonym", metadata,
    Column("domain_id", Integer, ForeignKey("ttp_domain.id"), primary_key=True),
    Column("person_id", Integer, ForeignKey("ttp_person.id"), primary_key=True),
    Column("pseudonym", Code, nullable=False),
    UniqueConstraint("domain_id", "pseudonym", name="uq_ttp_pseudonym_domain_pseudonym"),
)

reviews = Table(
    "ttp_duplicate_review", metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("ttp_person.id"), nullable=False),
    Column("candidate_id", Integer, ForeignKey("ttp_person.id"), nullable=False),
    Column("score", Float, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_by", String(200), nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
)
Index("ix_ttp_duplicate_review_status", reviews.c.status)

link_runs = Table(
    "ttp_link_run", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("domain", String(120), nullable=False),  # the study domain of the cohort side
    Column("source", String(120), nullable=False),  # e.g. "snds:EXTRACT-2026-01"
    Column("model", Text, nullable=False),  # trained Splink model (JSON), for provenance
    Column("metrics", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

links = Table(
    "ttp_link", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(64), ForeignKey("ttp_link_run.run_id"), nullable=False),
    Column("person_id", Integer, ForeignKey("ttp_person.id"), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("evidence_bits", Float, nullable=False),
    Column("status", String(16), nullable=False),  # linked | review | confirmed | rejected
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    UniqueConstraint("run_id", "person_id", name="uq_ttp_link_run_person"),
)

# What a clerical reviewer compares for an uncertain pair: both sides' quasi-identifiers and the
# match weight of each comparison (JSON), sealed under the identity key with the link id bound,
# so a copy of the database shows no birth dates or départements.
link_details = Table(
    "ttp_link_detail", metadata,
    Column("link_id", Integer, ForeignKey("ttp_link.id"), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
)

# A hospital's patient identifier (MRN/IPP, or a source OMOP person_id) as a keyed hash of
# "system|value": the same patient imported again gets the same person, without the
# identifier itself being stored anywhere (workbench.trusted_party.sources).
source_ids = Table(
    "ttp_source_id", metadata,
    Column("source_key", Code, primary_key=True),
    Column("person_id", Integer, ForeignKey("ttp_person.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)


def stored_version(engine: Engine) -> int | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("ttp_store"):
            return None
        return conn.execute(select(store_info.c.schema_version)).scalar()


def check_schema(engine: Engine) -> None:
    """Refuse a store that is empty or at another version than this code."""
    version = stored_version(engine)
    if version is None:
        raise SchemaOutOfDate(
            "the trusted-party store is not initialised: run `weshare ttp init`"
        )
    if version > SCHEMA_VERSION:
        raise SchemaOutOfDate(
            f"the trusted-party store is at schema version {version}, this code needs "
            f"{SCHEMA_VERSION} (newer store): install the matching workbench release"
        )
    if version < SCHEMA_VERSION:
        raise SchemaOutOfDate(
            f"the trusted-party store is at schema version {version}, this code needs "
            f"{SCHEMA_VERSION}: run `weshare ttp init` to upgrade it"
        )


def upgrade_schema(engine: Engine) -> bool:
    """Bring an older store to this version (new tables only); True if anything changed."""
    version = stored_version(engine)
    if version is None or version >= SCHEMA_VERSION:
        return False
    with engine.begin() as conn:
        metadata.create_all(conn, tables=[link_runs, links, source_ids, link_details], checkfirst=True)
        conn.execute(store_info.update().values(schema_version=SCHEMA_VERSION))
    return True


def create_schema(engine: Engine) -> None:
    """Create every table (the caller then inserts the ``ttp_store`` row) and the audit guards."""
    with engine.begin() as conn:
        metadata.create_all(conn)
        AuditEntry.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
        AuditHead.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
        if conn.execute(select(AuditHead.id)).first() is None:
            conn.execute(AuditHead.__table__.insert().values(id=1, seq=0, hash=GENESIS))  # type: ignore[attr-defined]
        if conn.dialect.name == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} "
                    "ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
                )
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION ttp_audit_append_only() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS ttp_audit_append_only ON audit_log")
            conn.exec_driver_sql(
                "CREATE TRIGGER ttp_audit_append_only BEFORE UPDATE OR DELETE ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION ttp_audit_append_only()"
            )
