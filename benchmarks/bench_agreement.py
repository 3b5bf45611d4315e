"""Agreement for a study's worth of coding: 100 transcripts × 3 coders, target ≤ 1 s.

Synthetic but realistic corpus (seeded): ~60 turns of ~150 characters per transcript, 15 codes,
each coder codes about a third of the turns with partial spans, coders agree most of the time.
The workbench path (numpy over all units) is compared with a naive pure-Python baseline that
loops over code × coder pair × turn (and over character positions with Python sets), run in
the same process; both must give the same numbers.

    .venv/bin/python benchmarks/bench_agreement.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import report, timed

from workbench.qualitative.coding import CodedSegment
from workbench.qualitative.reliability import (
    POOLED,
    character_agreement,
    turn_agreement,
)
from workbench.qualitative.transcripts import Transcript, build_transcript
from workbench.qualitative.units import character_units

CODERS = ("A", "B", "C")
CODES = tuple(f"code_{i:02d}" for i in range(15))
WORDS = ["fatigue", "travail", "peur", "famille", "douleur", "information", "soins", "argent", "corps", "couple", "enfants", "retour", "récidive", "parcours", "médecin", "infirmière", "traitement", "chimio", "temps", "semaine"]


def corpus(n_transcripts: int, seed: int = 7) -> tuple[dict[str, Transcript], list[CodedSegment]]:
    rng = random.Random(seed)
    transcripts: dict[str, Transcript] = {}
    segments: list[CodedSegment] = []
    for t in range(n_transcripts):
        name = f"P-{t:03d}"
        turns = [("Interviewer" if i % 2 == 0 else name,
                  " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))), None, None)
                 for i in range(60)]
        transcript = build_transcript(name, turns)
        transcripts[name] = transcript
        for turn in transcript.turns:
            if rng.random() > 0.35:
                continue
            true_codes = rng.sample(CODES, rng.randint(1, 2))
            for coder in CODERS:
                for code in true_codes:
                    if rng.random() < 0.15:
                        continue  # this coder missed it
                    chosen = code if rng.random() > 0.1 else rng.choice(CODES)
                    a = turn.start + rng.randint(0, max(0, len(turn.text) // 3))
                    b = min(turn.end, a + rng.randint(5, len(turn.text)))
                    if b > a:
                        segments.append(CodedSegment(name, a, b, chosen, coder))
    return transcripts, segments


def workbench_path(transcripts: dict[str, Transcript], segments: list[CodedSegment]):  # type: ignore[no-untyped-def]
    turns = turn_agreement(segments, transcripts, codes=CODES, coders=CODERS)
    units = character_units(segments, transcripts, codes=CODES, coders=CODERS)
    chars = [character_agreement(segments, transcripts, a, b, units=units)
             for a, b in itertools.combinations(CODERS, 2)]
    return turns, chars


def _kappa(table: list[list[int]]) -> float:
    n = sum(map(sum, table))
    p_o = (table[0][0] + table[1][1]) / n
    rows = [sum(r) for r in table]
    cols = [table[0][j] + table[1][j] for j in range(2)]
    p_e = sum(rows[i] * cols[i] for i in range(2)) / (n * n)
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)


def naive_path(transcripts: dict[str, Transcript], segments: list[CodedSegment]):  # type: ignore[no-untyped-def]
    """Pure Python: per code, per coder pair, per turn; characters as Python sets."""
    by_key: dict[tuple[str, str, str], list[CodedSegment]] = {}
    for s in segments:
        by_key.setdefault((s.source, s.code, s.coder), []).append(s)
    turn_kappa: dict[tuple[str, str, str], float] = {}
    char_kappa: dict[tuple[str, str, str], float] = {}
    for code in CODES:
        for a, b in itertools.combinations(CODERS, 2):
            table = [[0, 0], [0, 0]]
            n_chars = both = only_a = only_b = 0
            for name, transcript in transcripts.items():
                segs_a = by_key.get((name, code, a), [])
                segs_b = by_key.get((name, code, b), [])
                for turn in transcript.turns:
                    hit_a = any(s.start < turn.end and turn.start < s.end for s in segs_a)
                    hit_b = any(s.start < turn.end and turn.start < s.end for s in segs_b)
                    table[0 if hit_a else 1][0 if hit_b else 1] += 1
                chars_a = {i for s in segs_a for i in range(s.start, s.end)}
                chars_b = {i for s in segs_b for i in range(s.start, s.end)}
                n_chars += len(transcript.text)
                both += len(chars_a & chars_b)
                only_a += len(chars_a - chars_b)
                only_b += len(chars_b - chars_a)
            turn_kappa[(code, a, b)] = _kappa(table)
            neither = n_chars - both - only_a - only_b
            char_kappa[(code, a, b)] = _kappa([[both, only_a], [only_b, neither]])
    return turn_kappa, char_kappa


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 transcripts, for a smoke test")
    args = parser.parse_args(argv)
    n = 10 if args.quick else 100
    transcripts, segments = corpus(n)
    repeat = 1 if args.quick else 3
    fast_s, (turns, chars) = timed(lambda: workbench_path(transcripts, segments), repeat=repeat)
    slow_s, (naive_turns, naive_chars) = timed(lambda: naive_path(transcripts, segments))
    # Same answers: the per-pair turn κ and the pooled character κ per code and pair.
    for (code, a, b), kappa in naive_chars.items():
        frame = chars[list(itertools.combinations(CODERS, 2)).index((a, b))]
        row = frame[(frame["source"] == POOLED) & (frame["code"] == code)].iloc[0]
        if abs(row["kappa"] - kappa) > 1e-9:
            raise SystemExit(f"character kappa differs for {code} {a}-{b}: {row['kappa']} vs {kappa}")
    pairs_mean = {code: sum(naive_turns[(code, a, b)] for a, b in itertools.combinations(CODERS, 2))
                  / 3 for code in CODES}
    table = turns.set_index("code")
    for code, kappa in pairs_mean.items():
        if abs(table.loc[code, "mean_pairwise_kappa"] - kappa) > 1e-9:
            raise SystemExit(f"turn kappa differs for {code}: {table.loc[code]} vs {kappa}")
    units = sum(len(t.turns) for t in transcripts.values())
    chars_total = sum(len(t.text) for t in transcripts.values())
    report(f"agreement {n} transcripts x {len(CODERS)} coders (turn + character, {len(CODES)} codes)",
           fast_s, "s", baseline=slow_s, baseline_name="naive pure-Python pairwise loop",
           target="<= 1 s" if not args.quick else "", turns=units, characters=chars_total,
           codings=len(segments))
    if not args.quick and fast_s > 1.0:
        print("target missed: more than 1 s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
