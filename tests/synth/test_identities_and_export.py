"""Identities stay with the trusted party; files are complete or absent; the CLI speaks one line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main
from workbench.cli import synth as synth_cli
from workbench.errors import ConflictError, ValidationError
from workbench.synth import CohortSpec, generate_cohort
from workbench.synth import export as export_module
from workbench.synth.export import (
    MANIFEST,
    read_spec,
    spec_from_dict,
    spec_to_dict,
    write_cohort,
    write_identities,
)
from workbench.synth.identities import (
    FEMALE_NAMES,
    IDENTITY_COLUMNS,
    LAST_NAMES,
    MALE_NAMES,
    generate_identities,
)

IDENTIFYING = {"first_name", "last_name", "name", "birth_date", "date_of_birth", "postcode",
               "address", "email", "phone", "nir"}


def _identities(n: int, chunk_size: int, seed: int = 3) -> pd.DataFrame:
    return pd.concat(list(generate_identities(n, seed=seed, chunk_size=chunk_size)),
                     ignore_index=True)


def test_no_identity_in_pseudonymous_frames() -> None:
    chunk = next(generate_cohort(500, seed=3, spec=CohortSpec(include_truth=True)))
    ids = _identities(500, 500)
    names = set(ids["last_name"]) | set(ids["first_name"]) | set(ids["email"])
    for name, frame in chunk.frames().items():
        assert not IDENTIFYING & set(frame.columns), name
        for column in frame.columns:
            if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
                assert not names & set(frame[column].astype(str)), (name, column)
    assert "birth_year" in chunk.participants and "birth_date" not in chunk.participants


def test_identities_agree_with_the_cohort_and_ignore_chunk_size() -> None:
    people = pd.concat([c.participants for c in generate_cohort(2500, seed=3, chunk_size=900)],
                       ignore_index=True)
    ids = _identities(2500, 2500)
    assert list(ids.columns) == list(IDENTITY_COLUMNS)
    assert ids["participant_key"].tolist() == people["participant_key"].tolist()
    assert (ids["sex"].astype(str) == people["sex"].astype(str)).all()
    assert (ids["birth_date"].dt.year == people["birth_year"]).all()
    again = _identities(2500, 377)
    for column in ids.columns:
        assert ids[column].equals(again[column]), column
    assert not _identities(2500, 2500, seed=4)["last_name"].equals(ids["last_name"])


def test_identities_are_drawn_from_our_lists_and_reserved_domains() -> None:
    ids = _identities(3000, 1000)
    female = ids["sex"] == "F"
    assert ids.loc[female, "first_name"].isin(FEMALE_NAMES).all()
    assert ids.loc[~female, "first_name"].isin(MALE_NAMES).all()
    assert ids["last_name"].isin(LAST_NAMES).all()
    domains = ids["email"].str.split("@").str[1]
    assert domains.isin(["example.org", "example.com", "example.net"]).all()
    assert ids["email"].str.fullmatch(r"[a-z._0-9]+@example\.(org|com|net)").all()
    assert ids["postcode"].str.fullmatch(r"\d{5}").all()
    assert ids["participant_key"].is_unique and ids["email"].is_unique


def test_parquet_round_trip_equals_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    counts = write_cohort(out, 700, seed=9, chunk_size=250)
    chunks = list(generate_cohort(700, seed=9, chunk_size=700))
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["participants"] == 700 and manifest["seed"] == 9
    assert manifest["contains_identities"] is False and manifest["rows"] == counts
    assert read_spec(out / MANIFEST) == CohortSpec()
    for name, frame in chunks[0].frames().items():
        back = pd.read_parquet(out / f"{name}.parquet")
        assert len(back) == counts[name] == len(frame)
        for column in frame.columns:
            assert (back[column].astype(str).tolist()
                    == frame[column].astype(str).tolist()), (name, column)


def test_csv_output_and_refusals(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    write_cohort(out, 120, seed=1, fmt="csv")
    people = pd.read_csv(out / "participants.csv")
    assert len(people) == 120 and people["inclusion_date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    with pytest.raises(ConflictError):
        write_cohort(out, 10)
    with pytest.raises(ValidationError):
        write_cohort(tmp_path / "x", 10, fmt="xlsx")
    with pytest.raises(ValidationError, match="trusted party"):
        write_identities(out / "ids.csv", 10)
    assert not (out / "ids.csv").exists()


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    original = export_module._TableWriter.write

    def flaky(self: object, frame: pd.DataFrame) -> None:
        calls["n"] += 1
        if calls["n"] == 7:
            raise OSError("disk full")
        original(self, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(export_module._TableWriter, "write", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_cohort(tmp_path / "c", 600, chunk_size=200)
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        write_identities(tmp_path / "ttp" / "ids.parquet", 2000, chunk_size=200)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["ttp"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weshare")
    synth_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_writes_cohort_and_identities_apart(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["synth", "cohort", str(tmp_path / "c"), "-n", "300",
                                 "--seed", "4", "--format", "csv", "--truth"])
    assert args.handler(args) == 0
    assert "answers" in capsys.readouterr().out
    assert (tmp_path / "c" / "truth.csv").exists()
    args = _parser().parse_args(["synth", "identities", str(tmp_path / "ttp" / "ids.parquet"),
                                 "-n", "300", "--seed", "4"])
    assert args.handler(args) == 0
    assert "trusted third party" in capsys.readouterr().out
    assert len(pd.read_parquet(tmp_path / "ttp" / "ids.parquet")) == 300


def test_cli_user_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    assert main(["synth", "cohort", str(tmp_path / "busy"), "-n", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an empty directory" in err
    assert main(["synth", "cohort", str(tmp_path / "new"), "-n", "0"]) == 2
    assert "n: must be an integer" in capsys.readouterr().err


def test_spec_round_trips_through_json_and_rejects_nonsense(tmp_path: Path) -> None:
    from workbench.synth import TimePoint

    custom = CohortSpec(arm_effect=0.5, arms=(("usual", 1), ("support", 2)), effect_arm="support",
                        schedule=(TimePoint("BL", "b", 0), TimePoint("M6", "m", 182, 14, 14)))
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(custom)))) == custom
    assert spec_from_dict({"arm_effect": 0.1}) == CohortSpec(arm_effect=0.1)
    with pytest.raises(ValidationError, match="unknown spec field"):
        spec_from_dict({"arm_efect": 0.1})
    with pytest.raises(ValidationError, match="arm_effect must be float"):
        spec_from_dict({"arm_effect": "big"})
    with pytest.raises(ValidationError, match="include_truth must be bool"):
        spec_from_dict({"include_truth": 1})
    with pytest.raises(ValidationError, match="malformed spec"):
        spec_from_dict({"schedule": [{"code": "BL"}]})
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValidationError, match="JSON object"):
        read_spec(bad)


def test_cli_regenerates_a_data_set_from_its_manifest(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"arm_effect": 0.6, "dropout_per_visit": 0.1}))
    first = ["synth", "cohort", str(tmp_path / "a"), "-n", "200", "--seed", "2",
             "--spec", str(spec_file)]
    args = _parser().parse_args(first)
    assert args.handler(args) == 0
    again = ["synth", "cohort", str(tmp_path / "b"), "-n", "200", "--seed", "2",
             "--spec", str(tmp_path / "a" / MANIFEST)]
    args = _parser().parse_args(again)
    assert args.handler(args) == 0
    for name in ("participants", "answers"):
        left = pd.read_parquet(tmp_path / "a" / f"{name}.parquet")
        right = pd.read_parquet(tmp_path / "b" / f"{name}.parquet")
        assert left.equals(right), name
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    assert manifest["spec"]["dropout_per_visit"] == 0.1
