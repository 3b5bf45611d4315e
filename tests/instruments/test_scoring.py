"""Scoring against the worked vectors of the research notes (QoL science §8), and bad codes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.cli import main
from workbench.errors import ValidationError
from workbench.instruments import proctcae
from workbench.instruments.scoring import score_frame, score_response

VECTOR_C = [1, 2, 2, 1, 1, 2, 3, 2, 3, 3, 4, 2, 2, 1, 1, 1, 2, 3, 2, 2, 2, 3, 2, 2, 1, 2, 2, 3, 4, 5]
EXPECTED_C = {"QL2": 58.333, "PF2": 86.667, "RF2": 50.0, "EF": 58.333, "CF": 83.333, "SF": 66.667,
              "FA": 55.556, "NV": 0.0, "PA": 50.0, "DY": 33.333, "SL": 100.0, "AP": 33.333, "CO": 0.0,
              "DI": 33.333, "FI": 66.667, "SUMMARY": 64.573}
FUNCTIONAL = {"PF2", "RF2", "EF", "CF", "SF"}


def qlq(codes: list[int | None]) -> dict[str, int | None]:
    return {f"q{i}": c for i, c in enumerate(codes, start=1)}


@pytest.mark.parametrize(("items", "global_", "functional", "symptom", "summary"), [
    (1, 7, 100.0, 0.0, 100.0),  # vector A
    (4, 1, 0.0, 100.0, 0.0),  # vector B
    (2, 4, 66.667, 33.333, 66.667),  # vector E
])
def test_qlq_c30_extreme_and_flat_vectors(items, global_, functional, symptom, summary) -> None:
    scores = score_response("qlq-c30", qlq([items] * 28 + [global_] * 2))
    assert scores["QL2"] == pytest.approx({7: 100.0, 1: 0.0, 4: 50.0}[global_], abs=1e-3)
    for code, value in scores.items():
        if code in FUNCTIONAL:
            assert value == pytest.approx(functional, abs=1e-3)
        elif code not in ("QL2", "SUMMARY"):
            assert value == pytest.approx(symptom, abs=1e-3), code
    assert scores["SUMMARY"] == pytest.approx(summary, abs=1e-3)


def test_qlq_c30_mixed_vector_c() -> None:
    scores = score_response("qlq-c30", qlq(VECTOR_C))
    assert scores == pytest.approx(EXPECTED_C, abs=1e-3)


def test_qlq_c30_half_rule_vector_d() -> None:
    codes: list[int | None] = list(VECTOR_C)
    for item in (4, 5, 11, 12, 18, 23, 24, 25, 30):
        codes[item - 1] = None
    scores = score_response("qlq-c30", qlq(codes))
    assert scores["PF2"] == pytest.approx(77.778, abs=1e-3)
    assert scores["EF"] == pytest.approx(50.0)  # exactly half answered is enough
    assert scores["CF"] == pytest.approx(66.667, abs=1e-3)
    assert scores["QL2"] == pytest.approx(50.0)
    assert scores["FA"] is None and scores["SL"] is None  # fewer than half
    assert scores["SUMMARY"] is None  # all 13 scales are required
    for code in ("RF2", "SF", "NV", "PA", "DY", "AP", "CO", "DI", "FI"):
        assert scores[code] == pytest.approx(EXPECTED_C[code], abs=1e-3)


@pytest.mark.parametrize(("answers", "total", "band", "flag"), [
    ([0] * 9, 0, "minimal", 0), ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal", 0),
    ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild", 0), ([2, 2, 1, 1, 1, 1, 1, 1, 0], 10, "moderate", 0),
    ([3, 3, 2, 2, 2, 1, 1, 0, 1], 15, "moderately severe", 1),
    ([3, 3, 3, 3, 2, 2, 2, 2, 0], 20, "severe", 0), ([0, 0, 0, 0, 0, 0, 0, 0, 1], 1, "minimal", 1),
])
def test_phq9(answers, total, band, flag) -> None:
    scores = score_response("phq-9", {f"q{i}": a for i, a in enumerate(answers, start=1)})
    assert (scores["TOTAL"], scores["SEVERITY"], scores["ITEM9_FLAG"], scores["MISSING"]) == (total, band, flag, 0)


def test_phq9_needs_all_nine_but_item9_flag_stands_alone() -> None:
    scores = score_response("phq-9", {"q1": 3, "q9": 2})
    assert scores["TOTAL"] is None and scores["SEVERITY"] is None
    assert scores["ITEM9_FLAG"] == 1 and scores["MISSING"] == 7


@pytest.mark.parametrize(("answers", "total", "band"), [
    ([0, 1, 1, 1, 0, 1, 0], 4, "minimal"), ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
    ([2, 2, 2, 2, 1, 1, 0], 10, "moderate"), ([3, 3, 3, 2, 2, 1, 1], 15, "severe"),
    ([3] * 7, 21, "severe"),
])
def test_gad7(answers, total, band) -> None:
    scores = score_response("gad-7", {f"q{i}": a for i, a in enumerate(answers, start=1)})
    assert (scores["TOTAL"], scores["SEVERITY"]) == (total, band)


@pytest.mark.parametrize(("answers", "raw", "poor", "depression", "low"), [
    ([5] * 5, 25, 0, 0, 0), ([3] * 5, 15, 0, 0, 0), ([3, 3, 3, 3, 1], 13, 0, 0, 1),
    ([2, 2, 3, 2, 3], 12, 1, 0, 0), ([1, 2, 1, 2, 1], 7, 1, 1, 1), ([0] * 5, 0, 1, 1, 1),
])
def test_who5(answers, raw, poor, depression, low) -> None:
    scores = score_response("who-5", {f"q{i}": a for i, a in enumerate(answers, start=1)})
    assert (scores["RAW"], scores["PERCENT"]) == (raw, raw * 4)
    assert (scores["POOR_WELLBEING"], scores["LIKELY_DEPRESSION"], scores["LOW_ITEM"]) == (poor, depression, low)


def test_esas_r() -> None:
    scores = score_response("esas-r", {f"q{i}": a for i, a in enumerate([3, 6, 2, 0, 4, 1, 2, 5, 4], start=1)})
    assert scores == {"TOTAL": 27, "PHYSICAL": 16, "EMOTIONAL": 7, "MODERATE_COUNT": 4, "SEVERE_COUNT": 0}


@pytest.mark.parametrize(("answers", "grade"), [
    ({"ae17_f": 0}, 0), ({"ae9_f": 2, "ae9_s": 2}, 2), ({"ae3_s": 3, "ae3_i": 1}, 2),
    ({"ae17_f": 4, "ae17_s": 1, "ae17_i": 4}, 3), ({"ae17_f": 1, "ae17_s": 2, "ae17_i": 0}, 1),
    ({"ae1_s": 4}, 3), ({"ae16_f": 3}, 2), ({"ae27_a": 4}, 2),
])
def test_pro_ctcae_composite_examples(answers, grade) -> None:
    number = next(iter(answers)).split("_")[0].upper()
    frame = score_frame("pro-ctcae", pd.DataFrame([answers]))
    assert frame[number].iloc[0] == grade
    assert [c for c in frame.columns if c.startswith("AE")] == [number]  # only the asked AEs


def test_pro_ctcae_table_has_179_combinations_and_missing_later_attribute() -> None:
    singles = sum(proctcae.composite_lut(g).size for g in ("f", "s", "a"))
    pairs = sum(proctcae.composite_lut(g)[1:, :].size + 1 for g in ("fs", "fi", "si"))  # + first = 0
    triple = proctcae.composite_lut("fsi")[1:, :, :].size + 1
    assert singles + pairs + triple == 179  # as counted in Basch 2021
    lut = proctcae.composite_lut("fsi")
    assert (np.diff(lut[1:], axis=2) >= 0).all()  # more interference never lowers the grade
    assert set(np.unique(lut)) <= {0, 1, 2, 3}
    frame = score_frame("pro-ctcae", pd.DataFrame([{"ae9_f": 2, "ae9_s": None}]))
    assert math.isnan(frame["AE9"].iloc[0])  # asked but unanswered: no grade


@pytest.mark.parametrize(("value", "column"), [("5", "q3"), ("0", "q3"), ("2.5", "q3"), ("often", "q3"),
                                                 ("8", "q30")])
def test_out_of_range_codes_name_row_and_column(value, column) -> None:
    rows = pd.DataFrame([qlq(VECTOR_C), qlq(VECTOR_C)]).astype(object)
    rows.loc[1, column] = value
    with pytest.raises(ValidationError, match=rf"scores\.csv, row 3, column {column}"):
        score_frame("qlq-c30", rows, where="scores.csv", first_row=2)


def test_missing_item_column_and_unknown_instrument() -> None:
    with pytest.raises(ValidationError, match="column q30 is missing"):
        score_frame("qlq-c30", pd.DataFrame([qlq(VECTOR_C[:29])]))
    with pytest.raises(Exception, match="no scoring for 'sf-36'"):
        score_frame("sf-36", pd.DataFrame([{"q1": 1}]))


def test_vectorised_equals_per_response(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(1, 5, size=(300, 30)).astype(float)
    codes[:, 28:] = rng.integers(1, 8, size=(300, 2))
    codes[rng.random(codes.shape) < 0.2] = np.nan
    frame = pd.DataFrame(codes, columns=[f"q{i}" for i in range(1, 31)])
    scored = score_frame("qlq-c30", frame)
    for i in range(0, 300, 17):
        single = score_response("qlq-c30", {k: (None if math.isnan(v) else int(v)) for k, v in frame.iloc[i].items()})
        for code, value in single.items():
            got = scored[code].iloc[i]
            assert (value is None and math.isnan(got)) or got == pytest.approx(value, abs=1e-6)


def test_cli_scores_a_csv_and_refuses_bad_codes(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.csv"
    lines = ["response,site," + ",".join(f"q{i}" for i in range(1, 31)),
             "R1,IGR," + ",".join(map(str, VECTOR_C)), "R2,CLB," + ",".join(["1"] * 28 + ["7", "7"])]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    assert main(["score", "qlq-c30", str(source), "-o", str(out)]) == 0
    result = pd.read_csv(out)
    assert list(result.columns[:3]) == ["response", "site", "q1"]
    assert list(result.columns[-16:]) == ["QL2", "PF2", "RF2", "EF", "CF", "SF", "FA", "NV", "PA", "DY",
                                          "SL", "AP", "CO", "DI", "FI", "SUMMARY"]
    assert result.loc[0, "SUMMARY"] == pytest.approx(64.573, abs=1e-3)
    assert result.loc[1, "QL2"] == 100
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace("R1,IGR,1,", "R1,IGR,9,")]) + "\n")
    capsys.readouterr()
    assert main(["score", "qlq-c30", str(bad), "-o", str(tmp_path / "bad-out.csv")]) == 2
    assert "row 2, column q1" in capsys.readouterr().err
    assert not (tmp_path / "bad-out.csv").exists()
