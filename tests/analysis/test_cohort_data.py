"""The notebooks' data access: the demo warehouse and the gateway extract end in the same table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from scipy import stats

from tests.analysis.conftest import DEMO_PERSONS, gateway_extract
from workbench.analysis import (
    DAYS_PER_MONTH,
    DeteriorationRule,
    baseline_table,
    code_presence,
    code_score_table,
    compliance_table,
    observed_means,
    received_status,
    time_to_deterioration,
)
from workbench.analysis.cohort_data import (
    from_extract,
    from_warehouse,
    gateway_variables,
    open_warehouse,
    ttd_scores,
)
from workbench.errors import NotFoundError, ValidationError
from workbench.warehouse import Cohort, Demographics

EVENTS = ("baseline", "M3", "M6", "M12", "M24")


@pytest.fixture(scope="module")
def warehouse_data(demo_warehouse: str):  # type: ignore[no-untyped-def]
    records: list[dict] = []
    data = from_warehouse(open_warehouse(demo_warehouse), records=records, actor="ana", purpose="tests")
    return data, records


def test_warehouse_path_gives_scores_by_time_point(warehouse_data) -> None:  # type: ignore[no-untyped-def]
    data, records = warehouse_data
    assert data.people["participant"].nunique() == DEMO_PERSONS
    assert set(data.people.columns) == {"participant", "gender", "year_of_birth", "arm"}
    assert data.events == EVENTS and data.baseline_event == "baseline"
    assert data.scales[:3] == ("QL2", "PF2", "RF2") and "FI" in data.scales
    assert "SUMMARY" not in data.scales  # the sample warehouse holds no summary score
    base = data.scores[data.scores["event"] == "baseline"]
    assert (base["day"] == 0).all()
    np.testing.assert_allclose(data.scores["month"], data.scores["day"] / DAYS_PER_MONTH)
    m3 = data.scores[data.scores["event"] == "M3"]
    assert m3["day"].median() == 91 and m3["visit_month"].iloc[0] == pytest.approx(91 / DAYS_PER_MONTH)
    assert any("baseline time point taken as 'baseline'" in n for n in data.notes)
    # every query was audited, without row-level data
    assert [(r["query"], r["actor"], r["purpose"]) for r in records] == [
        ("participants", "ana", "tests"), ("scores", "ana", "tests")]
    assert records[0]["persons"] == DEMO_PERSONS and records[1]["rows"] > DEMO_PERSONS
    table = data.table()
    assert {"arm", "age"} <= set(table.columns)
    assert ((table["age"] > 15) & (table["age"] < 95)).all()


def test_warehouse_path_narrowed_to_a_cohort(demo_warehouse: str, warehouse_data) -> None:  # type: ignore[no-untyped-def]
    records: list[dict] = []
    women = from_warehouse(open_warehouse(demo_warehouse), records=records,
                           cohort=Cohort("women", (Demographics(sex="female"),)))
    everyone = warehouse_data[0].people
    expected = set(everyone.loc[everyone["gender"] == "female", "participant"])
    assert 0 < len(expected) < DEMO_PERSONS and set(women.people["participant"]) == expected
    assert set(women.scores["participant"]) <= expected and women.scores["participant"].nunique() == len(expected)
    assert women.source.endswith("cohort women") and f"{len(expected)} participants" in women.summary()
    assert [r["cohort"]["name"] for r in records] == ["women", "women"]  # both queries audited as the cohort's


def test_gateway_items_are_scored_like_the_warehouse(warehouse_data) -> None:  # type: ignore[no-untyped-def]
    data, _ = warehouse_data
    extract = gateway_extract()
    gw = from_extract(extract)
    assert gw.events == EVENTS and gw.baseline_event == "baseline"
    assert set(gw.people.columns) == {"participant", "study"}  # the gateway gives no arm
    ours = gw.scores.assign(participant=gw.scores["participant"].str[2:].astype(int).astype(str))
    both = ours.merge(data.scores, on=["participant", "event"], suffixes=("_gw", "_wh"))
    assert len(both) == len(data.scores) == len(gw.scores)
    for scale in ("QL2", "PF2", "FA", "DY"):
        np.testing.assert_allclose(both[f"{scale}_gw"], both[f"{scale}_wh"], atol=1e-9)
    np.testing.assert_array_equal(both["day_gw"], both["day_wh"])


def test_gateway_person_rows_become_participant_columns(warehouse_data) -> None:  # type: ignore[no-untyped-def]
    """What a project approved for ``demographics`` and ``arm`` gets: the same columns as the
    warehouse path, so ``group = "arm"`` works in a project server."""
    data, _ = warehouse_data
    items = gateway_extract()
    people = data.people.assign(participant="PX" + data.people["participant"].astype(int).astype(str).str.zfill(5))
    rows = [pd.DataFrame({"participant": people["participant"], "study": "DEMO-QOL", "event": "",
                          "date": pd.NaT, "variable": variable, "value": value, "text": text})
            for variable, value, text in (("sex", np.nan, people["gender"]),
                                          ("birth_year", people["year_of_birth"].astype(float), None),
                                          ("arm", np.nan, people["arm"]))]
    gw = from_extract(pd.concat([items.assign(text=None), *rows], ignore_index=True))
    assert set(gw.people.columns) == {"participant", "study", "gender", "year_of_birth", "arm"}
    merged = gw.people.merge(people, on="participant", suffixes=("_gw", "_wh"))
    assert len(merged) == DEMO_PERSONS
    for column in ("gender", "year_of_birth", "arm"):
        assert (merged[f"{column}_gw"].astype(str) == merged[f"{column}_wh"].astype(str)).all()
    assert "arm" in gw.table().columns and gw.table()["age"].between(15, 95).all()
    assert gateway_variables("qlq-c30", "arm") == ["qlq-c30.*", "arm"]
    assert gateway_variables("qlq-c30", "gender") == ["qlq-c30.*", "demographics"]
    assert gateway_variables("phq-9", None) == ["phq-9.*"]


def test_participant_without_baseline_keeps_a_blank_time_and_is_no_baseline_in_ttd() -> None:
    extract = gateway_extract(30)
    first = extract["participant"].iloc[0]
    extract = extract[~((extract["participant"] == first) & (extract["event"] == "baseline"))]
    data = from_extract(extract)
    mine = data.scores[data.scores["participant"] == first]
    if mine.empty:  # that participant only had a baseline: they are simply absent
        pytest.skip("first participant had a single assessment")
    assert mine["day"].isna().all()
    assert any("1 participant(s) have no baseline assessment" in n for n in data.notes)
    scores = ttd_scores(data, "QL2")
    row = scores[scores["subject"] == first]
    assert len(row) == 1 and row["day"].iloc[0] == 0 and np.isnan(row["score"].iloc[0])
    ttd = time_to_deterioration(scores, DeteriorationRule.for_scale("QL2"))
    assert ttd.set_index("subject").loc[first, "reason"].startswith("no baseline score")


def test_bad_sources_say_what_to_change(tmp_path: Path, warehouse_data) -> None:  # type: ignore[no-untyped-def]
    data, _ = warehouse_data
    with pytest.raises(NotFoundError, match=r"no warehouse at .*weshare warehouse init"):
        open_warehouse(f"duckdb:///{tmp_path / 'nothing.duckdb'}")
    assert not (tmp_path / "nothing.duckdb").exists()
    extract = gateway_extract(10)
    with pytest.raises(ValidationError, match=r"holds no phq-9 variable; ask for 'phq-9\.\*'"):
        from_extract(extract, instrument="phq-9")
    with pytest.raises(ValidationError, match="no assessment at time point 'M1'; the data have baseline, M3"):
        from_extract(extract, baseline_event="M1")
    with pytest.raises(ValidationError, match="column\\(s\\) event not found"):
        from_extract(extract.drop(columns="event"))
    with pytest.raises(ValidationError, match="no scale 'XX'"):
        ttd_scores(data, "XX")
    with pytest.raises(ValidationError, match="unknown scale"):
        from_warehouse(None, scales=["QL"])  # type: ignore[arg-type]  # refused before any query


def test_baseline_table_and_completion(warehouse_data) -> None:  # type: ignore[no-untyped-def]
    data, _ = warehouse_data
    people = data.people.merge(data.table().drop_duplicates("participant")[["participant", "age"]])
    table = baseline_table(people, group="arm", categorical=["gender"], continuous=["age"])
    n = data.people["arm"].value_counts()
    first = table.iloc[0]
    assert first["control"] == str(n["control"]) and first["All"] == str(DEMO_PERSONS)
    female = table[(table["variable"] == "gender") & (table["level"] == "female")].iloc[0]
    k = int((data.people["gender"] == "female").sum())
    assert female["All"] == f"{k} ({100 * k / DEMO_PERSONS:.1f}%)"
    mean = table[(table["variable"] == "age") & (table["level"] == "mean (SD)")].iloc[0]
    assert mean["All"] == f"{people['age'].mean():.1f} ({people['age'].std():.1f})"

    status = received_status(data.table(), score="QL2", events=data.events, group="arm")
    assert len(status) == DEMO_PERSONS * len(EVENTS)
    comp = compliance_table(status, subject="participant", timepoint="event", arm="arm", order=list(EVENTS))
    overall = comp[comp["arm"] == "All"].set_index("timepoint")
    assert overall.loc["baseline", "available"] == f"{DEMO_PERSONS}/{DEMO_PERSONS}"
    m3 = int((data.scores["event"] == "M3").sum())
    assert overall.loc["M3", "received"] == m3

    means = observed_means(data.table(), score="QL2", time="event", group="arm")
    cell = data.table().query("arm == 'control' and event == 'M6'")["QL2"]
    got = means[(means["arm"] == "control") & (means["time"] == "M6")].iloc[0]
    half = stats.t.ppf(0.975, len(cell) - 1) * cell.std() / np.sqrt(len(cell))
    assert got["n"] == len(cell) and got["mean"] == pytest.approx(cell.mean())
    assert got["ci_high"] - got["mean"] == pytest.approx(half)


def test_describe_bad_input() -> None:
    people = pd.DataFrame({"participant": ["a", "b", "b"], "arm": ["x", "y", "y"]})
    with pytest.raises(ValidationError, match="several rows"):
        baseline_table(people, group="arm")
    with pytest.raises(ValidationError, match="1 participant\\(s\\) have no arm"):
        baseline_table(pd.DataFrame({"participant": ["a", "b"], "arm": ["x", None]}), group="arm")
    with pytest.raises(ValidationError, match="not in events"):
        received_status(pd.DataFrame({"participant": ["a"], "event": ["W9"], "s": [1.0]}), score="s",
                        events=["BL"])


def test_codes_against_scores_match_welch() -> None:
    rng = np.random.default_rng(3)
    n = 40
    cases = pd.DataFrame({"participant": [f"P{i}" for i in range(n)], "fatigue": rng.integers(0, 3, n),
                          "rare": [1] + [0] * (n - 1)})
    scores = pd.DataFrame({"participant": [f"P{i}" for i in range(n + 5)], "QL2": rng.normal(60, 15, n + 5)})
    scores.loc[3, "QL2"] = np.nan  # an interviewed participant without a score is counted, not used
    out = code_score_table(cases, scores, codes=["fatigue", "rare"], score="QL2").set_index("code")
    y = cases["participant"].map(scores.set_index("participant")["QL2"])
    has = (cases["fatigue"] > 0) & y.notna()
    ref = stats.ttest_ind(y[has], y[~(cases["fatigue"] > 0) & y.notna()], equal_var=False)
    assert out.loc["fatigue", "n_with"] == has.sum()
    assert out.loc["fatigue", "difference"] == pytest.approx(y[has].mean() - y[~(cases["fatigue"] > 0) & y.notna()].mean())
    assert out.loc["fatigue", "p"] == pytest.approx(ref.pvalue)
    assert np.isnan(out.loc["rare", "difference"]) and "at least 2 each" in out.loc["rare", "note"]
    assert out.attrs == {"interviewed": n, "without_score": 1}
    present = code_presence(cases, ["fatigue", "rare"])
    assert len(present) == int((cases["fatigue"] > 0).sum()) + 1


def test_codes_bad_input() -> None:
    cases = pd.DataFrame({"participant": ["a", "b"], "fatigue": [1, -1]})
    scores = pd.DataFrame({"participant": ["a", "b"], "QL2": [50.0, 60.0]})
    with pytest.raises(ValidationError, match="row 2 column fatigue"):
        code_score_table(cases, scores, codes=["fatigue"], score="QL2")
    cases = cases.assign(fatigue=[1, 0])
    with pytest.raises(ValidationError, match="same pseudonyms"):
        code_score_table(cases, scores.assign(participant=["x", "y"]), codes=["fatigue"], score="QL2")
    with pytest.raises(ValidationError, match="one score per participant"):
        code_score_table(cases, pd.concat([scores, scores]), codes=["fatigue"], score="QL2")
    with pytest.raises(ValidationError, match="exactly one row"):
        code_score_table(pd.concat([cases, cases]), scores, codes=["fatigue"], score="QL2")


@pytest.mark.slow
def test_a_deposited_demo_study_reads_the_same_way(tmp_path: Path) -> None:
    """`weshare demo` + `weshare deposit`: the schedule's own time points, scores, the arm."""
    from workbench.demo import seed_demo
    from workbench.deposit import deposit_study
    from workbench.settings import Settings
    from workbench.storage.engine import make_engine, session_scope
    from workbench.storage.migrate import upgrade
    from workbench.studies.service import set_status
    from workbench.trusted_party import init_store, open_trusted_party
    from workbench.warehouse import connect, create_schema, load_mini_vocabulary

    cfg = Settings(home=tmp_path)
    store = make_engine(cfg.database_url)
    upgrade(store)
    init_store(cfg, actor="test")
    tp = open_trusted_party(cfg)
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    warehouse = connect(url)
    create_schema(warehouse)
    load_mini_vocabulary(warehouse)
    try:
        with session_scope(store) as s:
            seed_demo(s, tp, participants=40, seed=3)
            arms = sorted(str(a) for a in s.execute(sa.text("SELECT arm FROM participants")).scalars())
            set_status(s, "DEMO-QOL", "closed", actor="test")
        with session_scope(store) as s:
            report = deposit_study(s, tp, warehouse, "DEMO-QOL", actor="steward")
        data = from_warehouse(open_warehouse(url))
    finally:
        tp.close()
        warehouse.dispose()
        store.dispose()
    assert data.baseline_event == "BL" and data.events[:2] == ("BL", "W06")
    assert set(data.people["arm"]) == set(arms)  # the demo's deposit plan holds the arm
    with warehouse.connect() as conn:  # participants are named by their warehouse pseudonyms
        codes = set(conn.execute(sa.text("SELECT person_source_value FROM person")).scalars())
    assert set(data.people["participant"]) <= codes and not data.people["participant"].str.isdigit().any()
    assert data.people["participant"].nunique() <= report.participants
    assert {"QL2", "PF2", "SUMMARY"} <= set(data.scales)
    w06 = data.scores[data.scores["event"] == "W06"]["day"]
    assert 35 <= w06.median() <= 49  # week 6 (day 42 ± 7)
    assert ((data.scores["QL2"] >= 0) & (data.scores["QL2"] <= 100)).all()
