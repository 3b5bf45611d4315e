"""TTD / TUDD on the worked example of the research file (§3.4), then each option on its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.analysis import DeteriorationRule, kaplan_meier, time_to_deterioration
from workbench.errors import ValidationError

DAYS = (0, 42, 84, 126, 168)
QL2 = {
    "P1": (75, 67, 58, 58, 50),
    "P2": (83, 83, 75, 83, 92),
    "P3": (50, 42, 58, None, None),
    "P4": (67, 50, 67, 58, 67),
    "P5": (58, None, None, None, None),
    "P6": (92, 83, 83, None, None),
}
DEATHS = pd.DataFrame({"subject": ["P3"], "death_day": [150]})

# (days, event) per patient for each definition; research file §3.4, QoLR conventions.
EXPECTED = {
    "ttd": {"P1": (84, 1), "P2": (168, 0), "P3": (84, 0), "P4": (42, 1), "P5": (1, 0), "P6": (84, 0)},
    "ttd_death": {"P1": (84, 1), "P2": (168, 0), "P3": (150, 1), "P4": (42, 1), "P5": (1, 0),
                  "P6": (84, 0)},
    "def2": {"P1": (84, 1), "P2": (168, 0), "P3": (84, 0), "P4": (168, 0), "P5": (1, 0), "P6": (84, 0)},
    "def2_death": {"P1": (84, 1), "P2": (168, 0), "P3": (150, 1), "P4": (168, 0), "P5": (1, 0),
                   "P6": (84, 0)},
    "def1": {"P1": (84, 1), "P2": (168, 0), "P3": (84, 0), "P4": (42, 1), "P5": (1, 0), "P6": (84, 0)},
}
OPTIONS = {
    "ttd": {}, "ttd_death": {"death_is_event": True}, "def2": {"definitive": "def2"},
    "def2_death": {"definitive": "def2", "death_is_event": True}, "def1": {"definitive": "def1"},
}


@pytest.fixture
def scores() -> pd.DataFrame:
    rows = [(p, d, v) for p, vals in QL2.items() for d, v in zip(DAYS, vals, strict=True)]
    return pd.DataFrame(rows, columns=["subject", "day", "score"])


def _run(scores: pd.DataFrame, **options: object) -> pd.DataFrame:
    return time_to_deterioration(scores, DeteriorationRule.for_scale("QL2", **options), deaths=DEATHS)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_worked_example(scores: pd.DataFrame, name: str) -> None:
    result = _run(scores, **OPTIONS[name]).set_index("subject")
    got = {p: (int(r.days), int(r.event)) for p, r in result.iterrows()}
    assert got == EXPECTED[name]
    assert result.loc["P1", "months"] == pytest.approx(2.760, abs=5e-4)
    assert result.loc["P5", "months"] == pytest.approx(0.033, abs=5e-4)


def test_worked_example_kaplan_meier(scores: pd.DataFrame) -> None:
    km = kaplan_meier(_run(scores), "months", "event")
    assert km.at([1.380, 2.760]) == pytest.approx([0.8, 0.6])
    rows = km.event_rows().set_index(km.event_rows()["time"].round(3))
    assert rows.loc[1.380, "n_at_risk"] == 5 and rows.loc[1.380, "se"] == pytest.approx(0.1789, abs=1e-4)
    assert rows.loc[2.760, "n_at_risk"] == 4 and rows.loc[2.760, "se"] == pytest.approx(0.2191, abs=1e-4)
    assert km.median == float("inf")  # not reached
    with_death = kaplan_meier(_run(scores, death_is_event=True), "months", "event")
    assert with_death.at([150 / 30.4375])[0] == pytest.approx(0.300)
    assert with_death.event_rows()["se"].iloc[-1] == pytest.approx(0.2387, abs=1e-4)
    assert with_death.median == pytest.approx(150 / 30.4375)
    tudd = kaplan_meier(_run(scores, definitive="def2", death_is_event=True), "months", "event")
    assert tudd.at([84 / 30.4375, 150 / 30.4375]) == pytest.approx([0.800, 0.5333], abs=1e-4)


def test_result_records_its_definition(scores: pd.DataFrame) -> None:
    result = _run(scores, definitive="def2", death_is_event=True)
    assert result.attrs["rule"]["threshold"] == 10 and result.attrs["rule"]["reference"] == "baseline"
    assert "deterioration-free survival" in result.attrs["endpoint"]
    reasons = result.set_index("subject")["reason"]
    assert reasons["P3"] == "death" and reasons["P5"].startswith("no follow-up")


def _one(values: list[float | None], rule: DeteriorationRule, days: list[float] | None = None) -> tuple:
    days = days or [0, 30, 60, 90, 120][: len(values)]
    frame = pd.DataFrame({"subject": "X", "day": days, "score": values})
    row = time_to_deterioration(frame, rule).iloc[0]
    return row["days"], row["event"]


def test_threshold_is_inclusive_with_discrete_scores() -> None:
    rule = DeteriorationRule(worse="decrease", threshold=10)
    assert _one([70, 60], rule) == (30, 1)  # exactly −10 counts
    assert _one([70, 60.0000001], rule) == (30, 1)  # rounding noise does not hide it
    assert _one([70, 60.01], rule) == (30, 0)
    # Role functioning, 2 items: raw 1.5 → 2.0 is one step of 100/6 points.
    rf = [(1 - (raw - 1) / 3) * 100 for raw in (1.5, 2.0)]
    assert _one(rf, DeteriorationRule(worse="decrease", threshold=100 / 6)) == (30, 1)


def test_symptom_scales_deteriorate_upwards() -> None:
    fatigue = DeteriorationRule.for_scale("FA", threshold=10)
    assert fatigue.worse == "increase"
    assert _one([33.3, 44.4, 20], fatigue) == (30, 1)
    assert _one([33.3, 22.2, 11.1], fatigue) == (60, 0)
    with pytest.raises(ValidationError, match="unknown QLQ-C30 scale"):
        DeteriorationRule.for_scale("XX")


def test_reference_best_and_previous() -> None:
    values = [60, 75, 66, 57]
    assert _one(values, DeteriorationRule(worse="decrease")) == (90, 0)  # baseline 60: no −10
    assert _one(values, DeteriorationRule(worse="decrease", reference="best")) == (90, 1)  # 75 → 57
    assert _one(values, DeteriorationRule(worse="decrease", reference="previous")) == (90, 0)
    assert _one([60, 75, 64, 57], DeteriorationRule(worse="decrease", reference="previous")) == (60, 1)


def test_definitive_variants_differ_after_partial_recovery() -> None:
    values = [70, 55, 62, 66]  # −15, then partial recovery to −8 and −4
    assert _one(values, DeteriorationRule(worse="decrease", definitive="def2")) == (90, 0)
    assert _one(values, DeteriorationRule(worse="decrease", definitive="def1")) == (30, 1)
    # def3: recovery of 11 points over the deteriorated score (55 → 66) breaks it.
    assert _one(values, DeteriorationRule(worse="decrease", definitive="def3")) == (90, 0)
    assert _one([70, 55, 62, 64], DeteriorationRule(worse="decrease", definitive="def3")) == (30, 1)


def test_no_baseline_and_no_follow_up_options() -> None:
    frame = pd.DataFrame({"subject": ["X", "X", "Y"], "day": [30, 60, 0], "score": [50, 30, 40]})
    for option, expected in (("censored", [0, 0]), ("event", [0, 1])):
        rule = DeteriorationRule(worse="decrease", no_baseline=option)  # type: ignore[arg-type]
        out = time_to_deterioration(frame, rule).set_index("subject")
        assert [out.loc["X", "days"], out.loc["X", "event"]] == expected
    excluded = time_to_deterioration(frame, DeteriorationRule(worse="decrease", no_baseline="excluded"))
    assert excluded["subject"].tolist() == ["Y"]
    assert _one([50], DeteriorationRule(worse="decrease", no_follow_up="event")) == (1, 1)
    with pytest.raises(ValidationError, match="no subject has a baseline score"):
        _one([50, 30], DeteriorationRule(worse="decrease"), days=[30, 60])


def test_death_window_and_baseline_window() -> None:
    frame = pd.DataFrame({"subject": ["X"] * 3, "day": [-3, 40, 80], "score": [60, 58, 57]})
    deaths = pd.DataFrame({"subject": ["X"], "death_day": [200]})
    near = DeteriorationRule(worse="decrease", death_is_event=True, death_window_days=60,
                             baseline_window_days=7)
    far = DeteriorationRule(worse="decrease", death_is_event=True, death_window_days=180,
                            baseline_window_days=7)
    assert time_to_deterioration(frame, near, deaths=deaths)[["days", "event"]].values.tolist() == [[80, 0]]
    assert time_to_deterioration(frame, far, deaths=deaths)[["days", "event"]].values.tolist() == [[200, 1]]
    with pytest.raises(ValidationError, match="before the baseline window"):
        time_to_deterioration(frame, DeteriorationRule(worse="decrease"))


def test_keep_columns_are_carried() -> None:
    frame = pd.DataFrame({"id": ["A", "A", "B", "B"], "day": [0, 30] * 2, "score": [50, 30, 50, 55],
                          "arm": ["x", "x", "y", "y"]})
    out = time_to_deterioration(frame, DeteriorationRule(worse="decrease"), subject="id", keep=("arm",))
    assert out[["id", "arm", "event"]].values.tolist() == [["A", "x", 1], ["B", "y", 0]]


@pytest.mark.parametrize(
    ("frame", "deaths", "message"),
    [
        (pd.DataFrame({"subject": ["X", "X"], "day": [0, 0], "score": [1, 2]}), None, "same day"),
        (pd.DataFrame({"subject": ["X", "X"], "day": [0, 30], "score": [1, "high"]}), None,
         "row 2 column score"),
        (pd.DataFrame({"subject": ["X", "X"], "day": [0, 300], "score": [60, 40]}),
         pd.DataFrame({"subject": ["X"], "death_day": [100]}), "after death"),
        (pd.DataFrame({"subject": ["X"], "day": [0], "score": [60]}),
         pd.DataFrame({"subject": ["Z"], "death_day": [100]}), "no assessments row"),
        (pd.DataFrame({"subject": ["X"], "day": [None], "score": [60]}), None, "row 1 column day"),
    ],
)
def test_bad_input(frame: pd.DataFrame, deaths: pd.DataFrame | None, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        time_to_deterioration(frame, DeteriorationRule(worse="decrease"), deaths=deaths)


@pytest.mark.parametrize(
    "options",
    [{"worse": "down"}, {"worse": "decrease", "threshold": 0}, {"worse": "decrease", "reference": "last"},
     {"worse": "decrease", "definitive": "forever"}, {"worse": "decrease", "threshold": np.nan}],
)
def test_rule_validation(options: dict) -> None:
    with pytest.raises(ValidationError):
        DeteriorationRule(**options)
