"""Electronic consent: versioned documents, signatures with manifestation, PDF snapshots, withdrawal."""

from workbench.consent.models import ConsentDocument, ConsentRecord, Withdrawal
from workbench.consent.service import (
    SignatureInput,
    countersign,
    current_document,
    publish_document,
    sign,
)
from workbench.consent.withdrawal import SCOPES, VaultReport, verify_vault, withdraw

__all__ = [
    "SCOPES",
    "ConsentDocument",
    "ConsentRecord",
    "SignatureInput",
    "VaultReport",
    "Withdrawal",
    "countersign",
    "current_document",
    "publish_document",
    "sign",
    "verify_vault",
    "withdraw",
]
