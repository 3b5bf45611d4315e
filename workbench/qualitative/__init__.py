"""Qualitative research: transcripts, codebooks, coding agreement, analysis and REFI-QDA exchange.

Pure domain code on dataclasses and DataFrames (no storage yet, no Jupyter). Offsets are Unicode
code points with an exclusive end over each transcript's canonical text (see ``transcripts``).
"""

from workbench.qualitative.agreement import (
    cohen_kappa,
    cohen_kappa_from_table,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    krippendorff_alpha,
    percent_agreement,
)
from workbench.qualitative.analysis import code_frequencies, cooccurrence, quotes
from workbench.qualitative.codebook import (
    Code,
    Codebook,
    Memo,
    Theme,
    changes_between,
    load_starter_codebook,
)
from workbench.qualitative.coding import CONSENSUS, CodedSegment, segments_frame
from workbench.qualitative.pseudonymise import (
    Replacement,
    apply_replacements,
    import_pseudonymised,
    propose_replacements,
)
from workbench.qualitative.reliability import (
    character_agreement,
    consensus_by_majority,
    disagreements,
    turn_agreement,
    versus_consensus,
)
from workbench.qualitative.transcript_formats import read_transcript
from workbench.qualitative.transcripts import Transcript, Turn, build_transcript
from workbench.qualitative.versioning import ReattachReport, reattach

__all__ = [
    "CONSENSUS",
    "Code",
    "Codebook",
    "CodedSegment",
    "Memo",
    "ReattachReport",
    "Replacement",
    "Theme",
    "Transcript",
    "Turn",
    "apply_replacements",
    "build_transcript",
    "changes_between",
    "character_agreement",
    "code_frequencies",
    "cohen_kappa",
    "cohen_kappa_from_table",
    "consensus_by_majority",
    "cooccurrence",
    "disagreements",
    "fleiss_kappa",
    "fleiss_kappa_from_counts",
    "import_pseudonymised",
    "krippendorff_alpha",
    "load_starter_codebook",
    "percent_agreement",
    "propose_replacements",
    "quotes",
    "read_transcript",
    "reattach",
    "segments_frame",
    "turn_agreement",
    "versus_consensus",
]
