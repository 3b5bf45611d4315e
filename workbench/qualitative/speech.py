"""Local transcription of interview recordings, and the word error rate to check a model with.

Patient interviews are identifiable health data, so speech recognition runs here, on the CPU,
with a faster-whisper (CTranslate2) model directory that the site installs and names in
``Settings.transcription_model_dir``. Nothing is downloaded and nothing is sent out: a model
*name* is refused (faster-whisper would fetch it), and so is a directory without its
``tokenizer.json`` (faster-whisper would fetch the tokenizer).

Speaker turns come from the recording, not from guessing on the text:

- two speaker names and a stereo file (one microphone per channel, the usual interview set-up):
  each recognised word goes to the channel that is louder while it is spoken;
- one name: every turn is that speaker's; no name: turns without a speaker.

Without a per-channel split, a new turn starts after a pause of ``turn_gap`` seconds. The result
is an ordinary ``Transcript`` (timestamps in milliseconds), which goes through the same
pseudonymisation and storage as an imported file.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.errors import ConfigError, ValidationError
from workbench.qualitative.transcripts import Transcript, build_transcript, format_ms

__all__ = ["MODEL_FILES", "WordErrors", "check_model_dir", "to_webvtt", "transcribe_audio",
           "word_error_rate", "word_errors"]

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
SAMPLE_RATE = 16_000
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


# --------------------------------------------------------------------------- word error rate

@dataclass(frozen=True)
class WordErrors:
    """Word-level Levenshtein distance between a reference and a hypothesis."""

    distance: int  # substitutions + deletions + insertions
    reference_words: int

    @property
    def rate(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.distance == 0 else float("inf")
        return self.distance / self.reference_words


def _words(text: str) -> list[str]:
    """Case-, accent-form- and punctuation-insensitive words ("Don't," == "don’t")."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return _WORD.findall(folded)


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Minimum number of word substitutions, deletions and insertions turning one into the other.

    One numpy row per reference word; the insertion chain inside a row is a running minimum,
    so an hour of speech (~10,000 words) takes seconds, not minutes.
    """
    ref, hyp = _words(reference), _words(hypothesis)
    if not ref or not hyp:
        return WordErrors(max(len(ref), len(hyp)), len(ref))
    vocab: dict[str, int] = {}
    r = np.array([vocab.setdefault(w, len(vocab)) for w in ref])
    h = np.array([vocab.setdefault(w, len(vocab)) for w in hyp])
    steps = np.arange(len(h) + 1)
    row = steps.copy()
    for i, word in enumerate(r, start=1):
        new = np.empty_like(row)
        new[0] = i
        new[1:] = np.minimum(row[:-1] + (h != word), row[1:] + 1)  # substitution/match, deletion
        row = np.minimum.accumulate(new - steps) + steps            # insertions
    return WordErrors(int(row[-1]), len(ref))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(S + D + I) / N on normalised words; 0 is perfect, it can exceed 1."""
    return word_errors(reference, hypothesis).rate


# --------------------------------------------------------------------------- transcription

def check_model_dir(model_dir: str | Path | None) -> Path:
    """The configured model directory, or a ConfigError saying how to set it."""
    if model_dir is None or str(model_dir) in ("", "."):
        raise ConfigError("no transcription model is configured: set transcription_model_dir "
                          "(WESHARE_TRANSCRIPTION_MODEL_DIR) to a local faster-whisper model "
                          "directory")
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise ConfigError(f"transcription_model_dir {path} is not a directory (a model name "
                          f"is refused: it would be downloaded)")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError(f"transcription_model_dir {path} lacks {', '.join(missing)} "
                          f"(a CTranslate2 Whisper model needs {', '.join(MODEL_FILES)})")
    return path


def _decode(audio: Path) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) at 16 kHz; a mono file gives the same signal twice."""
    from faster_whisper.audio import decode_audio  # PyAV: imported here to keep imports light

    if not audio.is_file():
        raise ValidationError("no such audio file", where=str(audio))
    try:
        left, right = decode_audio(str(audio), sampling_rate=SAMPLE_RATE, split_stereo=True)
    except Exception as exc:  # PyAV raises many error types for unreadable media
        raise ValidationError(f"cannot decode the recording ({type(exc).__name__})",
                              where=audio.name) from None
    if left.size == 0:
        raise ValidationError("the recording holds no sound", where=audio.name)
    return left, right


FRAME = 160  # 10 ms at 16 kHz: the resolution of the per-channel energy envelope


def _energy(channel: np.ndarray) -> np.ndarray:
    """Cumulative energy per 10 ms frame (leading 0), so any interval's energy is one subtraction.

    Kept instead of the samples: an hour of audio is 360,000 numbers instead of 57.6 million.
    """
    frames = channel[: channel.size - channel.size % FRAME].reshape(-1, FRAME)
    per_frame = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(per_frame)])


def _louder_channel(left: np.ndarray, right: np.ndarray, start: float, end: float) -> int | None:
    """0 or 1 for the channel with more energy over [start, end] seconds (cumulative envelopes)."""
    last = left.size - 1
    a = min(int(start * SAMPLE_RATE / FRAME), last - 1)
    b = min(max(int(np.ceil(end * SAMPLE_RATE / FRAME)), a + 1), last)
    energy_left, energy_right = left[b] - left[a], right[b] - right[a]
    if energy_left == energy_right:
        return None
    return 0 if energy_left > energy_right else 1


@dataclass
class _Word:
    text: str
    start: float
    end: float
    speaker: str


def _turns(words: Sequence[_Word], turn_gap: float, split_on_pause: bool
           ) -> list[tuple[str, str, int | None, int | None]]:
    turns: list[list] = []
    for w in words:
        last = turns[-1] if turns else None
        same = last is not None and last[0] == w.speaker
        if same and not (split_on_pause and w.start - last[3] >= turn_gap):
            last[1].append(w.text)
            last[3] = w.end
        else:
            turns.append([w.speaker, [w.text], w.start, w.end])
    return [(s, "".join(parts).strip(), round(a * 1000), round(b * 1000)) for s, parts, a, b in turns]


def transcribe_audio(audio: str | Path, model_dir: str | Path | None, *, language: str | None = None,
                     speakers: Sequence[str] = (), name: str | None = None, turn_gap: float = 1.5,
                     threads: int = 0, beam_size: int = 5) -> Transcript:
    """Transcribe a recording into speaker turns with timestamps, entirely on this machine.

    ``speakers``: none, one (everyone), or two (left channel, right channel of a stereo file).
    ``metadata`` records the model, language, audio length and processing time (real-time
    factor = processing seconds / audio seconds), never any text.
    """
    from faster_whisper import WhisperModel  # heavy (CTranslate2): only when transcribing

    audio = Path(audio)
    model_path = check_model_dir(model_dir)
    if len(speakers) > 2:
        raise ValidationError("give at most two speakers (left and right channel)", where="speakers")
    if any(not s.strip() for s in speakers):
        raise ValidationError("a speaker name is empty", where="speakers")
    if turn_gap <= 0:
        raise ValidationError("turn_gap must be positive", where="turn_gap")
    started = time.perf_counter()
    left, right = _decode(audio)
    per_channel = len(speakers) == 2
    if per_channel and np.array_equal(left, right):
        raise ValidationError("two speakers need a stereo recording with one speaker per "
                              "channel; this one is mono", where=audio.name)
    seconds = left.size / SAMPLE_RATE
    envelopes = (_energy(left), _energy(right)) if per_channel else None
    left += right  # the mono mix, in place: no third copy of a long recording
    left *= 0.5
    mix = left
    del right
    try:
        model = WhisperModel(str(model_path), device="cpu", compute_type="int8",
                             cpu_threads=threads, local_files_only=True)
    except (RuntimeError, ValueError, OSError) as exc:
        raise ConfigError(f"cannot load the transcription model in {model_path} "
                          f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    segments, info = model.transcribe(mix, language=language, beam_size=beam_size, vad_filter=True,
                                      word_timestamps=True, condition_on_previous_text=False)
    words: list[_Word] = []
    current = 0
    for segment in segments:
        for w in segment.words or ():
            if envelopes is not None:
                channel = _louder_channel(*envelopes, w.start, w.end)
                current = current if channel is None else channel
                speaker = speakers[current]
            else:
                speaker = speakers[0] if speakers else ""
            words.append(_Word(w.word, w.start, w.end, speaker))
    elapsed = time.perf_counter() - started
    from faster_whisper import __version__ as fw_version

    metadata = {"origin": "speech recognition", "asr": f"faster-whisper {fw_version}",
                "model": model_path.name if model_path.name != "model" else model_path.parent.name,
                "language": info.language, "audio_seconds": f"{seconds:.2f}",
                "processing_seconds": f"{elapsed:.2f}",
                "real_time_factor": f"{elapsed / seconds:.3f}", "source_audio": audio.name}
    return build_transcript(name or audio.stem, _turns(words, turn_gap, not per_channel),
                            metadata=metadata)


def to_webvtt(transcript: Transcript) -> str:
    """WebVTT with one cue per turn and ``<v Speaker>`` tags: ``read_transcript`` reads it back."""
    lines = ["WEBVTT", ""]
    for turn in transcript.turns:
        if turn.start_ms is None or turn.end_ms is None:
            raise ValidationError("WebVTT needs a start and end time on every turn",
                                  where=f"{transcript.name} turn {turn.index + 1}")
        text = turn.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = "\n".join(line for line in text.split("\n") if line.strip()).replace("-->", "->")
        voice = f"<v {turn.speaker}>" if turn.speaker else ""
        lines += [f"{format_ms(turn.start_ms)} --> {format_ms(turn.end_ms)}", voice + text, ""]
    return "\n".join(lines)
