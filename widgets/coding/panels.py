"""The coding dashboard's panels: agreement and consensus for the lead, analysis for everyone.

Each button reads the study's coding round (a coder gets only their own layer, the lead every
layer), calls one function of ``workbench.qualitative`` and shows the result as a table or a
plotly heatmap. Plotly is imported on first use so opening the coding page stays light.
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as w
import pandas as pd

from widgets.coding.backend import StoreBackend
from widgets.guarded import guarded, show_message
from workbench.errors import ValidationError
from workbench.qualitative.coding import CONSENSUS
from workbench.qualitative.reliability import (
    POOLED,
    character_agreement,
    consensus_by_majority,
    disagreements,
    turn_agreement,
    versus_consensus,
)

__all__ = ["AgreementPanel", "AnalysisPanel", "table_html"]

MAX_ROWS = 200


def table_html(frame: pd.DataFrame, caption: str, *, max_rows: int = MAX_ROWS) -> str:
    """An escaped HTML table (numbers to 3 decimals); long tables say how many rows were left out."""
    shown = frame.head(max_rows)
    head = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in shown.columns)

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "—" if pd.isna(v) else f"{v:.3f}"
        return escape(str(v))

    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))
    more = (f"<p>{len(frame) - max_rows} ligne(s) de plus non affichée(s) / more row(s) not shown</p>"
            if len(frame) > max_rows else "")
    return (f'<table class="weshare-table" style="border-collapse:collapse;font-size:13px">'
            f"<caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table>{more}")


def _names(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    if "code" in frame.columns:
        frame = frame.assign(code=[names.get(c, c) for c in frame["code"]])
    return frame


class AgreementPanel(w.VBox):  # type: ignore[misc]
    """Per-code and pooled agreement (turns or characters), disagreements, consensus layer."""

    def __init__(self, backend: StoreBackend, study_code: str, code_names: dict[str, str]) -> None:
        self._backend, self._study, self._names = backend, study_code, code_names
        self.unit = w.ToggleButtons(options=[("Tours de parole / Speaker turns", "turn"),
                                             ("Caractères (NVivo) / Characters (NVivo)", "character")],
                                    value="turn", description="Unité / Unit")
        self.coder_a = w.Dropdown(description="Codeur A / Coder A", options=[])
        self.coder_b = w.Dropdown(description="Codeur B / Coder B", options=[])
        self.compute_button = w.Button(description="Calculer l'accord / Compute agreement")
        self.consensus_button = w.Button(description="Proposer le consensus (majorité) / Propose majority consensus")
        self.status = w.HTML()
        self.table = w.HTML()
        self.disagreement_table = w.HTML()
        self.consensus_table = w.HTML()
        self.compute_button.on_click(guarded(self.status)(lambda _b: self.compute()))
        self.consensus_button.on_click(guarded(self.status)(lambda _b: self.propose_consensus()))
        super().__init__([w.HTML("<h3>Accord inter-codeurs <span lang='en'>/ Inter-coder agreement</span></h3>"),
                          self.unit, w.HBox([self.coder_a, self.coder_b]), self.compute_button, self.status,
                          self.table, self.disagreement_table, self.consensus_button, self.consensus_table])

    def _coders(self, round_: Any) -> list[str]:
        coders = sorted({s.coder for s in round_.segments} - {CONSENSUS})
        a, b = self.coder_a.value, self.coder_b.value
        self.coder_a.options, self.coder_b.options = coders, coders
        if len(coders) >= 2:  # keep the lead's choice when it still exists
            self.coder_a.value = a if a in coders else coders[0]
            self.coder_b.value = b if b in coders else coders[1]
        return coders

    def compute(self) -> None:
        round_ = self._backend.round(self._study)
        coders = self._coders(round_)
        if len(coders) < 2:
            raise ValidationError("il faut au moins deux codeurs / at least two coders are needed", where="coders")
        segs, texts = round_.segments, round_.transcripts
        if self.unit.value == "turn":
            table = turn_agreement(segs, texts)
            caption = f"Par code et global, sur les tours / Per code and pooled, on turns ({', '.join(coders)})"
        else:
            a, b = self.coder_a.value, self.coder_b.value
            if not a or not b or a == b:
                raise ValidationError("choisissez deux codeurs différents / choose two different coders",
                                      where="coders")
            full = character_agreement(segs, texts, a, b)
            table = full[full["source"] == POOLED].drop(columns=["source"])
            caption = f"Par code, sur les caractères (comme NVivo) / Per code, on characters (NVivo-style): {a} × {b}"
        self.table.value = table_html(_names(table, self._names), caption)
        diff = disagreements(segs, texts)
        self.disagreement_table.value = table_html(
            _names(diff, self._names),
            f"Désaccords pour la réunion de consensus / Disagreements for the consensus meeting ({len(diff)})")
        self._show_versus(segs, texts)
        show_message(self.status, "Accord calculé / Agreement computed")

    def _show_versus(self, segs: Any, texts: Any) -> None:
        if any(s.coder == CONSENSUS for s in segs):
            self.consensus_table.value = table_html(versus_consensus(segs, texts),
                                                    "Chaque codeur face au consensus / Each coder against the consensus")

    def propose_consensus(self) -> int:
        """Majority proposals saved as the ``consensus`` coder (edits then happen in the widget)."""
        round_ = self._backend.round(self._study)
        if len(self._coders(round_)) < 2:
            raise ValidationError("il faut au moins deux codeurs / at least two coders are needed", where="coders")
        human = [s for s in round_.segments if s.coder != CONSENSUS]
        proposals = consensus_by_majority(human, round_.transcripts)
        added = self._backend.save_consensus(self._study, proposals)
        self._show_versus(self._backend.round(self._study).segments, round_.transcripts)
        show_message(self.status, f"{added} codage(s) de consensus ajouté(s) / consensus coding(s) added")
        return added


class AnalysisPanel(w.VBox):  # type: ignore[misc]
    """Code co-occurrence heatmap and coded segments as quotes labelled by participant ID."""

    def __init__(self, backend: StoreBackend, study_code: str, code_names: dict[str, str]) -> None:
        self._backend, self._study, self._names = backend, study_code, code_names
        self.coder = w.Dropdown(description="Codeur / Coder", options=[("Tous / All", "")], value="")
        self.heatmap_button = w.Button(description="Co-occurrences")
        self.code = w.Dropdown(description="Code", options=[(n, c) for c, n in code_names.items()])
        self.quotes_button = w.Button(description="Citations / Quotes")
        self.status = w.HTML()
        self.figure_box = w.VBox()
        self.quotes_html = w.HTML()
        self.figure: Any = None
        self.quotes_frame: pd.DataFrame | None = None
        self.heatmap_button.on_click(guarded(self.status)(lambda _b: self.heatmap()))
        self.quotes_button.on_click(guarded(self.status)(lambda _b: self.show_quotes()))
        super().__init__([w.HTML("<h3>Analyse <span lang='en'>/ Analysis</span></h3>"),
                          w.HBox([self.coder, self.heatmap_button]), self.figure_box,
                          w.HBox([self.code, self.quotes_button]), self.status, self.quotes_html])

    def _round(self) -> Any:
        round_ = self._backend.round(self._study)
        coders = sorted({s.coder for s in round_.segments})
        self.coder.options = [("Tous / All", ""), *[(c, c) for c in coders]]
        return round_

    def heatmap(self) -> pd.DataFrame:
        import plotly.graph_objects as go

        from workbench.qualitative.analysis import cooccurrence

        round_ = self._round()
        if not round_.segments:
            raise ValidationError("aucun codage pour l'instant / no coding yet", where="analysis")
        matrix = cooccurrence(round_.segments, round_.transcripts, coder=self.coder.value or None)
        labels = [self._names.get(c, c) for c in matrix.index]
        heat = go.Heatmap(z=matrix.to_numpy(), x=labels, y=labels, colorscale="Blues",
                          hovertemplate="%{y} × %{x}: %{z}<extra></extra>")
        self.figure = go.FigureWidget(data=[heat], layout={
            "title": "Tours portant les deux codes / Turns carrying both codes",
            "height": 420 + 12 * len(labels), "yaxis": {"autorange": "reversed"}})
        self.figure_box.children = [self.figure]
        show_message(self.status, f"{len(labels)} code(s)")
        return matrix

    def show_quotes(self) -> pd.DataFrame:
        from workbench.qualitative.analysis import quotes

        round_ = self._round()
        frame = quotes(round_.segments, round_.transcripts, round_.cases, code=self.code.value,
                       coder=self.coder.value or None)
        self.quotes_frame = frame
        items = "".join(f"<li>{escape(row.citation)} <small>— {escape(row.coder)}</small></li>"
                        for row in frame.head(MAX_ROWS).itertuples(index=False))
        name = self._names.get(self.code.value, self.code.value)
        self.quotes_html.value = (f"<h4>{escape(name)} : {len(frame)} citation(s) / quote(s)</h4>"
                                  f"<ul class='weshare-quotes'>{items}</ul>")
        return frame
