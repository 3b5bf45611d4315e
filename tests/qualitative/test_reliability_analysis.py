"""Agreement on turns and characters, disagreements, consensus, and the analysis helpers."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import ValidationError
from workbench.qualitative.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from workbench.qualitative.analysis import code_frequencies, cooccurrence, quotes
from workbench.qualitative.coding import (
    CONSENSUS,
    CodedSegment,
    check_segments,
    segments_frame,
    segments_from_frame,
)
from workbench.qualitative.reliability import (
    POOLED,
    character_agreement,
    consensus_by_majority,
    disagreements,
    turn_agreement,
    versus_consensus,
)
from workbench.qualitative.transcripts import build_transcript
from workbench.qualitative.units import character_units, turn_units

ATLAS_1 = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
ATLAS_2 = [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]


def _ten_turns():  # type: ignore[no-untyped-def]
    return build_transcript("t", [("P01", f"turn number {i}", i * 1000, None) for i in range(10)])


def _code_turns(t, coder: str, flags: list[int], code: str = "x") -> list[CodedSegment]:  # type: ignore[no-untyped-def]
    # Spans cover part of the turn only: any overlap counts as applying the code to the turn.
    return [CodedSegment("t", turn.start + 2, turn.end - 1, code, coder)
            for turn, flag in zip(t.turns, flags, strict=True) if flag]


def test_turn_agreement_reproduces_the_atlas_ti_example() -> None:
    t = _ten_turns()
    segs = _code_turns(t, "A", ATLAS_1) + _code_turns(t, "B", ATLAS_2)
    table = turn_agreement(segs, {"t": t}).set_index("code")
    row = table.loc["x"]
    assert row["percent_agreement"] == pytest.approx(60.0)
    assert row["cohen_kappa"] == pytest.approx(0.0909, abs=5e-5)
    assert row["krippendorff_alpha"] == pytest.approx(0.0952, abs=5e-5)
    assert (row["units"], row["coded_by_any"]) == (10, 5)
    assert table.loc[POOLED, "cohen_kappa"] == pytest.approx(0.0909, abs=5e-5)


def test_pooled_kappa_follows_de_vries() -> None:
    t = _ten_turns()
    segs = (_code_turns(t, "A", ATLAS_1) + _code_turns(t, "B", ATLAS_2)
            + _code_turns(t, "A", [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], "y")
            + _code_turns(t, "B", [1, 1, 1, 0, 0, 0, 0, 0, 0, 1], "y"))
    table = turn_agreement(segs, {"t": t}).set_index("code")
    po = np.array([0.6, 0.8])
    pe = np.array([0.2 * 0.4 + 0.8 * 0.6, 0.4 * 0.4 + 0.6 * 0.6])
    expected = (po.mean() - pe.mean()) / (1 - pe.mean())
    assert table.loc[POOLED, "cohen_kappa"] == pytest.approx(expected)
    assert table.loc["y", "cohen_kappa"] == pytest.approx((0.8 - pe[1]) / (1 - pe[1]))


def test_nvivo_character_example() -> None:
    doc = build_transcript("d", [("", "x" * 999, None, None)])  # 1,000 characters with the "\n"
    segs = [CodedSegment("d", 0, 150, "k", "A"), CodedSegment("d", 100, 200, "k", "B"),
            CodedSegment("d", 10, 60, "k", "A")]  # an overlap by the same coder counts once
    row = character_agreement(segs, {"d": doc}, "A", "B").iloc[0]
    assert (row["characters"], row["both"], row["a_only"], row["b_only"], row["neither"]) == \
        (1000, 50, 100, 50, 800)
    assert row["percent_agreement"] == pytest.approx(85.0)
    assert row["kappa"] == pytest.approx(0.3182, abs=5e-5)
    assert row["coded_overlap"] == pytest.approx(50 / 200)


def test_character_totals_pool_sources_and_empty_code_is_perfect() -> None:
    a = build_transcript("a", [("", "y" * 99, None, None)])
    b = build_transcript("b", [("", "z" * 99, None, None)])
    segs = [CodedSegment("a", 0, 10, "k", "A"), CodedSegment("a", 0, 10, "k", "B"),
            CodedSegment("b", 0, 20, "k", "A"), CodedSegment("a", 5, 6, "other", "A")]
    table = character_agreement(segs, {"a": a, "b": b}, "A", "B")
    pooled = table[(table["source"] == POOLED) & (table["code"] == "k")].iloc[0]
    assert (pooled["characters"], pooled["both"], pooled["a_only"]) == (200, 10, 20)
    never = table[(table["source"] == "b") & (table["code"] == "other")].iloc[0]
    assert never["kappa"] == 1.0 and never["percent_agreement"] == 100.0


rng_flags = st.lists(st.lists(st.booleans(), min_size=10, max_size=10), min_size=3, max_size=3)


@settings(max_examples=30, deadline=None)
@given(rng_flags, rng_flags)
def test_vectorised_tables_match_the_scalar_coefficients(x: list[list[bool]],
                                                        y: list[list[bool]]) -> None:
    t = _ten_turns()
    segs = [s for c, flags in zip("ABC", x, strict=True) for s in _code_turns(t, c, flags, "x")]
    segs += [s for c, flags in zip("ABC", y, strict=True) for s in _code_turns(t, c, flags, "y")]
    segs.append(CodedSegment("t", 0, 1, "z", "A"))  # make sure every coder exists
    segs += [CodedSegment("t", 0, 1, "z", c) for c in "BC"]
    table = turn_agreement(segs, {"t": t}, codes=["x", "y"]).set_index("code")
    for code, flags in (("x", x), ("y", y)):
        matrix = np.array(flags, dtype=float)
        assert table.loc[code, "krippendorff_alpha"] == pytest.approx(krippendorff_alpha(matrix))
        if len(np.unique(matrix)) > 1:
            assert table.loc[code, "fleiss_kappa"] == pytest.approx(fleiss_kappa(matrix))
        pair = [cohen_kappa(matrix[i], matrix[j]) for i, j in itertools.combinations(range(3), 2)]
        assert table.loc[code, "mean_pairwise_kappa"] == pytest.approx(np.mean(pair))


def test_turn_units_span_over_several_turns_and_offsets_checked() -> None:
    t = _ten_turns()
    tu = turn_units([CodedSegment("t", t.turns[2].start, t.turns[4].start + 1, "x", "A")],
                    {"t": t}, coders=["A", "B"])
    assert list(np.flatnonzero(tu.applied[:, 0, 0])) == [2, 3, 4]
    # A span covering only a speaker label or newline touches no utterance.
    tu = turn_units([CodedSegment("t", t.turns[3].line_start, t.turns[3].start, "x", "A")],
                    {"t": t}, coders=["A", "B"])
    assert not tu.applied.any()
    with pytest.raises(ValidationError, match="beyond the text"):
        turn_units([CodedSegment("t", 0, 10_000, "x", "A")], {"t": t}, coders=["A", "B"])
    with pytest.raises(ValidationError, match="at least two coders"):
        turn_agreement([CodedSegment("t", 0, 3, "x", "A")], {"t": t})


def test_disagreements_and_consensus_layer() -> None:
    t = _ten_turns()
    segs = (_code_turns(t, "A", ATLAS_1) + _code_turns(t, "B", ATLAS_2)
            + _code_turns(t, "C", [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]))
    table = disagreements(segs, {"t": t})
    assert list(table["turn"]) == [0, 2, 5, 7]
    assert list(table.loc[0, ["A", "B", "C"]]) == [1, 0, 1]
    assert table.loc[0, "text"] == "turn number 0"
    consensus = consensus_by_majority(segs, {"t": t})
    assert [t.turn_at(s.start).index for s in consensus] == [0, 1, 2]
    assert all(s.coder == CONSENSUS and s.provenance == "consensus" for s in consensus)
    # The consensus layer is excluded from inter-coder figures unless asked for.
    assert turn_agreement(segs + consensus, {"t": t}).attrs["coders"] == ["A", "B", "C"]
    vs = versus_consensus(segs + consensus, {"t": t}).set_index("coder")
    assert vs.loc["C", "pooled_kappa"] == pytest.approx(1.0)
    assert vs.loc["B", "percent_agreement"] == pytest.approx(70.0)  # differs on turns 0, 5, 7
    with pytest.raises(ValidationError, match="no consensus"):
        versus_consensus(segs, {"t": t})


CASES = pd.DataFrame({"source": ["p1", "p2", "p3"], "participant": ["P-001", "P-002", "P-003"],
                      "arm": ["A", "B", "B"]})


def _corpus():  # type: ignore[no-untyped-def]
    texts = {s: build_transcript(s, [("Interviewer", "How are you?", 0, 900),
                                     ("P", "Tired, and worried it comes back.", 61_000, None)])
             for s in CASES["source"]}
    segs = []
    for s, tr in texts.items():
        turn = tr.turns[1]
        segs.append(CodedSegment(s, turn.start, turn.start + 5, "fatigue", "A"))
        if s != "p1":
            segs.append(CodedSegment(s, turn.start + 11, turn.end, "fear_of_recurrence", "A"))
    segs.append(CodedSegment("p2", texts["p2"].turns[1].start, texts["p2"].turns[1].start + 3,
                             "fatigue", "A"))
    return texts, segs


def test_frequencies_by_case_attribute() -> None:
    _, segs = _corpus()
    by_case = code_frequencies(segs, CASES, "arm")
    assert by_case.loc["fatigue"].to_dict() == {"A": 1, "B": 2}
    assert by_case.loc["fear_of_recurrence"].to_dict() == {"A": 0, "B": 2}
    assert by_case.attrs["participants_per_group"] == {"B": 2, "A": 1}
    by_segment = code_frequencies(segs, CASES, "arm", count="segments", codes=["fatigue", "hope"])
    assert by_segment.loc["fatigue", "B"] == 3 and by_segment.loc["hope"].sum() == 0
    with pytest.raises(ValidationError, match="no case attribute"):
        code_frequencies(segs, CASES, "age")
    with pytest.raises(ValidationError, match="not linked to a case"):
        code_frequencies(segs, CASES.iloc[:2], "arm")


def test_cooccurrence_on_turns_and_on_overlapping_spans() -> None:
    texts, segs = _corpus()
    by_turn = cooccurrence(segs, texts)
    assert by_turn.loc["fatigue", "fear_of_recurrence"] == 2
    assert by_turn.loc["fatigue", "fatigue"] == 3
    by_span = cooccurrence(segs)
    assert by_span.loc["fatigue", "fear_of_recurrence"] == 0  # the spans do not overlap
    assert by_span.loc["fatigue", "fatigue"] == 4  # codings of the code
    overlapping = [*segs, CodedSegment("p1", texts["p1"].turns[1].start, texts["p1"].turns[1].end,
                                       "fear_of_recurrence", "A")]
    assert cooccurrence(overlapping).loc["fear_of_recurrence", "fatigue"] == 1


def test_quotes_are_labelled_with_pseudonymous_ids() -> None:
    texts, segs = _corpus()
    table = quotes(segs, texts, CASES, code="fear_of_recurrence")
    assert list(table["participant"]) == ["P-002", "P-003"]
    assert table.loc[0, "quote"] == "worried it comes back."
    assert table.loc[0, "citation"] == "« worried it comes back. » (P-002, 00:01:01.000)"
    short = quotes(segs, texts, CASES, code="fear_of_recurrence", max_chars=8)
    assert short.loc[0, "quote"] == "worried…"


def test_segment_checks_and_frame() -> None:
    texts, segs = _corpus()
    check_segments(segs, texts)
    with pytest.raises(ValidationError, match="unknown source"):
        check_segments([CodedSegment("zz", 0, 1, "x", "A")], texts)
    with pytest.raises(ValidationError, match="does not match"):
        check_segments([CodedSegment("p1", 0, 3, "x", "A", quote="Who")], texts)
    with pytest.raises(ValidationError, match="empty or reversed"):
        CodedSegment("p1", 3, 3, "x", "A")
    assert list(segments_frame(segs).columns)[:5] == ["source", "start", "end", "code", "coder"]
    assert segments_frame([]).empty
    frame = segments_frame(segs)
    assert segments_from_frame(frame) == segs
    with pytest.raises(ValidationError, match="codings row 1"):
        segments_from_frame(frame.assign(start="x"))
    with pytest.raises(ValidationError, match="missing column"):
        segments_from_frame(frame.drop(columns="coder"))


spans = st.lists(st.tuples(st.integers(0, 59), st.integers(1, 20), st.sampled_from("xy"),
                           st.sampled_from("ABC"), st.sampled_from(["s1", "s2"])), max_size=25)


@settings(max_examples=60, deadline=None)
@given(spans)
def test_character_counts_match_a_per_character_reference(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    texts = {s: build_transcript(s, [("", "w" * 79, None, None)]) for s in ("s1", "s2")}
    segs = [CodedSegment(src, a, min(a + n, 80), code, coder) for a, n, code, coder, src in rows]
    cu = character_units(segs, texts, codes=["x", "y"], coders=["A", "B", "C"],
                         sources=["s1", "s2"])
    for (s_i, src), (k_i, code) in itertools.product(enumerate(cu.sources), enumerate(cu.codes)):
        sets = {c: {i for g in segs if (g.source, g.code, g.coder) == (src, code, c)
                    for i in range(g.start, g.end)} for c in cu.coders}
        for (a_i, a), (b_i, b) in itertools.product(enumerate(cu.coders), repeat=2):
            assert cu.both[s_i, k_i, a_i, b_i] == len(sets[a] & sets[b])
        assert list(cu.coded[s_i, k_i]) == [len(sets[c]) for c in cu.coders]
