"""Item structure of the generated instruments, and latent scores → item answers.

Only structure and scoring rules are here (item numbers, scales, code ranges), never item
wording: the EORTC QLQ-C30 texts are licensed. A latent scale score becomes item codes through
the inverse of the scoring formula plus item noise, rounding and clipping, so scoring the items
(half rule, 0–100 transforms) gives back the latent score up to that noise. Calibration then
finds, for each scale, the latent mean and spread whose *scored* distribution matches the
reference values despite floor and ceiling effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# scale code → (kind, item numbers), as scored: one definition, so generated answers score back.
from workbench.instruments.scoring import QLQ_C30_SCALES

__all__ = [
    "GAD7_OFFSETS",
    "HEALTH_LOADING",
    "INSTRUMENTS",
    "PHQ9_OFFSETS",
    "QLQ_C30_SCALES",
    "SCALE_ORDER",
    "Calibration",
    "calibrate",
    "gad7_items",
    "phq9_items",
    "qlq_c30_items",
    "true_scores",
]

SCALE_ORDER: tuple[str, ...] = tuple(QLQ_C30_SCALES)

# How strongly each scale follows the general health factor (the rest is scale-specific), so
# global health, physical function and fatigue move together while diarrhoea barely does.
HEALTH_LOADING: dict[str, float] = {
    "QL2": 0.85, "PF2": 0.75, "RF2": 0.70, "EF": 0.60, "CF": 0.50, "SF": 0.65, "FA": 0.80,
    "NV": 0.40, "PA": 0.60, "DY": 0.45, "SL": 0.40, "AP": 0.55, "CO": 0.30, "DI": 0.25,
    "FI": 0.35,
}

# Instrument → number of items; codes are 1–4 / 1–7 for QLQ-C30 and 0–3 for PHQ-9 and GAD-7.
INSTRUMENTS: dict[str, int] = {"QLQ-C30": 30, "PHQ-9": 9, "GAD-7": 7}

# Item intensity offsets (code units): fatigue and sleep items are endorsed more often in
# cancer, item 9 (self-harm thoughts) far less.
PHQ9_OFFSETS = np.array([0.0, 0.0, 0.35, 0.55, 0.10, -0.25, -0.05, -0.50, -1.60])
GAD7_OFFSETS = np.array([0.20, 0.0, 0.20, 0.05, -0.40, 0.0, -0.15])
_QLQ_NOISE = {3: 0.45, 6: 0.70}
_PRO_NOISE = 0.55

_KIND = np.array([QLQ_C30_SCALES[s][0] for s in SCALE_ORDER])
_IS_SYMPTOM = _KIND == "symptom"
_ITEM_SCALE = np.empty(30, dtype=np.intp)
for _index, _scale in enumerate(SCALE_ORDER):
    for _item in QLQ_C30_SCALES[_scale][1]:
        _ITEM_SCALE[_item - 1] = _index
_ITEM_RANGE = np.where(np.arange(1, 31) >= 29, 6, 3).astype(np.float32)
_ITEM_REVERSED = np.array([_KIND[_ITEM_SCALE[i]] == "functional" for i in range(30)])
_ITEM_NOISE = np.array([_QLQ_NOISE[int(r)] for r in _ITEM_RANGE], dtype=np.float32)


@dataclass(frozen=True)
class Calibration:
    """Latent mean and spread per QLQ-C30 scale (score units) and per PRO total (code units)."""

    qlq_mean: np.ndarray
    qlq_sd: np.ndarray
    phq9: tuple[float, float]
    gad7: tuple[float, float]


def true_scores(y: np.ndarray, cal: Calibration) -> np.ndarray:
    """Latent 0–100 scale scores (columns in ``SCALE_ORDER``) from standardised health ``y``.

    ``y`` is oriented "higher is better" for every scale; symptom scores are flipped here.
    """
    signed = np.where(_IS_SYMPTOM, -y, y)
    return cal.qlq_mean + cal.qlq_sd * signed


def qlq_c30_items(y: np.ndarray, cal: Calibration, rng: np.random.Generator) -> np.ndarray:
    """30 item codes per row (int8; 1–4 for items 1–28, 1–7 for items 29–30)."""
    score = true_scores(y, cal).astype(np.float32)[:, _ITEM_SCALE]
    frac = score / np.float32(100)
    frac = np.where(_ITEM_REVERSED, np.float32(1) - frac, frac)
    noise = rng.standard_normal(score.shape, dtype=np.float32) * _ITEM_NOISE
    codes = np.rint(np.float32(1) + _ITEM_RANGE * frac + noise)
    return np.clip(codes, 1, 1 + _ITEM_RANGE).astype(np.int8)


def _pro_items(latent: np.ndarray, mean_sd: tuple[float, float], offsets: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    mean, sd = mean_sd
    cont = (mean + sd * latent)[:, None] + offsets[None, :]
    noise = rng.standard_normal(cont.shape, dtype=np.float32) * np.float32(_PRO_NOISE)
    return np.clip(np.rint(cont.astype(np.float32) + noise), 0, 3).astype(np.int8)


def phq9_items(distress: np.ndarray, cal: Calibration, rng: np.random.Generator) -> np.ndarray:
    """9 PHQ-9 item codes 0–3 per row from standardised depressive symptoms (higher = worse)."""
    return _pro_items(distress, cal.phq9, PHQ9_OFFSETS, rng)


def gad7_items(anxiety: np.ndarray, cal: Calibration, rng: np.random.Generator) -> np.ndarray:
    """7 GAD-7 item codes 0–3 per row from standardised anxiety (higher = worse)."""
    return _pro_items(anxiety, cal.gad7, GAD7_OFFSETS, rng)


def _score_scale(codes: np.ndarray, kind: str) -> np.ndarray:
    """Scoring-manual transform of complete items (calibration only; no missing items here)."""
    raw = codes.mean(axis=1)
    if kind == "functional":
        return (1 - (raw - 1) / 3) * 100
    return (raw - 1) / (6 if kind == "global" else 3) * 100


def _fit(target: tuple[float, float], simulate: Callable[[float, float], np.ndarray],
         start: tuple[float, float], per_unit: float = 1.0) -> tuple[float, float]:
    """Fixed-point search for (mean, sd) whose simulated scores hit ``target`` (mean, sd).

    ``per_unit`` is how much the simulated mean moves per unit of ``mean`` (9 for a 9-item sum).
    """
    mean, sd = start
    for _ in range(80):
        scores = simulate(mean, sd)
        got_mean, got_sd = float(scores.mean()), float(scores.std())
        if abs(got_mean - target[0]) < 0.01 * target[1] and abs(got_sd - target[1]) < 0.01 * target[1]:
            break
        mean += (target[0] - got_mean) / per_unit
        sd *= float(np.clip(target[1] / max(got_sd, 1e-9), 0.6, 1.6))
    return mean, sd


def calibrate(qlq_reference: tuple[tuple[str, float, float], ...],
              phq9: tuple[float, float], gad7: tuple[float, float],
              n: int = 20_000) -> Calibration:
    """Solve the latent parameters once per spec (deterministic: its own fixed seed)."""
    rng = np.random.default_rng(20260601)
    y = rng.standard_normal(n)
    targets = {scale: (mean, sd) for scale, mean, sd in qlq_reference}
    means, sds = np.empty(len(SCALE_ORDER)), np.empty(len(SCALE_ORDER))
    for index, scale in enumerate(SCALE_ORDER):
        kind, items = QLQ_C30_SCALES[scale]
        width = 6 if kind == "global" else 3
        noise = rng.standard_normal((n, len(items))) * _QLQ_NOISE[width]
        sign = -1.0 if kind == "symptom" else 1.0

        def simulate(mean: float, sd: float, *, kind: str = kind, width: int = width,
                     noise: np.ndarray = noise, sign: float = sign) -> np.ndarray:
            frac = (mean + sd * sign * y) / 100
            frac = 1 - frac if kind == "functional" else frac
            codes = np.clip(np.rint(1 + width * frac[:, None] + noise), 1, 1 + width)
            return _score_scale(codes, kind)

        means[index], sds[index] = _fit(targets[scale], simulate, targets[scale])

    def pro_fit(target: tuple[float, float], offsets: np.ndarray) -> tuple[float, float]:
        noise = rng.standard_normal((n, offsets.size)) * _PRO_NOISE

        def simulate(mean: float, sd: float) -> np.ndarray:
            cont = (mean + sd * y)[:, None] + offsets[None, :] + noise
            return np.clip(np.rint(cont), 0, 3).sum(axis=1)

        per_item = target[0] / offsets.size
        return _fit(target, simulate, (per_item, target[1] / offsets.size * 1.5),
                    per_unit=offsets.size)

    return Calibration(means, sds, pro_fit(phq9, PHQ9_OFFSETS), pro_fit(gad7, GAD7_OFFSETS))
