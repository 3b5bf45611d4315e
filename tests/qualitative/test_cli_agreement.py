"""`weshare agreement` and `weshare qda`: printed coefficients and one-line errors naming row/column.

The parser is built from these modules' own ``register`` so the tests do not depend on other
command groups; ``main``'s error handling is exercised through the same handler contract.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import pytest

from workbench.cli import agreement, qda
from workbench.errors import ValidationError, WorkbenchError

DATA = Path(__file__).parent / "data"

K2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="weshare")
    commands = parser.add_subparsers(dest="command", required=True)
    agreement.register(commands)
    qda.register(commands)
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except WorkbenchError as exc:
        print(f"weshare: error: {exc}")
        code = 2
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def k2011(tmp_path: Path) -> Path:
    lines = ["unit,coder,value"]
    for coder, values in K2011.items():
        lines += [f"u{u},{coder},{'' if v is None else v}" for u, v in enumerate(values, 1)]
    path = tmp_path / "k2011.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("level", "printed"), [
    ("nominal", "0.7434"), ("ordinal", "0.8154"), ("interval", "0.8491"), ("ratio", "0.7974"),
])
def test_krippendorff_levels_printed(k2011: Path, level: str, printed: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["agreement", str(k2011), "--statistic", "krippendorff", "--level", level],
                        capsys)
    assert code == 0
    assert out.splitlines()[0] == f"krippendorff_alpha[{level}] = {printed}"
    assert "pairable values = 40" in out


def test_cohen_and_fleiss(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["unit,coder,value"]
    for i, (a, b) in enumerate(zip([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 1, 0, 1, 0, 0],
                                   strict=True)):
        rows += [f"s{i},A,{a}", f"s{i},B,{b}"]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    code, out, _ = _run(["agreement", str(path), "--statistic", "cohen"], capsys)
    assert (code, out.splitlines()[0]) == (0, "cohen_kappa = 0.0909")
    fleiss_rows = ["unit,coder,value"]
    for unit, counts in enumerate([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6],
                                   [0, 3, 9, 2, 0], [2, 2, 8, 1, 1], [7, 7, 0, 0, 0],
                                   [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0],
                                   [0, 2, 2, 3, 7]]):
        values = [cat for cat, n in enumerate(counts, 1) for _ in range(n)]
        fleiss_rows += [f"{unit},r{r},{v}" for r, v in enumerate(values)]
    path.write_text("\n".join(fleiss_rows), encoding="utf-8")
    code, out, _ = _run(["agreement", str(path), "--statistic", "fleiss"], capsys)
    assert (code, out.splitlines()[0]) == (0, "fleiss_kappa = 0.2099")


@pytest.mark.parametrize(("content", "statistic", "message"), [
    ("unit,rater,value\nu1,A,1\n", "cohen", "row 1: missing column(s) coder"),
    ("unit,coder,value\nu1,A,1\nu1,,2\n", "krippendorff", "row 3 column coder: is empty"),
    ("unit,coder,value\nu1,A,1\nu1,A,2\n", "krippendorff", "row 3: coder 'A' rated unit 'u1' twice"),
    ("unit,coder,value\nu1,A,1\nu1,B,1,extra\n", "krippendorff", "row 3: 4 cells"),
    ("unit,coder,value\nu1,A,1\nu1,B,high\n", "fleiss", None),
    ("unit,coder,value\nu1,A,1\nu1,B,2\nu1,C,2\n", "cohen", "exactly 2 coders"),
    ("unit,coder,value\nu1,A,1\nu1,B,2\nu2,A,1\n", "fleiss", "unit 'u2' has 1 ratings"),
    ("unit,coder,value\n", "krippendorff", "no ratings"),
])
def test_bad_csv_gives_one_line_naming_the_place(
    tmp_path: Path, content: str, statistic: str, message: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(content, encoding="utf-8")
    code, out, _ = _run(["agreement", str(path), "--statistic", statistic], capsys)
    if message is None:  # text categories are fine at the nominal level
        assert code == 0
        return
    assert code == 2
    assert out.startswith("weshare: error: in.csv")
    assert message in out
    assert len(out.strip().splitlines()) == 1


def test_interval_level_names_the_non_numeric_cell(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("unit,coder,value\nu1,A,1\nu1,B,high\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"in.csv row 3 column value: 'high' is not a number"):
        agreement.run(path, "krippendorff", "interval")


def _fixture_archive(tmp_path: Path) -> Path:
    path = tmp_path / "fixture.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(DATA / "fixture_project.qde", "project.qde")
        zf.writestr("Sources/00000000-0000-4000-8000-0000000000f1.txt",
                    "P01: Lately, I feel tired all the time.\n")
    return path


def test_qda_check_and_agreement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = _fixture_archive(tmp_path)
    code, out, _ = _run(["qda", "check", str(archive)], capsys)
    assert code == 0 and "codings 2" in out and "valid project 'fixture'" in out
    code, out, _ = _run(["qda", "agreement", str(archive)], capsys)
    assert code == 0 and "fatigue" in out and "100.000" in out
    code, out, _ = _run(["qda", "agreement", str(archive), "--unit", "character"], capsys)
    assert code == 0 and "(pooled)" in out


def test_qda_codebook_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["qda", "codebook", str(tmp_path / "fr.qdc"), "--language", "fr"], capsys)
    assert code == 0 and "themes" in out
    code, out, _ = _run(["qda", "check", str(tmp_path / "fr.qdc")], capsys)
    assert code == 0 and "valid codebook" in out
    code, out, _ = _run(["qda", "codebook", str(tmp_path / "en.json")], capsys)
    assert code == 0 and '"fear_of_recurrence"' in (tmp_path / "en.json").read_text(encoding="utf-8")
    code, out, _ = _run(["qda", "codebook", str(tmp_path / "en.xml")], capsys)
    assert code == 2 and "write a .qdc or .json file" in out


def test_qda_transcript_review_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "p01.vtt"
    src.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Interviewer>Hello Mrs Lambert.\n\n"
                   "00:00:03.000 --> 00:00:05.000\n<v Anne Lambert>My son Hugo drives me.\n",
                   encoding="utf-8")
    out = tmp_path / "p01.txt"
    code, printed, _ = _run(["qda", "transcript", str(src), "--out", str(out)], capsys)
    assert code == 0 and "--replacements" in printed
    review = tmp_path / "p01.replacements.csv"
    text = out.read_text(encoding="utf-8")
    assert "Lambert" not in text and "Hugo" not in text
    # The reviewer decides "Hugo" may stay and renames the participant's placeholder.
    rows = [line for line in review.read_text(encoding="utf-8").splitlines() if "Hugo" not in line]
    review.write_text("\n".join(rows).replace("[NAME-01]", "[P01]") + "\n", encoding="utf-8")
    code, _, _ = _run(["qda", "transcript", str(src), "--out", str(out),
                       "--replacements", str(review)], capsys)
    assert code == 0
    assert out.read_text(encoding="utf-8") == ("Interviewer: Hello Mrs [P01].\n"
                                                "[P01]: My son Hugo drives me.\n")
