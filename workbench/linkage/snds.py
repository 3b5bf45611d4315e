"""Tables shaped like the public SNDS schema, and a synthetic extract with a known truth.

Only the columns indirect linkage needs are read: the beneficiary referential ``IR_BEN_R``
(pseudonym, birth rank, sex, birth year and month, département and commune of residence) and
the PMSI MCO stays (``T_MCOaaC`` carries the patient pseudonym ``NIR_ANO_17`` and the stay dates,
``T_MCOaaB`` the main diagnosis). Outpatient claims (``ER_PRS_F``) are read for their dates.
Names follow schema-snds; values are generated, never real.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import ValidationError

__all__ = ["REQUIRED", "Extract", "read_extract", "synthetic_pair", "write_extract"]

REQUIRED = {
    "IR_BEN_R": ("BEN_NIR_PSA", "BEN_RNG_GEM", "BEN_SEX_COD", "BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_RES_DPT"),
    "T_MCOC": ("NIR_ANO_17", "ETA_NUM", "RSA_NUM", "EXE_SOI_DTD", "EXE_SOI_DTF"),
    "T_MCOB": ("ETA_NUM", "RSA_NUM", "DGN_PAL"),
    "ER_PRS_F": ("BEN_NIR_PSA", "EXE_SOI_DTD", "PRS_NAT_REF"),
}
CANCER_CODES = ("C50", "C18", "C34", "C61", "C56", "C43", "C64", "C67")
ESTABLISHMENTS = 1_000  # hospitals treating cancer in France: the order of magnitude


@dataclass
class Extract:
    beneficiaries: pd.DataFrame
    stays: pd.DataFrame  # T_MCOC joined with T_MCOB
    claims: pd.DataFrame


def read_extract(folder: Path) -> Extract:
    """Read ``IR_BEN_R.csv``, ``T_MCOC.csv``, ``T_MCOB.csv`` and ``ER_PRS_F.csv`` (``;``-separated)."""
    frames = {}
    for table, columns in REQUIRED.items():
        path = Path(folder) / f"{table}.csv"
        if not path.is_file():
            raise ValidationError(f"missing table file {path.name}", where=str(folder))
        try:
            frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read as CSV ({exc})", where=str(path)) from None
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValidationError(f"column {missing[0]} is missing", where=str(path))
        frames[table] = frame
    ben = frames["IR_BEN_R"]
    for column, low, high in (("BEN_SEX_COD", 1, 2), ("BEN_NAI_MOI", 1, 12), ("BEN_NAI_ANN", 1900, 2030)):
        values = pd.to_numeric(ben[column], errors="coerce")
        bad = values.isna() | (values < low) | (values > high)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValidationError(f"{ben[column].iloc[row]!r} is not a valid code",
                                  where=f"IR_BEN_R.csv, row {row + 2}, column {column}")
    stays = frames["T_MCOC"].merge(frames["T_MCOB"], on=["ETA_NUM", "RSA_NUM"], how="left")
    for column in ("EXE_SOI_DTD", "EXE_SOI_DTF"):
        parsed = pd.to_datetime(stays[column], format="%Y-%m-%d", errors="coerce")
        if parsed.isna().any():
            row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
            raise ValidationError("dates are YYYY-MM-DD", where=f"T_MCOC.csv, stay {row + 1}, column {column}")
        stays[column] = parsed
    return Extract(ben, stays, frames["ER_PRS_F"])


def write_extract(extract: Extract, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    extract.beneficiaries.to_csv(folder / "IR_BEN_R.csv", sep=";", index=False)
    stays = extract.stays.copy()
    for column in ("EXE_SOI_DTD", "EXE_SOI_DTF"):
        stays[column] = pd.to_datetime(stays[column]).dt.strftime("%Y-%m-%d")
    stays[list(REQUIRED["T_MCOC"])].to_csv(folder / "T_MCOC.csv", sep=";", index=False)
    stays[list(REQUIRED["T_MCOB"])].to_csv(folder / "T_MCOB.csv", sep=";", index=False)
    extract.claims.to_csv(folder / "ER_PRS_F.csv", sep=";", index=False)


def synthetic_pair(study_size: int, snds_size: int, *, seed: int = 0, overlap: float = 0.9,
                   noise: float = 0.05) -> tuple[pd.DataFrame, Extract, pd.DataFrame]:
    """A study cohort, an SNDS-shaped extract and the true links between them.

    ``overlap`` of the study participants are in the extract. ``noise`` is the share of each
    recorded attribute that disagrees (moved département, stay recorded a day off, missing birth
    month), as in real indirect linkage. Stays carry the establishment (FINESS) and the main
    diagnosis, which the study also records: the CNAM asks for them because they discriminate.
    """
    rng = np.random.default_rng(seed)
    n = snds_size
    sex = rng.integers(1, 3, n)
    year = rng.integers(1930, 2000, n)
    month = rng.integers(1, 13, n)
    dpt = np.char.zfill(rng.integers(1, 96, n).astype(str), 2)
    stay_day = rng.integers(0, 3 * 365, n)
    start = np.datetime64("2021-01-01") + stay_day.astype("timedelta64[D]")
    ids = np.char.add("N", np.char.zfill(np.arange(n).astype(str), 16))
    ben = pd.DataFrame({"BEN_NIR_PSA": ids, "BEN_RNG_GEM": "1", "BEN_SEX_COD": sex.astype(str),
                        "BEN_NAI_ANN": year.astype(str), "BEN_NAI_MOI": month.astype(str), "BEN_RES_DPT": dpt})
    finess = np.char.add("75", np.char.zfill(rng.integers(0, ESTABLISHMENTS, n).astype(str), 7))
    diagnosis = rng.choice(CANCER_CODES, n)
    stays = pd.DataFrame({"NIR_ANO_17": ids, "ETA_NUM": finess,
                          "RSA_NUM": np.arange(n).astype(str), "EXE_SOI_DTD": start,
                          "EXE_SOI_DTF": start + rng.integers(0, 10, n).astype("timedelta64[D]"),
                          "DGN_PAL": diagnosis})
    claims = pd.DataFrame({"BEN_NIR_PSA": ids[: min(n, 1000)], "EXE_SOI_DTD": "2022-01-01",
                           "PRS_NAT_REF": "1111"})
    inside = round(study_size * overlap)
    chosen = rng.choice(n, inside, replace=False)
    outsiders = study_size - inside
    # Study participants outside the extract have their own random attributes.
    o_sex, o_year, o_month = rng.integers(1, 3, outsiders), rng.integers(1930, 2000, outsiders), rng.integers(1, 13, outsiders)
    o_dpt = np.array([f"{v:02d}" for v in rng.integers(1, 96, outsiders)], dtype=str)
    o_stay = np.datetime64("2021-01-01") + rng.integers(0, 3 * 365, outsiders).astype("timedelta64[D]")
    o_finess = np.char.add("75", np.char.zfill(rng.integers(0, ESTABLISHMENTS, outsiders).astype(str), 7))
    o_dgn = rng.choice(CANCER_CODES, outsiders)
    study = pd.DataFrame({
        "study_id": np.char.add("S", np.char.zfill(np.arange(study_size).astype(str), 9)),
        "sex": np.concatenate([sex[chosen], o_sex]).astype(str),
        "birth_year": np.concatenate([year[chosen], o_year]).astype(str),
        "birth_month": np.concatenate([month[chosen], o_month]).astype(str),
        "dpt": np.concatenate([dpt[chosen], o_dpt]),
        "stay_date": np.concatenate([start[chosen], o_stay]),
        "finess": np.concatenate([finess[chosen], o_finess]),
        "diagnosis": np.concatenate([diagnosis[chosen], o_dgn]),
    })
    flip = rng.random((study_size, 3)) < noise
    if flip[:, 0].any():
        study.loc[flip[:, 0], "dpt"] = np.char.zfill(rng.integers(1, 96, int(flip[:, 0].sum())).astype(str), 2)
    study.loc[flip[:, 1], "stay_date"] = study.loc[flip[:, 1], "stay_date"] + pd.to_timedelta(
        rng.choice([-2, -1, 1, 2], int(flip[:, 1].sum())), unit="D")
    study.loc[flip[:, 2], "birth_month"] = ""
    truth = pd.DataFrame({"study_id": study["study_id"].iloc[:inside].to_numpy(), "snds_id": ids[chosen]})
    return study, Extract(ben, stays, claims), truth
