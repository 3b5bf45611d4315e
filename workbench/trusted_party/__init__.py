"""The trusted third party (TTP): identities, contact details and pseudonym keys, kept apart.

Its own database (``WESHARE_TRUSTED_PARTY_URL``) and its own master key file; the rest of WeShare
sees pseudonyms only. API:

- ``init_store(settings, key_path)`` / ``open_trusted_party(settings, key_path)`` → ``TrustedParty``;
- ``TrustedParty.register_person(identity, actor=)`` (record linkage, duplicate review queue),
  ``pseudonym(person, domain)``, ``translate(codes, from_domain, to_domain)`` (batched),
  ``reidentify(code, domain, purpose=, actor=)``, ``contact_addresses(codes, domain, purpose=)``,
  ``set_opposition`` / ``opposed``, ``update_identity`` / ``erase_identity``,
  ``open_domain`` / ``close_domain``, ``duplicate_reviews`` / ``review_pair`` / ``resolve_review``;
- ``verify_store(tp)``: audit chain, pseudonyms against their keys, sealed identities.
"""

from workbench.trusted_party.codes import format_pseudonym, is_valid, parse_pseudonym
from workbench.trusted_party.disclosure import (
    CONTACT_PURPOSES,
    REIDENTIFY_PURPOSES,
    ContactAddress,
    ContactBatch,
)
from workbench.trusted_party.domains import ALLOWED_TRANSLATIONS, domain_kind
from workbench.trusted_party.identity import ContactPreferences, Identity
from workbench.trusted_party.keys import MasterKey, create_master_key, load_master_key
from workbench.trusted_party.registry import PersonRef, Registration, Review
from workbench.trusted_party.schema import SCHEMA_VERSION
from workbench.trusted_party.service import Translation, TrustedParty
from workbench.trusted_party.store import (
    VerifyReport,
    default_master_key_path,
    init_store,
    open_trusted_party,
    rotate_master_key,
    verify_store,
)

__all__ = [
    "ALLOWED_TRANSLATIONS",
    "CONTACT_PURPOSES",
    "REIDENTIFY_PURPOSES",
    "SCHEMA_VERSION",
    "ContactAddress",
    "ContactBatch",
    "ContactPreferences",
    "Identity",
    "MasterKey",
    "PersonRef",
    "Registration",
    "Review",
    "Translation",
    "TrustedParty",
    "VerifyReport",
    "create_master_key",
    "default_master_key_path",
    "domain_kind",
    "format_pseudonym",
    "init_store",
    "is_valid",
    "load_master_key",
    "open_trusted_party",
    "parse_pseudonym",
    "rotate_master_key",
    "verify_store",
]
