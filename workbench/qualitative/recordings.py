"""From an interview recording to a stored, pseudonymised transcript of a study.

The speech-recognition output is treated exactly like an imported transcript file: names are
replaced (the proposed list, or a list a reviewer already corrected) before anything is
written or stored, and the replacement list goes back to the caller for review by the trusted
third party. Only pseudonymised text reaches the operational store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from workbench import audit
from workbench.qualitative import store
from workbench.qualitative.models import QualVersion
from workbench.qualitative.pseudonymise import Replacement, apply_replacements, propose_replacements
from workbench.qualitative.speech import transcribe_audio
from workbench.qualitative.transcripts import Transcript
from workbench.settings import Settings

__all__ = ["Transcription", "pseudonymise_transcription", "store_transcription", "transcribe_recording"]


@dataclass(frozen=True)
class Transcription:
    transcript: Transcript  # pseudonymised
    replacements: list[Replacement]  # holds real names: for the trusted third party only


def pseudonymise_transcription(transcript: Transcript, *, names: Iterable[str] = (),
                               replacements: Sequence[Replacement] | None = None,
                               keep: Iterable[str] = ()) -> Transcription:
    """Apply a reviewed list when given, else the proposed one (to be reviewed).

    ``keep``: labels the operator chose (speaker roles, the participant's study pseudonym such
    as ``P-7KX2M9QA``) are never proposed as names to replace.
    """
    if replacements is not None:
        entries = list(replacements)
    else:
        kept = {k.casefold() for k in keep}
        entries = [e for e in propose_replacements(transcript, names) if e.name.casefold() not in kept]
    return Transcription(apply_replacements(transcript, entries), entries)


def transcribe_recording(settings: Settings, audio: str | Path, *, language: str | None = None,
                         speakers: Sequence[str] = (), names: Iterable[str] = (),
                         replacements: Sequence[Replacement] | None = None, name: str | None = None,
                         participant: str | None = None, threads: int = 0) -> Transcription:
    """Transcribe with the site's model (``settings.transcription_model_dir``), then pseudonymise."""
    raw = transcribe_audio(audio, settings.transcription_model_dir, language=language,
                           speakers=speakers, name=name, threads=threads)
    return pseudonymise_transcription(raw, names=names, replacements=replacements,
                                      keep=[*speakers, *([participant] if participant else [])])


def store_transcription(session: Session, study_code: str, result: Transcription, *, actor: str,
                        participant: str | None = None) -> QualVersion:
    """Version 1 of a new study document, with the recognition run recorded in the audit log."""
    version = store.add_document(session, study_code, result.transcript, actor=actor,
                                 participant=participant)
    meta = result.transcript.metadata
    audit.record(session, actor=actor, action="qual.document.transcribe", object_type="transcript",
                 object_id=version.id,
                 after={k: meta[k] for k in ("asr", "model", "language", "audio_seconds",
                                             "real_time_factor") if k in meta}
                 | {"replacements": len(result.replacements)})
    return version
