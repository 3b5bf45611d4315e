"""Plotly figures for PRO reports in one style with a colour-blind-safe palette.

Arms differ by colour (Okabe–Ito) and by line dash, so figures survive greyscale printing and
colour-vision deficiency. Every function returns a ``go.Figure`` and never shows it: notebooks
and dashboards decide where it goes (and the airlock checks it before it leaves the bubble).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.analysis._checks import check_columns
from workbench.analysis.kaplan_meier import KaplanMeier
from workbench.errors import ValidationError

__all__ = [
    "DASHES",
    "PALETTE",
    "compliance_figure",
    "heatmap_figure",
    "km_figure",
    "mean_scores_figure",
    "spaghetti_figure",
]

# Okabe & Ito (2008) colour-blind-safe palette, most distinguishable first.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
FONT = {"family": "Arial, Helvetica, sans-serif", "size": 13, "color": "#222222"}


def _style(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"}, font=FONT, template="simple_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0},
        margin={"l": 70, "r": 20, "t": 80, "b": 60},
    )
    grid = {"row": 1, "col": 1} if getattr(fig, "_grid_ref", None) else {}
    fig.update_xaxes(title_text=x_title, showgrid=False, **grid)
    fig.update_yaxes(title_text=y_title, showgrid=True, gridcolor="#eeeeee", **grid)
    return fig


def _look(i: int) -> tuple[str, str]:
    return PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]


def mean_scores_figure(
    means: pd.DataFrame, *, title: str = "Mean score over time", y_title: str = "Score (0–100)",
    x_title: str = "Time", arm: str = "arm", time: str = "time", mean: str = "mean",
    ci: tuple[str, str] = ("ci_low", "ci_high"),
) -> go.Figure:
    """Means with 95% CI error bars by arm (e.g. from ``adjusted_means``); arms are dodged."""
    check_columns(means, [time, mean, *ci], what="means table")
    fig = go.Figure()
    arms = list(pd.unique(means[arm])) if arm in means.columns else [None]
    times = np.sort(pd.unique(means[time]))
    step = float(np.min(np.diff(times))) if len(times) > 1 else 1.0
    for i, a in enumerate(arms):
        part = means if a is None else means[means[arm] == a]
        colour, dash = _look(i)
        offset = (i - (len(arms) - 1) / 2) * step * 0.04
        fig.add_trace(go.Scatter(
            x=part[time].to_numpy(dtype=float) + offset, y=part[mean], name=str(a or "all"),
            mode="lines+markers", line={"color": colour, "dash": dash, "width": 2},
            marker={"symbol": i % 10, "size": 8},
            error_y={"type": "data", "symmetric": False, "array": part[ci[1]] - part[mean],
                     "arrayminus": part[mean] - part[ci[0]], "color": colour, "thickness": 1.5},
            hovertemplate="%{y:.1f}<extra>" + str(a or "all") + "</extra>",
        ))
    return _style(fig, title, x_title, y_title)


def km_figure(
    curves: Mapping[str, KaplanMeier], *, title: str = "Time to deterioration",
    x_title: str = "Months", at_risk_times: Sequence[float] | None = None, show_ci: bool = True,
) -> go.Figure:
    """Kaplan–Meier step curves with CI bands, censoring ticks and a numbers-at-risk table."""
    if not curves:
        raise ValidationError("no survival curves to draw", where="curves")
    last = max(float(c.table["time"].max()) for c in curves.values())
    ticks = list(at_risk_times) if at_risk_times is not None else list(np.linspace(0, last, 6).round(1))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2],
                        vertical_spacing=0.08)
    for i, (label, km) in enumerate(curves.items()):
        colour, dash = _look(i)
        t = np.concatenate([[0.0], km.table["time"].to_numpy()])
        s = np.concatenate([[1.0], km.table["survival"].to_numpy()])
        if show_ci:
            lo = np.concatenate([[1.0], km.table["ci_low"].fillna(0.0).to_numpy()])
            hi = np.concatenate([[1.0], km.table["ci_high"].fillna(0.0).to_numpy()])
            fig.add_trace(go.Scatter(x=np.concatenate([t, t[::-1]]), y=np.concatenate([hi, lo[::-1]]),
                                     fill="toself", fillcolor=colour, opacity=0.15, line={"width": 0},
                                     line_shape="hv", hoverinfo="skip", showlegend=False,
                                     legendgroup=label), row=1, col=1)
        fig.add_trace(go.Scatter(x=t, y=s, name=f"{label} (n={km.n}, events={km.events})",
                                 line={"color": colour, "dash": dash, "width": 2, "shape": "hv"},
                                 legendgroup=label), row=1, col=1)
        cens = km.table[km.table["censored"] > 0]
        fig.add_trace(go.Scatter(x=cens["time"], y=cens["survival"], mode="markers",
                                 marker={"symbol": "line-ns-open", "size": 9, "color": colour},
                                 showlegend=False, legendgroup=label, hoverinfo="skip"), row=1, col=1)
        fig.add_trace(go.Scatter(x=ticks, y=[label] * len(ticks), mode="text",
                                 text=[str(n) for n in _at_risk(km, ticks)], showlegend=False,
                                 textfont={"color": colour}, hoverinfo="skip"), row=2, col=1)
    fig = _style(fig, title, "", "Probability without event")
    fig.update_yaxes(range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="At risk", showgrid=False, autorange="reversed", row=2, col=1)
    fig.update_xaxes(title_text=x_title, row=2, col=1)
    return fig


def _at_risk(km: KaplanMeier, ticks: Sequence[float]) -> list[int]:
    times = km.table["time"].to_numpy()
    at_risk = km.table["n_at_risk"].to_numpy()
    idx = np.searchsorted(times, np.asarray(ticks, float), side="left")
    return [int(at_risk[i]) if i < len(times) else 0 for i in idx]


def compliance_figure(table: pd.DataFrame, *, title: str = "PRO compliance") -> go.Figure:
    """Bars of completion and available-data rates per time point (from ``compliance_table``)."""
    check_columns(table, ["timepoint", "completion_rate", "available_rate", "completion", "available"],
                  what="compliance table")
    if "arm" in table.columns:
        table = table[table["arm"] != "All"] if (table["arm"] != "All").any() else table
    arms = list(pd.unique(table["arm"])) if "arm" in table.columns else [None]
    fig = go.Figure()
    i = 0
    for a in arms:
        part = table if a is None else table[table["arm"] == a]
        for rate, label, pattern in (("completion_rate", "completion", ""),
                                     ("available_rate", "available", "/")):
            colour, _ = _look(i // 2)
            name = f"{a} – {label}" if a is not None else f"{label} rate"
            fig.add_trace(go.Bar(x=part["timepoint"].astype(str), y=100 * part[rate], name=name,
                                 marker={"color": colour, "pattern": {"shape": pattern}},
                                 text=part[label], textposition="outside"))
            i += 1
    fig.update_layout(barmode="group")
    fig = _style(fig, title, "Time point", "Forms received (%)")
    fig.update_yaxes(range=[0, 110])
    return fig


def spaghetti_figure(
    data: pd.DataFrame, *, subject: str = "subject", time: str = "time", score: str = "score",
    arm: str | None = None, max_subjects: int = 200, seed: int = 0,
    title: str = "Individual trajectories", y_title: str = "Score (0–100)",
) -> go.Figure:
    """One thin line per subject (a seeded random sample of ``max_subjects``) and the arm mean."""
    check_columns(data, [subject, time, score, arm])
    ids = pd.unique(data[subject])
    if len(ids) > max_subjects:
        ids = np.random.default_rng(seed).choice(ids, size=max_subjects, replace=False)
    shown = data[data[subject].isin(ids)].sort_values([subject, time])
    arms = list(pd.unique(data[arm])) if arm else [None]
    fig = go.Figure()
    for i, a in enumerate(arms):
        colour, dash = _look(i)
        part = shown if a is None else shown[shown[arm] == a]
        # One trace per arm with gaps between subjects keeps big plots light.
        xs, ys = [], []
        for _, sub in part.groupby(subject, sort=False):
            xs += [*sub[time].tolist(), None]
            ys += [*sub[score].tolist(), None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": 0.7},
                                 opacity=0.35, name=f"{a or 'all'}: subjects", legendgroup=str(a),
                                 connectgaps=False, hoverinfo="skip"))
        full = data if a is None else data[data[arm] == a]
        mean = full.groupby(time)[score].mean()
        fig.add_trace(go.Scatter(x=mean.index, y=mean.to_numpy(), name=f"{a or 'all'}: mean",
                                 line={"color": colour, "dash": dash, "width": 3},
                                 legendgroup=str(a)))
    return _style(fig, title, time, y_title)


def heatmap_figure(
    data: pd.DataFrame, *, row: str, column: str, value: str, agg: str = "mean",
    title: str = "Mean scores", colour_title: str = "Score", zrange: tuple[float, float] | None = (0, 100),
) -> go.Figure:
    """A ``row`` × ``column`` grid of ``agg``(value), e.g. mean score per scale and time point."""
    check_columns(data, [row, column, value])
    grid = data.pivot_table(index=row, columns=column, values=value, aggfunc=agg, sort=False)
    z = grid.to_numpy(dtype=float)
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(c) for c in grid.columns], y=[str(r) for r in grid.index], colorscale="Cividis",
        zmin=zrange[0] if zrange else None, zmax=zrange[1] if zrange else None,
        colorbar={"title": {"text": colour_title}},
        text=np.where(np.isnan(z), "", np.vectorize(lambda v: f"{v:.1f}")(z)),
        texttemplate="%{text}", hoverongaps=False,
    ))
    fig = _style(fig, title, column, row)
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return fig
