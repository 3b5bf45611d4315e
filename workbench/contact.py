"""Participant addresses for the mail worker, asked of the trusted party at send time.

The operational store holds pseudonyms only; the trusted party answers per domain and purpose,
honouring each person's channels and opt-ins, and audits every lookup (counts, never addresses).
"""

from __future__ import annotations

from collections import defaultdict

from workbench.mail import Recipient, Resolver
from workbench.trusted_party import TrustedParty

__all__ = ["trusted_party_resolver"]


def trusted_party_resolver(tp: TrustedParty, *, actor: str) -> Resolver:
    def resolve(recipients: list[Recipient]) -> dict[tuple[str, str], str]:
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for pseudonym, domain, purpose in recipients:
            groups[(domain, purpose)].append(pseudonym)
        found: dict[tuple[str, str], str] = {}
        for (domain, purpose), codes in groups.items():
            batch = tp.contact_addresses(codes, domain, purpose=purpose, actor=actor)
            for address in batch.addresses:
                if address.email:
                    found[(address.pseudonym, domain)] = address.email
        return found

    return resolve
