"""Synthetic oncology QoL cohorts: seeded, vectorised, chunked; pseudonymous data and identities apart.

Public API:

- ``CohortSpec`` / ``TimePoint``: every parameter of a cohort (frozen, comparable);
- ``generate_cohort(n, seed=, spec=, chunk_size=)`` → iterator of ``CohortChunk`` (participants,
  treatments, assessments, long item answers, optional latent truth), pseudonymous only;
- ``generate_identities(n, seed=, spec=, chunk_size=)`` → iterator of identity frames for the
  trusted third party only (names, birth dates, postcodes, e-mails), keyed by participant key;
- ``write_cohort`` / ``write_identities``: the same, written to Parquet or CSV atomically;
- ``read_spec`` / ``spec_from_dict`` / ``spec_to_dict``: specs as JSON (a data set's manifest).
"""

from workbench.synth.cohort import BLOCK_SIZE, CohortChunk, generate_cohort
from workbench.synth.export import (
    read_spec,
    spec_from_dict,
    spec_to_dict,
    write_cohort,
    write_identities,
)
from workbench.synth.identities import generate_identities
from workbench.synth.spec import DEFAULT_SCHEDULE, CohortSpec, TimePoint

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_SCHEDULE",
    "CohortChunk",
    "CohortSpec",
    "TimePoint",
    "generate_cohort",
    "generate_identities",
    "read_spec",
    "spec_from_dict",
    "spec_to_dict",
    "write_cohort",
    "write_identities",
]
