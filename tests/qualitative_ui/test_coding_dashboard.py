"""The coding dashboard: role scope, the lead's agreement and consensus panel, the analysis panel."""

from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as w
import pytest

from widgets._store import in_session
from widgets.coding import AgreementPanel, AnalysisPanel, CodingDashboard, coding_dashboard
from workbench.accounts import add_user
from workbench.errors import PermissionDenied
from workbench.qualitative import cooccurrence

from .conftest import STUDY, World

ROOT = Path(__file__).resolve().parents[2]


def _code_both(world: World) -> None:
    """coder.a and coder.b agree on turn 1 (fear) and disagree on turn 3 (fatigue)."""
    a, b = world.widget("coder.a"), world.widget("coder.b")
    t = a.text
    for widget in (a, b):
        widget.handle({"type": "apply", "codes": ["fear_of_recurrence"], "start": t.index("peur"),
                       "end": t.index("revienne") + 8})
    a.handle({"type": "apply", "codes": ["fatigue"], "start": t.index("Épuisée"), "end": t.index("mari")})
    b.handle({"type": "apply", "codes": ["couple_family"], "start": t.index("mon mari"), "end": len(t) - 1})


def test_a_coder_codes_only_their_studies_blind(world: World) -> None:
    board = coding_dashboard(world.settings, "coder.a")
    assert isinstance(board, CodingDashboard) and board.widget is not None
    assert board.widget.blind and board.widget.coder == "coder.a" and board.study.value == STUDY
    assert [type(p) for p in board.panels.children] == [AnalysisPanel]  # no agreement for a coder
    assert board.layer.options == (("Mes codages / My codings", "self"),)
    with pytest.raises(PermissionDenied):
        world.backend("coder.a").save_consensus(STUDY, [])
    with pytest.raises(PermissionDenied):
        world.backend("coder.other").open(world.version_id)


@pytest.mark.parametrize("viewer", [None, "nobody.here", "lead.elsewhere"])
def test_refused_viewers_get_a_message_not_a_traceback(world: World, viewer: str | None) -> None:
    if viewer == "lead.elsewhere":
        in_session(world.settings, lambda s: add_user(s, viewer, actor="t", roles=["researcher"]))
    board = coding_dashboard(world.settings, viewer)
    assert getattr(board, "widget", None) is None
    html = " ".join(c.value for c in board.children if isinstance(c, w.HTML))
    assert 'role="alert"' in html and "Traceback" not in html


def test_a_coder_of_another_study_sees_only_that_study(world: World) -> None:
    board = coding_dashboard(world.settings, "coder.other")
    assert isinstance(board, CodingDashboard) and board.widget is None
    assert [v for _l, v in board.study.options] == ["ELSEWHERE"]
    assert "No transcript" in board.area.children[0].value


def test_lead_codes_the_consensus_layer_and_sees_every_coder(world: World) -> None:
    _code_both(world)
    board = coding_dashboard(world.settings, "lead.one")
    assert isinstance(board, CodingDashboard) and board.widget is not None
    assert board.layer.value == "consensus" and board.widget.coder == "consensus" and not board.widget.blind
    assert {c["coder"] for c in board.widget.codings} == {"coder.a", "coder.b"}
    assert [type(p) for p in board.panels.children] == [AgreementPanel, AnalysisPanel]
    board.widget.handle({"type": "apply", "codes": ["fatigue"], "start": 0, "end": 8})
    assert "consensus" in {c["coder"] for c in board.widget.codings}
    board.layer.value = "self"  # the lead holds no coder role: coding as themselves is refused
    assert board.widget.coder == "lead.one"
    board.widget.handle({"type": "apply", "codes": ["fatigue"], "start": 0, "end": 8})
    assert "consensus layer" in board.status.value


def test_agreement_on_turns_and_characters_disagreements_and_consensus(world: World) -> None:
    _code_both(world)
    board = coding_dashboard(world.settings, "lead.one")
    panel = board.panels.children[0]
    assert isinstance(panel, AgreementPanel)
    panel.compute_button.click()
    assert "(pooled)" in panel.table.value and "Fear of recurrence" in panel.table.value
    assert "coder.a, coder.b" in panel.table.value
    # disagreements: fatigue and couple/family on the last turn, one row each
    assert "(2)" in panel.disagreement_table.value and "Fatigue" in panel.disagreement_table.value
    panel.unit.value = "character"
    panel.compute_button.click()
    assert "coded_coder.a" in panel.table.value and "kappa" in panel.table.value
    panel.coder_b.value = panel.coder_a.value
    panel.compute_button.click()
    assert "two different coders" in panel.status.value
    panel.consensus_button.click()  # majority of 2 = both: only the agreed fear turn
    assert "1 codage(s) de consensus" in panel.status.value
    assert "pooled_kappa" in panel.consensus_table.value
    panel.consensus_button.click()  # proposing again adds nothing twice
    assert "0 codage(s)" in panel.status.value
    lead_round = world.backend("lead.one").round(STUDY)
    assert [(s.code, s.coder) for s in lead_round.segments if s.coder == "consensus"] == [
        ("fear_of_recurrence", "consensus")]


def test_analysis_heatmap_and_quotes_by_participant(world: World) -> None:
    _code_both(world)
    board = coding_dashboard(world.settings, "lead.one")
    panel = board.panels.children[1]
    assert isinstance(panel, AnalysisPanel)
    panel.heatmap_button.click()
    lead_round = world.backend("lead.one").round(STUDY)
    expected = cooccurrence(lead_round.segments, lead_round.transcripts)
    assert panel.figure is not None and panel.figure.data[0].type == "heatmap"
    assert [list(r) for r in panel.figure.data[0].z] == expected.to_numpy().tolist()
    assert expected.loc["fatigue", "couple_family"] == 1  # same turn, different coders
    panel.code.value = "fear_of_recurrence"
    panel.quotes_button.click()
    assert panel.quotes_frame is not None and len(panel.quotes_frame) == 2
    assert "« peur que ça revienne » (P-QUAL0001, 00:00:04.000)" in panel.quotes_html.value
    mine = coding_dashboard(world.settings, "coder.a").panels.children[0]
    mine.code.value = "fear_of_recurrence"
    mine.quotes_button.click()  # a coder's analysis holds their own layer only
    assert set(mine.quotes_frame["coder"]) == {"coder.a"}
    assert [v for _l, v in mine.coder.options] == ["", "coder.a"]


def test_dashboard_notebook_is_thin_and_takes_the_viewer_from_the_hub() -> None:
    nb = json.loads((ROOT / "notebooks" / "dashboards" / "coding.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert 1 <= len(code) <= 3 and all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    source = "".join("".join(c["source"]) for c in code)
    assert "coding_page(" in source and 'globals().get("WESHARE_VIEWER")' in source


def test_no_class_shadows_a_widget_method() -> None:
    """Overriding e.g. ``Widget.open`` (which opens the comm) breaks the page, not these tests."""
    import anywidget

    from widgets.coding import CodingWidget

    for cls, base in [(CodingWidget, anywidget.AnyWidget), (CodingDashboard, w.VBox),
                      (AgreementPanel, w.VBox), (AnalysisPanel, w.VBox)]:
        own = {name for name, value in vars(cls).items() if not name.startswith("_") and callable(value)}
        own |= set(cls.class_own_traits())
        assert not {name for name in own if hasattr(base, name)}, cls.__name__
