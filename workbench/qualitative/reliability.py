"""Agreement tables for a coding round: per code and pooled, on turns and on characters.

Turn units give, per code: percent agreement, Cohen's κ (exactly two coders), Fleiss' κ and
Krippendorff's nominal α (any number of coders), with n. The pooled row follows De Vries et al.
(2008): κ_pooled = (p̄_o − p̄_e) / (1 − p̄_e) with p_o, p_e averaged over codes (and coder pairs);
α_pooled stacks every (unit, code) decision. Character units reproduce NVivo's coding comparison
per code × source (agreement = both + neither over all characters; κ from the 2×2 table) and add
the "coded-only" overlap (Jaccard) users ask for. The consensus layer is just another coder.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.errors import ValidationError
from workbench.qualitative.coding import CONSENSUS, CodedSegment
from workbench.qualitative.transcripts import Transcript
from workbench.qualitative.units import CharacterUnits, TurnUnits, character_units, turn_units

__all__ = ["POOLED", "character_agreement", "consensus_by_majority", "disagreements",
           "turn_agreement", "versus_consensus"]

POOLED = "(pooled)"


def _binary_stats(ones: np.ndarray, m: int) -> dict[str, np.ndarray]:
    """Per-code statistics from ``ones[u, k]`` = number of coders (of m) applying code k to u."""
    n_units = ones.shape[0]
    zeros = m - ones
    pair_agree = (ones * (ones - 1) + zeros * (zeros - 1)).sum(axis=0)
    p_o = pair_agree / (n_units * m * (m - 1))
    n1, n0 = ones.sum(axis=0).astype(float), zeros.sum(axis=0).astype(float)
    n = n1 + n0
    with np.errstate(divide="ignore", invalid="ignore"):
        # Krippendorff nominal α for binary values: 1 − (n − 1) o_01 / (n_0 n_1).
        o_01 = (ones * zeros).sum(axis=0) / (m - 1)
        alpha = np.where(n0 * n1 > 0, 1.0 - (n - 1) * o_01 / (n0 * n1), np.nan)
        alpha = np.where((n0 == 0) | (n1 == 0), 1.0, alpha)
        # Fleiss: P̄ = p_o; P̄_e from category proportions.
        p1 = n1 / n
        pe_f = p1 * p1 + (1 - p1) * (1 - p1)
        fleiss = np.where(pe_f < 1, (p_o - pe_f) / (1 - pe_f), 1.0)
    return {"p_o": p_o, "alpha": alpha, "fleiss": fleiss, "n1": n1}


def _cohen_parts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-code p_o and p_e for two boolean unit × code matrices."""
    n = a.shape[0]
    p_o = (a == b).sum(axis=0) / n
    pa, pb = a.mean(axis=0), b.mean(axis=0)
    p_e = pa * pb + (1 - pa) * (1 - pb)
    return p_o, p_e


def _kappa(p_o: np.ndarray, p_e: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p_e < 1, (p_o - p_e) / (1 - p_e), np.where(p_o == 1, 1.0, np.nan))


def turn_agreement(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript], *,
                   codes: Sequence[str] | None = None, coders: Sequence[str] | None = None,
                   sources: Sequence[str] | None = None, include_consensus: bool = False,
                   units: TurnUnits | None = None) -> pd.DataFrame:
    """One row per code plus a pooled row; units are speaker turns."""
    if coders is None and not include_consensus:
        coders = sorted({s.coder for s in segments} - {CONSENSUS})
    tu = units or turn_units(segments, transcripts, codes=codes, coders=coders, sources=sources)
    if len(tu.coders) < 2:
        raise ValidationError("agreement needs at least two coders", where="coders")
    if tu.applied.shape[0] == 0:
        raise ValidationError("there are no turns to compare", where="sources")
    applied = tu.applied
    m = applied.shape[2]
    ones = applied.sum(axis=2)
    stats = _binary_stats(ones, m)
    pairs = list(itertools.combinations(range(m), 2))
    parts = [_cohen_parts(applied[:, :, i], applied[:, :, j]) for i, j in pairs]
    p_o_pairs = np.stack([p for p, _ in parts])
    p_e_pairs = np.stack([e for _, e in parts])
    table = pd.DataFrame({
        "code": tu.codes,
        "units": applied.shape[0],
        "coded_by_any": applied.any(axis=2).sum(axis=0),
        "percent_agreement": stats["p_o"] * 100,
        "cohen_kappa": _kappa(p_o_pairs[0], p_e_pairs[0]) if m == 2 else np.nan,
        "mean_pairwise_kappa": _kappa(p_o_pairs, p_e_pairs).mean(axis=0),
        "fleiss_kappa": stats["fleiss"],
        "krippendorff_alpha": stats["alpha"],
    })
    stacked = _binary_stats(ones.reshape(-1, 1), m)
    p_o_mean, p_e_mean = p_o_pairs.mean(), p_e_pairs.mean()
    pooled_kappa = float(_kappa(np.array(p_o_mean), np.array(p_e_mean)))
    pooled = {"code": POOLED, "units": applied.shape[0] * len(tu.codes),
              "coded_by_any": int(applied.any(axis=2).sum()),
              "percent_agreement": float(stats["p_o"].mean() * 100),
              "cohen_kappa": pooled_kappa if m == 2 else np.nan,
              "mean_pairwise_kappa": pooled_kappa, "fleiss_kappa": float(stacked["fleiss"][0]),
              "krippendorff_alpha": float(stacked["alpha"][0])}
    table = pd.concat([table, pd.DataFrame([pooled])], ignore_index=True)
    table.attrs["coders"] = list(tu.coders)
    return table


def character_agreement(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript],
                        coder_a: str, coder_b: str, *, codes: Sequence[str] | None = None,
                        sources: Sequence[str] | None = None,
                        units: CharacterUnits | None = None) -> pd.DataFrame:
    """NVivo-style comparison of two coders, one row per code × source, plus per-code totals."""
    cu = units or character_units(segments, transcripts, codes=codes, coders=[coder_a, coder_b],
                                  sources=sources)
    a_i, b_i = cu.coders.index(coder_a), cu.coders.index(coder_b)
    total = np.broadcast_to(cu.length[:, None], cu.coded.shape[:2]).astype(float)
    a = cu.coded[:, :, a_i].astype(float)
    b = cu.coded[:, :, b_i].astype(float)
    both = cu.both[:, :, a_i, b_i].astype(float)
    frame = pd.DataFrame({
        "source": np.repeat(cu.sources, len(cu.codes)), "code": np.tile(cu.codes, len(cu.sources)),
        "characters": total.ravel(), "a": a.ravel(), "b": b.ravel(), "both": both.ravel()})
    by_code = frame.groupby("code", sort=False)[["characters", "a", "b", "both"]].sum().reset_index()
    by_code.insert(0, "source", POOLED)
    frame = pd.concat([frame, by_code], ignore_index=True)
    n, a, b, both = (frame[c].to_numpy() for c in ("characters", "a", "b", "both"))
    neither = n - a - b + both
    agreeing = both + neither
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = (a * b + (n - a) * (n - b)) / n  # NVivo's EF1 + EF2
        kappa = np.where(n - expected > 0, (agreeing - expected) / (n - expected), 1.0)
        union = a + b - both
        jaccard = np.where(union > 0, both / union, np.nan)
    frame["a_only"] = a - both
    frame["b_only"] = b - both
    frame["neither"] = neither
    frame["percent_agreement"] = np.where(n > 0, agreeing / n * 100, np.nan)
    frame["kappa"] = kappa
    frame["coded_overlap"] = jaccard
    frame = frame.rename(columns={"a": f"coded_{coder_a}", "b": f"coded_{coder_b}"})
    for column in frame.columns[2:]:
        if column not in {"percent_agreement", "kappa", "coded_overlap"}:
            frame[column] = frame[column].astype(np.int64)
    return frame


def disagreements(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript], *,
                  codes: Sequence[str] | None = None, coders: Sequence[str] | None = None,
                  sources: Sequence[str] | None = None, max_chars: int = 200) -> pd.DataFrame:
    """Turns where coders differ on a code: one row per (turn, code), a 0/1 column per coder."""
    if coders is None:
        coders = sorted({s.coder for s in segments} - {CONSENSUS})
    tu = turn_units(segments, transcripts, codes=codes, coders=coders, sources=sources)
    if len(tu.coders) < 2:
        raise ValidationError("disagreements need at least two coders", where="coders")
    ones = tu.applied.sum(axis=2)
    unit_i, code_i = np.nonzero((ones > 0) & (ones < len(tu.coders)))
    rows = tu.units.iloc[unit_i].reset_index(drop=True)
    out = rows[["source", "turn", "speaker"]].copy()
    out["code"] = np.asarray(tu.codes, dtype=object)[code_i]
    for c_i, coder in enumerate(tu.coders):
        out[coder] = tu.applied[unit_i, code_i, c_i].astype(int)
    out["text"] = [transcripts[s].text[a:b][:max_chars]
                   for s, a, b in zip(rows["source"], rows["start"], rows["end"], strict=True)]
    return out.sort_values(["source", "turn", "code"], kind="stable").reset_index(drop=True)


def consensus_by_majority(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript],
                          *, coders: Sequence[str] | None = None,
                          codes: Sequence[str] | None = None) -> list[CodedSegment]:
    """A proposed consensus layer: whole turns where more than half the coders applied a code.

    It is a starting point for the consensus meeting; edits to it are codings by ``CONSENSUS``.
    """
    if coders is None:
        coders = sorted({s.coder for s in segments} - {CONSENSUS})
    tu = turn_units(segments, transcripts, codes=codes, coders=coders)
    majority = tu.applied.sum(axis=2) * 2 > len(tu.coders)
    unit_i, code_i = np.nonzero(majority)
    out = []
    for u, k in zip(unit_i, code_i, strict=True):
        row = tu.units.iloc[int(u)]
        text = transcripts[row["source"]].text
        out.append(CodedSegment(row["source"], int(row["start"]), int(row["end"]), tu.codes[int(k)],
                                CONSENSUS, text[int(row["start"]):int(row["end"])],
                                provenance="consensus"))
    return out


def versus_consensus(segments: Sequence[CodedSegment], transcripts: Mapping[str, Transcript], *,
                     codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Pooled κ and percent agreement of each coder against the consensus layer."""
    coders = sorted({s.coder for s in segments} - {CONSENSUS})
    if not any(s.coder == CONSENSUS for s in segments):
        raise ValidationError("there is no consensus layer yet", where="coder 'consensus'")
    rows = []
    for coder in coders:
        table = turn_agreement(segments, transcripts, codes=codes, coders=[coder, CONSENSUS],
                               include_consensus=True)
        pooled = table[table["code"] == POOLED].iloc[0]
        rows.append({"coder": coder, "pooled_kappa": pooled["cohen_kappa"],
                     "percent_agreement": pooled["percent_agreement"]})
    return pd.DataFrame(rows)
