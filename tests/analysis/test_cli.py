"""`weshare survival` prints the KM table, log-rank and Cox results; user errors exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main


def test_survival_command(freireich: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "remission.csv"
    freireich.to_csv(path, index=False)
    code = main(["survival", str(path), "--time", "weeks", "--event", "relapse", "--group", "arm",
                 "--reference", "placebo"])
    out = capsys.readouterr().out
    assert code == 0
    assert "arm = 6-MP: n = 21, events = 9, median = 23 (95% CI 16 to NR" in out
    assert "arm = placebo: n = 21, events = 21, median = 8 (95% CI 4 to 12" in out
    assert "        23        6       1         0    0.4482   0.1346  0.2488  0.8074" in out
    assert "chi-square = 16.7929 on 1 df, p = 4.169e-05" in out
    assert "arm = 6-MP: HR = 0.2076 (95% CI 0.0925 to 0.4659)" in out
    assert "Efron" in out


def test_survival_command_user_errors(freireich: pd.DataFrame, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.csv"
    freireich[freireich.arm == "6-MP"].to_csv(path, index=False)
    assert main(["survival", str(path), "--time", "weeks", "--event", "relapse", "--group", "arm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("weshare: error:") and "at least 2 groups" in err
    assert err.count("\n") == 1
    assert main(["survival", str(tmp_path / "nope.csv"), "--time", "t", "--event", "e",
                 "--group", "g"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_survival_command_stratified(freireich: pd.DataFrame, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "strata.csv"
    freireich.assign(site=["north", "south"] * 21).to_csv(path, index=False)
    code = main(["survival", str(path), "--time", "weeks", "--event", "relapse", "--group", "arm",
                 "--strata", "site", "--transform", "log-log"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Log-rank test, stratified by site: chi-square" in out
    assert "log-log transform" in out and "Proportional hazards check" in out
