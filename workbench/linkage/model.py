"""Indirect linkage with Splink (Fellegi–Sunter on DuckDB): train, predict, one-to-one, evaluate.

The comparisons are the ones the CNAM uses for indirect matching: sex, birth year and month,
département of residence, and hospital stay dates, which are what make a person stand out.
Models are unsupervised (u by random sampling, m by EM on two blocking rules so every comparison
is estimated once); the trained model is kept as JSON with each run for provenance. Pairs whose
evidence reaches ``accept`` bits are links; pairs between ``review`` and ``accept`` go to clerical
review; each study
participant and each beneficiary is linked at most once (best pair first).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.errors import ValidationError
from workbench.linkage.snds import Extract

__all__ = ["LinkResult", "compared_values", "evaluate", "link_cohort", "snds_features"]

STUDY_COLUMNS = ("study_id", "sex", "birth_year", "birth_month", "dpt", "stay_date")
OPTIONAL_COLUMNS = ("finess", "diagnosis")  # blank when the study did not record them
STAY_THRESHOLDS = (2, 31)  # days: the stay date levels after an exact match


@dataclass
class LinkResult:
    links: pd.DataFrame  # study_id, snds_id, match_probability, match_weight, evidence_bits
    review: pd.DataFrame  # same columns + ``comparisons``: uncertain pairs for clerical review
    model: dict[str, Any]  # Splink settings with trained m/u
    weights: pd.DataFrame  # comparison, level, m, u, match weight
    pairs_scored: int
    extra: dict[str, Any] = field(default_factory=dict)


def snds_features(extract: Extract, *, cancer_only: bool = True) -> pd.DataFrame:
    """One row per beneficiary and hospital stay, with the linkage variables."""
    stays = extract.stays
    if cancer_only:
        stays = stays[stays["DGN_PAL"].fillna("").str.upper().str.startswith("C")]
    ben = extract.beneficiaries.drop_duplicates("BEN_NIR_PSA")  # PMSI has no birth rank
    merged = stays.merge(ben, left_on="NIR_ANO_17", right_on="BEN_NIR_PSA", how="inner")
    return pd.DataFrame({
        "snds_id": merged["BEN_NIR_PSA"].to_numpy(),
        "sex": merged["BEN_SEX_COD"].astype(str).to_numpy(),
        "birth_year": merged["BEN_NAI_ANN"].astype(str).to_numpy(),
        "birth_month": merged["BEN_NAI_MOI"].astype(str).to_numpy(),
        "dpt": merged["BEN_RES_DPT"].astype(str).to_numpy(),
        "stay_date": pd.to_datetime(merged["EXE_SOI_DTD"]).dt.strftime("%Y-%m-%d").to_numpy(),
        "finess": merged["ETA_NUM"].astype(str).to_numpy(),
        "diagnosis": merged["DGN_PAL"].fillna("").astype(str).str.slice(0, 3).to_numpy(),
    })


def _prepare(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    out = frame.rename(columns={key: "record_key"})  # both sides need the same columns
    out["unique_id"] = out["record_key"].astype(str) + "#" + pd.Series(range(len(out)), index=out.index).astype(str)
    out = out.drop(columns="record_key")
    for column in OPTIONAL_COLUMNS:
        if column not in out.columns:
            out[column] = ""
    out["diagnosis"] = out["diagnosis"].fillna("").astype(str).str.upper().str.slice(0, 3)
    for column in ("sex", "birth_year", "birth_month", "dpt", *OPTIONAL_COLUMNS):
        out[column] = out[column].astype(str).replace({"": None, "nan": None, "None": None})
    out["stay_date"] = pd.to_datetime(out["stay_date"], errors="coerce").dt.strftime("%Y-%m-%d")
    out["stay_month"] = out["stay_date"].str.slice(0, 7)
    return out


def _settings(optional: tuple[str, ...]) -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="link_only", unique_id_column_name="unique_id",
        comparisons=[
            cl.ExactMatch("sex"), cl.ExactMatch("birth_year"), cl.ExactMatch("birth_month"),
            cl.ExactMatch("dpt"), *(cl.ExactMatch(c) for c in optional),
            cl.AbsoluteDateDifferenceAtThresholds("stay_date", input_is_string=True, metrics=["day", "day"],
                                                  thresholds=list(STAY_THRESHOLDS)),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("stay_date", "birth_year"),
            block_on("birth_year", "birth_month", "sex", "dpt"),
            block_on("birth_year", "sex", "dpt", "stay_month"),
            block_on("birth_year", "birth_month", "sex", "stay_month"),
        ],
        retain_intermediate_calculation_columns=False, retain_matching_columns=False,
    )


def link_cohort(study: pd.DataFrame, snds: pd.DataFrame, *, accept: float = 14.0, review: float = 8.0,
                seed: int = 1, u_pairs: float = 2e6) -> LinkResult:
    """Link ``study`` (columns ``STUDY_COLUMNS``) with ``snds_features`` rows.

    ``accept`` and ``review`` are thresholds on the evidence of a pair in bits (the sum of its
    comparisons' match weights, without the prior): unlike a match probability they do not drift
    with the size of the files, so one setting serves 1,000 and 1,000,000 records.
    """
    missing = [c for c in STUDY_COLUMNS if c not in study.columns]
    if missing:
        raise ValidationError(f"column {missing[0]} is missing", where="study linkage variables")
    if not review <= accept:
        raise ValidationError("the review threshold must not exceed the accept threshold",
                              where="linkage thresholds")
    if study.empty or snds.empty:
        raise ValidationError("nothing to link: one side is empty", where="linkage")
    from splink import Linker, block_on
    from splink.backends.duckdb import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    db = DuckDBAPI()
    # a variable the study did not record is left out of the model rather than compared as blank
    optional = tuple(c for c in OPTIONAL_COLUMNS
                     if c in study.columns and study[c].fillna("").astype(str).str.strip().ne("").any())
    columns = ["unique_id", *STUDY_COLUMNS[1:], *optional, "stay_month"]
    study_side = _prepare(study[[*STUDY_COLUMNS, *optional]], "study_id")[columns]
    snds_side = _prepare(snds, "snds_id")[columns]
    left = db.register(study_side, table_name="study_side")
    right = db.register(snds_side, table_name="snds_side")
    linker = Linker([left, right], _settings(optional), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("sex", "birth_year", "birth_month", "dpt", "stay_date")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    # Each comparison is estimated in a session whose blocking rule does not use it.
    third = ("stay_date", "dpt", "diagnosis") if "diagnosis" in optional else ("stay_date", "dpt")
    for rule in (("stay_date", "birth_year"), ("dpt", "birth_month", "sex", "birth_year"), third):
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    model = json.loads(json.dumps(linker.misc.save_model_to_json(), default=str))
    lam = float(model["probability_two_random_records_match"])
    prior = math.log2(lam / (1 - lam))
    scored = linker.inference.predict(threshold_match_weight=prior + review)
    pairs = scored.as_pandas_dataframe()
    total = len(pairs)
    study_left = (pairs["source_dataset_l"] == "study_side").to_numpy()
    left = pairs["unique_id_l"].str.rsplit("#", n=1).str[0]
    right = pairs["unique_id_r"].str.rsplit("#", n=1).str[0]
    pairs = pd.DataFrame({
        "study_id": left.where(study_left, right), "snds_id": right.where(study_left, left),
        "match_probability": pairs["match_probability"], "match_weight": pairs["match_weight"],
        "evidence_bits": pairs["match_weight"] - prior,
        "study_uid": pairs["unique_id_l"].where(study_left, pairs["unique_id_r"]),
        "snds_uid": pairs["unique_id_r"].where(study_left, pairs["unique_id_l"]),
    }).sort_values("match_weight", ascending=False)
    # one-to-one: a beneficiary's several stays count once, then best pair first on both sides
    pairs = pairs.drop_duplicates(["study_id", "snds_id"])
    best = pairs.drop_duplicates("study_id").drop_duplicates("snds_id")
    links = best[best["evidence_bits"] >= accept].reset_index(drop=True).drop(columns=["study_uid", "snds_uid"])
    uncertain = best[best["evidence_bits"] < accept].reset_index(drop=True)
    uncertain["comparisons"] = compared_values(uncertain, study_side, snds_side, model)
    uncertain = uncertain.drop(columns=["study_uid", "snds_uid"])
    return LinkResult(links, uncertain, model, _weights(model), total,
                      {"prior_bits": prior, "accept_bits": accept, "review_bits": review})


def _level_weights(model: dict[str, Any]) -> dict[str, list[tuple[str, float]]]:
    """Per comparison, its non-null levels (best first) as (label, match weight in bits)."""
    out: dict[str, list[tuple[str, float]]] = {}
    for comparison in model.get("comparisons", []):
        levels = []
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else float("nan")
            levels.append((str(level.get("label_for_charts")), weight))
        out[str(comparison.get("output_column_name"))] = levels
    return out


def _level(column: str, study: str | None, snds: str | None, count: int) -> int | None:
    """Index of the level a pair falls in (as the comparisons in ``_settings`` define them)."""
    if study is None or snds is None:
        return None
    if column != "stay_date":
        return 0 if study == snds else count - 1
    days = abs((pd.Timestamp(study) - pd.Timestamp(snds)).days)
    if days == 0:
        return 0
    for n, limit in enumerate(STAY_THRESHOLDS, start=1):
        if days <= limit:
            return n
    return count - 1


def compared_values(pairs: pd.DataFrame, study_side: pd.DataFrame, snds_side: pd.DataFrame,
                    model: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """For each pair, every comparison side by side: both values, the level and its match weight.

    This is what a clerical reviewer weighs; the values are quasi-identifiers (sex, birth year and
    month, département, stay date, establishment, diagnosis), never a name or an identifier.
    """
    levels = _level_weights(model)
    study_rows = study_side.set_index("unique_id")
    snds_rows = snds_side.set_index("unique_id")
    out = []
    for study_uid, snds_uid in zip(pairs["study_uid"], pairs["snds_uid"], strict=True):
        a, b = study_rows.loc[study_uid], snds_rows.loc[snds_uid]
        shown = []
        for column, options in levels.items():
            left, right = (None if pd.isna(x) else str(x) for x in (a[column], b[column]))
            index = _level(column, left, right, len(options))
            label, weight = ("missing on one side", 0.0) if index is None else options[index]
            shown.append({"comparison": column, "study": left, "snds": right, "level": label,
                          "weight": None if math.isnan(weight) else round(weight, 4)})
        out.append(shown)
    return out


def _weights(model: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None or level.get("is_null_level"):
                continue
            rows.append({"comparison": comparison.get("output_column_name"), "level": level.get("label_for_charts"),
                         "m": m, "u": u, "match_weight": math.log2(m / u) if m > 0 and u > 0 else float("nan")})
    return pd.DataFrame(rows)


def evaluate(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Precision and recall of accepted links against a known truth (synthetic data)."""
    found = set(zip(links["study_id"], links["snds_id"], strict=True))
    real = set(zip(truth["study_id"], truth["snds_id"], strict=True))
    hits = len(found & real)
    return {"links": len(found), "true_links": len(real), "correct": hits,
            "precision": hits / len(found) if found else 0.0, "recall": hits / len(real) if real else 0.0}
