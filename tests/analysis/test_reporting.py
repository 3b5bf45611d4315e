"""SISAQOL rates (research file §4.1 worked example), CONSORT-PRO flow and responder analyses."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.analysis import assessment_status, compliance_table, consort_pro_flow, responders
from workbench.errors import ValidationError


@pytest.fixture
def status() -> pd.DataFrame:
    """100 randomised; at week 12: 10 died, 5 stopped per protocol, 68 forms, 17 missing."""
    rows = []
    for i in range(100):
        week12 = "died" if i < 10 else "off_study" if i < 15 else "received" if i < 83 else "missing"
        arm = "A" if i % 2 else "B"
        rows += [(i, "baseline", "received" if i != 99 else "missing", arm), (i, "week 12", week12, arm)]
    return pd.DataFrame(rows, columns=["subject", "timepoint", "status", "arm"])


def test_sisaqol_worked_example(status: pd.DataFrame) -> None:
    table = compliance_table(status).set_index("timepoint")
    week = table.loc["week 12"]
    assert (week["received"], week["expected"], week["randomised"]) == (68, 85, 100)
    assert week["completion"] == "68/85" and week["completion_rate"] == pytest.approx(0.80)
    assert week["available"] == "68/100" and week["available_rate"] == pytest.approx(0.68)
    assert (week["died"], week["off_study"], week["missing"]) == (10, 5, 17)  # deaths are not missing
    assert table.loc["baseline", "completion"] == "99/100"


def test_rates_per_arm_add_up(status: pd.DataFrame) -> None:
    table = compliance_table(status, arm="arm", order=["baseline", "week 12"])
    assert table["arm"].unique().tolist() == ["A", "B", "All"]
    week = table[table.timepoint == "week 12"].set_index("arm")
    assert week.loc["A", "received"] + week.loc["B", "received"] == week.loc["All", "received"]
    assert week.loc["A", "randomised"] == 50


def test_consort_pro_flow(status: pd.DataFrame) -> None:
    flow = consort_pro_flow(status, baseline="baseline", arm="arm")
    assert flow.loc["randomised", "All"] == 100
    assert flow.loc["PRO at baseline", "All"] == 99 and flow.loc["no PRO at baseline", "A"] == 1
    assert flow.loc["at least one follow-up PRO", "All"] == 68
    assert flow.loc["died during PRO follow-up", "All"] == 10
    assert flow.loc["stopped PRO follow-up per protocol", "All"] == 5
    assert flow.loc["randomised", "A"] + flow.loc["randomised", "B"] == 100
    with pytest.raises(ValidationError, match="baseline time point 'day 0'"):
        consort_pro_flow(status, baseline="day 0")


def test_assessment_status_from_schedule() -> None:
    schedule = pd.DataFrame({"subject": ["a", "a", "b", "b", "c", "c"],
                             "timepoint": ["T0", "T1"] * 3, "due_day": [0, 84] * 3})
    received = pd.DataFrame({"subject": ["a", "a", "b", "c"], "timepoint": ["T0", "T1", "T0", "T0"]})
    out = assessment_status(schedule, received, death_day=pd.Series({"b": 50}),
                            off_study_day=pd.Series({"c": 90}))
    assert out["status"].tolist() == ["received", "received", "received", "died", "received", "missing"]
    stray = pd.DataFrame({"subject": ["z"], "timepoint": ["T0"]})
    with pytest.raises(ValidationError, match="not in the schedule"):
        assessment_status(schedule, stray)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.assign(status=s["status"].replace("missing", "lost")), "status must be one of"),
        (lambda s: pd.concat([s, s.iloc[[0]]]), "listed twice"),
        (lambda s: s.iloc[1:], "needs a row at every time point"),
    ],
)
def test_bad_status_tables(status: pd.DataFrame, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=message):
        compliance_table(edit(status))


@pytest.fixture
def scores() -> pd.DataFrame:
    base = {"s1": 70, "s2": 70, "s3": 70, "s4": 70, "s5": 70, "s6": None}
    week = {"s1": 60, "s2": 61, "s3": 75, "s4": 80, "s5": 95, "s6": 50}
    rows = [(s, 0, v, "A" if s < "s4" else "B") for s, v in base.items()]
    rows += [(s, 12, v, "A" if s < "s4" else "B") for s, v in week.items()]
    return pd.DataFrame(rows, columns=["subject", "time", "score", "arm"])


def test_responders_inclusive_thresholds(scores: pd.DataFrame) -> None:
    out = responders(scores, worse="decrease", threshold=10, arm="arm").set_index("arm")
    assert (out.loc["A", "n"], out.loc["A", "deteriorated"], out.loc["A", "stable"]) == (3, 1, 2)
    assert (out.loc["B", "n"], out.loc["B", "improved"]) == (2, 2)  # s6 has no baseline
    assert out.loc["A", "deteriorated_pct"] == pytest.approx(100 / 3)
    assert out.loc["A", "deteriorated_ci_low"] < 100 / 3 < out.loc["A", "deteriorated_ci_high"]
    strict = responders(scores, worse="decrease", threshold=10, improvement_threshold=15, arm="arm")
    assert strict.set_index("arm").loc["B", "improved"] == 1  # +10 no longer counts, +25 does
    symptom = responders(scores, worse="increase", threshold=10).iloc[0]
    assert (symptom["deteriorated"], symptom["improved"]) == (2, 1)


def test_responders_bad_input(scores: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="no baseline scores"):
        responders(scores, worse="decrease", threshold=10, baseline=-1)
    with pytest.raises(ValidationError, match="positive"):
        responders(scores, worse="decrease", threshold=0)
    with pytest.raises(ValidationError, match="decrease"):
        responders(scores, worse="down", threshold=10)  # type: ignore[arg-type]
