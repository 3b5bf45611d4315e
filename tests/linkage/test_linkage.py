"""Indirect linkage: accuracy on synthetic truth, SNDS-shaped files, custody by the trusted party."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from workbench.cli import main
from workbench.errors import ConflictError, ValidationError
from workbench.linkage.model import evaluate, link_cohort, snds_features
from workbench.linkage.run import run_snds_linkage
from workbench.linkage.snds import Extract, read_extract, synthetic_pair, write_extract
from workbench.participants.models import Participant
from workbench.runtime import open_operational
from workbench.settings import Settings
from workbench.storage.engine import session_scope
from workbench.studies import service as studies
from workbench.trusted_party import Identity, init_store, open_trusted_party
from workbench.trusted_party.links import decide, review_queue, run_summary
from workbench.trusted_party.schema import links, pseudonyms


def test_linkage_reaches_99_percent_precision_and_recall_on_synthetic_truth() -> None:
    study, extract, truth = synthetic_pair(4000, 8000, seed=7)
    result = link_cohort(study, snds_features(extract))
    scores = evaluate(result.links, truth)
    assert scores["precision"] >= 0.99 and scores["recall"] >= 0.99, scores
    assert result.links["study_id"].is_unique and result.links["snds_id"].is_unique
    weights = result.weights.set_index(["comparison", "level"])["match_weight"]
    assert weights[("stay_date", "Exact match on stay_date")] > weights[("sex", "Exact match on sex")] > 0
    assert result.model["link_type"] == "link_only"


def test_extract_files_round_trip_and_bad_files_name_where(tmp_path: Path) -> None:
    _, extract, _ = synthetic_pair(10, 50, seed=1)
    write_extract(extract, tmp_path / "x")
    again = read_extract(tmp_path / "x")
    assert len(again.beneficiaries) == 50 and len(snds_features(again)) == 50
    ben = (tmp_path / "x" / "IR_BEN_R.csv").read_text().splitlines()
    fields = ben[3].split(";")
    fields[2] = "9"  # BEN_SEX_COD
    ben[3] = ";".join(fields)
    (tmp_path / "x" / "IR_BEN_R.csv").write_text("\n".join(ben) + "\n")
    with pytest.raises(ValidationError, match=r"IR_BEN_R\.csv, row 4, column BEN_SEX_COD"):
        read_extract(tmp_path / "x")
    (tmp_path / "x" / "T_MCOB.csv").unlink()
    with pytest.raises(ValidationError, match=r"missing table file T_MCOB\.csv"):
        read_extract(tmp_path / "x")
    with pytest.raises(ValidationError, match="column sex is missing"):
        link_cohort(pd.DataFrame({"study_id": ["a"]}), snds_features(again))


def _world(settings: Settings, tmp_path: Path, n: int = 400) -> tuple[Path, dict[str, str]]:
    """A study of n participants known to the trusted party, and an extract holding most of them."""
    rng = np.random.default_rng(5)
    init_store(settings, actor="test")
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    names = ["".join(rng.choice(letters, 9)).capitalize() for _ in range(2 * n)]
    people = [Identity(names[2 * i], names[2 * i + 1], date(1940, 1, 1) + timedelta(days=int(rng.integers(0, 20000))),
                       "MF"[i % 2], postcode=f"{int(rng.integers(1, 95)):02d}{int(rng.integers(0, 999)):03d}")
              for i in range(n)]
    stays = [date(2022, 1, 1) + timedelta(days=int(rng.integers(0, 700))) for _ in range(n)]
    with open_trusted_party(settings) as tp:
        registered = tp.register_people(people, actor="test")
        codes = tp.pseudonyms([r.person for r in registered], "study:LINK", actor="test")
    engine = open_operational(settings)
    with session_scope(engine) as s:
        study = studies.create_study(s, "LINK", "Linkage study", actor="sm")
        s.add_all([Participant(study_id=study.id, pseudonym=c, inclusion_date=date(2023, 1, 1),
                               baseline={"stay_date": stays[i].isoformat()}) for i, c in enumerate(codes)])
    engine.dispose()
    inside = range(int(n * 0.8))
    truth = {codes[i]: f"B{i:016d}" for i in inside}
    extra = 3 * n
    ben = pd.DataFrame({
        "BEN_NIR_PSA": [truth[codes[i]] for i in inside] + [f"X{i:016d}" for i in range(extra)],
        "BEN_RNG_GEM": "1",
        "BEN_SEX_COD": [("1" if people[i].sex == "M" else "2") for i in inside] + list(rng.integers(1, 3, extra).astype(str)),
        "BEN_NAI_ANN": [str(people[i].birth_date.year) for i in inside] + list(rng.integers(1940, 1995, extra).astype(str)),
        "BEN_NAI_MOI": [str(people[i].birth_date.month) for i in inside] + list(rng.integers(1, 13, extra).astype(str)),
        "BEN_RES_DPT": [people[i].postcode[:2] for i in inside] + [f"{v:02d}" for v in rng.integers(1, 95, extra)],
    })
    starts = [pd.Timestamp(stays[i]) for i in inside] + list(pd.Timestamp("2022-01-01") + pd.to_timedelta(
        rng.integers(0, 700, extra), unit="D"))
    stays_frame = pd.DataFrame({"NIR_ANO_17": ben["BEN_NIR_PSA"], "ETA_NUM": "750000001",
                                "RSA_NUM": [str(i) for i in range(len(ben))], "EXE_SOI_DTD": starts,
                                "EXE_SOI_DTF": starts, "DGN_PAL": "C50"})
    claims = pd.DataFrame({"BEN_NIR_PSA": ben["BEN_NIR_PSA"][:5], "EXE_SOI_DTD": "2022-02-01", "PRS_NAT_REF": "1111"})
    folder = tmp_path / "EXTRACT-2026"
    write_extract(Extract(ben, stays_frame, claims), folder)
    return folder, truth


def test_run_keeps_links_with_the_trusted_party(settings: Settings, tmp_path: Path, capsys) -> None:
    folder, truth = _world(settings, tmp_path)
    engine = open_operational(settings)
    with open_trusted_party(settings) as tp, session_scope(engine) as s:
        summary = run_snds_linkage(s, tp, "LINK", folder, run_id="run-1", purpose="CNIL decision DR-2026-001",
                                   actor="ttp.operator")
        with pytest.raises(ConflictError, match="already exists"):
            run_snds_linkage(s, tp, "LINK", folder, run_id="run-1", purpose="again", actor="ttp.operator")
    engine.dispose()
    assert "B000" not in str(summary)  # no external id in what leaves the trusted party
    linked = summary["counts"]["linked"]
    with open_trusted_party(settings) as tp:
        with tp.engine.connect() as conn:
            rows = conn.execute(select(pseudonyms.c.pseudonym, links.c.external_id, links.c.status)
                                .join(links, links.c.person_id == pseudonyms.c.person_id)).all()
        correct = sum(1 for code, external, status in rows if status == "linked" and truth.get(code) == external)
        assert correct / len(truth) >= 0.97 and correct / linked >= 0.99
        queue = review_queue(tp, "run-1", actor="reviewer")
        if queue:
            decide(tp, queue[0]["id"], same_person=False, actor="reviewer")
            assert run_summary(tp, "run-1")["counts"].get("rejected") == 1
    import os
    os.environ["WESHARE_HOME"], os.environ["WESHARE_DATABASE_URL"] = str(settings.home), settings.database_url
    try:
        assert main(["link", "snds", "--study", "LINK", "--extract", str(folder), "--run", "run-2",
                     "--purpose", "CNIL decision DR-2026-001"]) == 0
    finally:
        del os.environ["WESHARE_HOME"], os.environ["WESHARE_DATABASE_URL"]
    out = capsys.readouterr().out
    assert "run run-2" in out and "stays with the trusted party" in out and "stay_date" in out
