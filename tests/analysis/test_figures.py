"""Figures: right data in the right traces, one palette, numbers at risk that match the data."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from tests.analysis.conftest import synthetic_trial
from workbench.analysis import compare_groups, compliance_table
from workbench.analysis.figures import (
    PALETTE,
    compliance_figure,
    heatmap_figure,
    km_figure,
    mean_scores_figure,
    spaghetti_figure,
)
from workbench.errors import ValidationError


def test_palette_is_okabe_ito() -> None:
    assert PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert len(set(PALETTE)) == len(PALETTE)


def test_km_figure_numbers_at_risk(freireich: pd.DataFrame) -> None:
    comp = compare_groups(freireich, "weeks", "relapse", "arm", reference="placebo")
    fig = km_figure(comp.curves, at_risk_times=[0, 10, 20, 30], x_title="Weeks")
    assert isinstance(fig, go.Figure)
    at_risk = {t.y[0]: t.text for t in fig.data if t.mode == "text"}
    assert at_risk == {"placebo": ("21", "8", "2", "0"), "6-MP": ("21", "15", "8", "4")}
    curves = [t for t in fig.data if t.name and "events" in t.name]
    assert [c.name for c in curves] == ["placebo (n=21, events=21)", "6-MP (n=21, events=9)"]
    assert [c.line.color for c in curves] == list(PALETTE[:2])
    assert curves[0].line.dash != curves[1].line.dash  # not colour alone
    assert curves[1].y[0] == 1.0 and curves[1].y[-1] == pytest.approx(0.4482, abs=1e-4)
    with pytest.raises(ValidationError):
        km_figure({})


def test_mean_scores_figure_error_bars() -> None:
    means = pd.DataFrame({"arm": ["A", "A", "B", "B"], "time": [0, 12] * 2, "mean": [70, 65, 71, 69],
                          "ci_low": [66, 60, 67, 64], "ci_high": [74, 70, 75, 74]})
    fig = mean_scores_figure(means, x_title="Week")
    assert len(fig.data) == 2
    assert list(fig.data[0].error_y.array) == [4, 5] and list(fig.data[0].error_y.arrayminus) == [4, 5]
    assert fig.layout.xaxis.title.text == "Week"


def test_compliance_spaghetti_heatmap() -> None:
    status = pd.DataFrame({"subject": [1, 1, 2, 2], "timepoint": ["T0", "T1"] * 2,
                           "status": ["received", "missing", "received", "received"],
                           "arm": ["A", "A", "B", "B"]})
    fig = compliance_figure(compliance_table(status, arm="arm"))
    assert [t.name for t in fig.data] == ["A – completion", "A – available", "B – completion",
                                         "B – available"]
    assert list(fig.data[0].y) == [100.0, 0.0] and list(fig.data[0].text) == ["1/1", "0/1"]
    trial = synthetic_trial(n=300, seed=2)
    spag = spaghetti_figure(trial, time="month", arm="arm", max_subjects=50)
    subjects = sum(1 for x in spag.data[0].x if x is None) + sum(1 for x in spag.data[2].x if x is None)
    assert subjects == 50
    heat = heatmap_figure(pd.DataFrame({"scale": ["PF2", "PF2", "FA"], "t": [0, 1, 0], "v": [80, 70, 30]}),
                          row="scale", column="t", value="v")
    z = heat.data[0].z
    assert z[0][0] == 80 and z[1][0] == 30 and heat.data[0].colorscale is not None
