"""Randomisation: simple, stratified permuted blocks and Pocock–Simon minimisation, committed in
advance, logged in a hash chain and verifiable from the published commitment.

Typical use (storage is the caller's: persist ``Commitment`` once and each record append-only)::

    design = Design.from_json(text)                       # includes the secret seed
    commitment = commit(design, at=now)                   # publish commitment.digest
    randomiser = Randomiser(design, commitment, stored_records)
    record = randomiser.allocate("P-0012", {"site": "IGR", "stage": "II"},
                                 eligible=True, actor="inv1", at=now)
    view_allocation(design, record, roles={"study_manager"})   # arm only for allowed roles
    verify(design, commitment, stored_records).ok
"""

from workbench.randomisation.concealment import (
    AllocationView,
    UnblindingRecord,
    emergency_unblind,
    view_allocation,
)
from workbench.randomisation.design import ALGORITHM, METHODS, Arm, Design, Factor, new_seed
from workbench.randomisation.exports import describe, redcap_allocation_table
from workbench.randomisation.methods import allocation_lists
from workbench.randomisation.randomiser import Randomiser
from workbench.randomisation.records import AllocationRecord, Commitment, commit, commitment_digest
from workbench.randomisation.verify import VerificationReport, verify

__all__ = [
    "ALGORITHM",
    "METHODS",
    "AllocationRecord",
    "AllocationView",
    "Arm",
    "Commitment",
    "Design",
    "Factor",
    "Randomiser",
    "UnblindingRecord",
    "VerificationReport",
    "allocation_lists",
    "commit",
    "commitment_digest",
    "describe",
    "emergency_unblind",
    "new_seed",
    "redcap_allocation_table",
    "verify",
    "view_allocation",
]
