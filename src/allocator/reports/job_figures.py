"""The job report's charts, as plotly figures (one trace per creative where per creative).

Each function takes the :class:`~allocator.reports.history.JobHistory` and returns a
``plotly.graph_objects.Figure``; plotly is imported inside them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from allocator.reports.history import JobHistory
from allocator.reports.page import PALETTE

__all__ = [
    "account_figure",
    "budget_figure",
    "cpa_figure",
    "delivery_figure",
    "stage_figure",
    "unspent_figure",
]

_DAY_MS = 86_400_000.0

_STAGE_COLOURS = {
    "testing": "#1f77b4",
    "scaling": "#2ca02c",
    "resting": "#bcbd22",
    "paused": "#7f7f7f",
    "blocked": "#d62728",
}


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _day_axis(fig: Any, title: str, history: JobHistory) -> None:
    """Whole-day ticks (every day up to ~2 weeks, then every few days) over the window."""
    days = [r.as_of for r in history.runs] + [o.date for o in history.observations]
    span = (max(days) - min(days)).days + 1 if days else 1
    fig.update_xaxes(type="date", dtick=_DAY_MS * max(1, -(-span // 15)), tickformat="%b %d")
    if days:
        fig.update_xaxes(range=[min(days) - timedelta(hours=12), max(days) + timedelta(hours=12)])
    fig.update_layout(title=title)


def budget_figure(history: JobHistory) -> Any:
    """Planned budget per ad group per planning day (0 when paused)."""
    go = _go()
    fig = go.Figure()
    runs = history.daily
    for i, gid in enumerate(history.adgroup_ids):
        xs, ys = [], []
        for run in runs:
            row = next((r for r in run.plan["adgroups"] if r["adgroup_id"] == gid), None)
            if row is not None:
                xs.append(run.as_of)
                ys.append(row["to_budget"] if row["to_status"] == "enable" else 0.0)
        fig.add_trace(
            go.Scatter(x=xs, y=ys, name=history.name(gid), mode="lines", line={"color": _colour(i)})
        )
    _day_axis(fig, f"Budget per ad group ({history.currency}/day)", history)
    return fig


def delivery_figure(history: JobHistory, field: str) -> Any:
    """Daily ``spend`` or ``conversions`` per creative, stacked bars."""
    go = _go()
    fig = go.Figure()
    per: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for ob in history.observations:
        per[ob.adgroup_id][ob.date] += float(getattr(ob, field))
    for i, gid in enumerate(history.adgroup_ids):
        days = sorted(per[gid])
        fig.add_trace(
            go.Bar(
                x=days,
                y=[per[gid][d] for d in days],
                name=history.name(gid),
                marker={"color": _colour(i)},
            )
        )
    fig.update_layout(barmode="stack")
    unit = f" ({history.currency})" if field == "spend" else ""
    _day_axis(fig, f"Daily {field} per creative{unit}", history)
    return fig


def cpa_figure(history: JobHistory) -> Any:
    """Posterior mean CPA per creative per planning day with its 90% interval."""
    go = _go()
    fig = go.Figure()
    for i, gid in enumerate(history.adgroup_ids):
        xs, mean, plus, minus = [], [], [], []
        for run in history.daily:
            row = next((r for r in run.plan["adgroups"] if r["adgroup_id"] == gid), None)
            if row is None or row["cpa_mean"] is None:
                continue
            low, high = row["cpa_low"], row["cpa_high"]
            xs.append(run.as_of)
            mean.append(row["cpa_mean"])
            top = high if high is not None else row["cpa_mean"]
            bottom = low if low is not None else row["cpa_mean"]
            plus.append(round(max(0.0, top - row["cpa_mean"]), 2))
            minus.append(round(max(0.0, row["cpa_mean"] - bottom), 2))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=mean,
                name=history.name(gid),
                mode="lines",
                line={"color": _colour(i)},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": plus,
                    "arrayminus": minus,
                    "thickness": 1,
                },
            )
        )
    if history.objective == "cpa" and history.target is not None:
        fig.add_hline(y=history.target, line_dash="dash", annotation_text="target CPA")
    fig.update_yaxes(rangemode="tozero")
    _day_axis(
        fig, f"Posterior CPA per creative, mean and 90% interval ({history.currency})", history
    )
    return fig


def stage_figure(history: JobHistory) -> Any:
    """The stage of each creative on each planning day, as one heatmap (a colour per stage).

    One trace for all creatives keeps a 30-day page small: names and days appear once.
    """
    go = _go()
    stages = list(_STAGE_COLOURS)
    ids = list(reversed(history.adgroup_ids))
    runs = history.daily
    z: list[list[float | None]] = [[None] * len(runs) for _ in ids]
    row_of = {gid: k for k, gid in enumerate(ids)}
    for j, run in enumerate(runs):
        for row in run.plan["adgroups"]:
            if row["stage"] in stages:
                z[row_of[row["adgroup_id"]]][j] = stages.index(row["stage"])
    n = len(stages)
    scale = [
        [edge / n, colour]
        for k, colour in enumerate(_STAGE_COLOURS.values())
        for edge in (k, k + 1)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[r.as_of for r in runs],
            y=[history.name(g) for g in ids],
            zmin=-0.5,
            zmax=n - 0.5,
            colorscale=scale,
            xgap=1,
            ygap=1,
            name="stage",
            colorbar={"tickvals": list(range(n)), "ticktext": stages, "title": "stage"},
            text=[[None if v is None else stages[int(v)] for v in line] for line in z],
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
        )
    )
    _day_axis(fig, "Stage timeline", history)
    fig.update_layout(margin={"l": 260})
    return fig


def _daily_totals(history: JobHistory) -> tuple[list[date], list[float], list[float]]:
    spend: dict[date, float] = defaultdict(float)
    conv: dict[date, float] = defaultdict(float)
    for ob in history.observations:
        spend[ob.date] += ob.spend
        conv[ob.date] += ob.conversions
    days = sorted(spend)
    return days, [spend[d] for d in days], [conv[d] for d in days]


def _budget_on(history: JobHistory) -> dict[date, float]:
    return {run.as_of: float(run.plan["daily_budget"]) for run in history.daily}


def account_figure(history: JobHistory) -> Any:
    """Daily spend against the daily budget, and the blended CPA against the target."""
    from plotly.subplots import make_subplots

    go = _go()
    days, spend, conv = _daily_totals(history)
    budget = _budget_on(history)
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=(
            f"Spend vs daily budget ({history.currency})",
            f"Blended CPA vs target ({history.currency})",
        ),
    )
    fig.add_trace(go.Bar(x=days, y=spend, name="spend", marker={"color": "#1f77b4"}), 1, 1)
    bdays = sorted(budget)
    fig.add_trace(
        go.Scatter(
            x=bdays,
            y=[budget[d] for d in bdays],
            name="daily budget",
            mode="lines",
            line={"color": "#333", "dash": "dash"},
        ),
        1,
        1,
    )
    cpa = [s / c if c > 0 else None for s, c in zip(spend, conv, strict=True)]
    fig.add_trace(
        go.Scatter(
            x=days, y=cpa, name="blended CPA", mode="lines+markers", line={"color": "#ff7f0e"}
        ),
        2,
        1,
    )
    if history.objective == "cpa" and history.target is not None:
        fig.add_trace(
            go.Scatter(
                x=days,
                y=[history.target] * len(days),
                name="target CPA",
                mode="lines",
                line={"color": "#2ca02c", "dash": "dot"},
            ),
            2,
            1,
        )
    fig.update_yaxes(rangemode="tozero")
    _day_axis(fig, "The account", history)
    return fig


def unspent_figure(history: JobHistory) -> Any:
    """Budget left unspent per day, and the part the plan could not place (stranded)."""
    go = _go()
    days, spend, _ = _daily_totals(history)
    budget = _budget_on(history)
    unspent = [
        max(0.0, budget[d] - s) if d in budget else None for d, s in zip(days, spend, strict=True)
    ]
    runs = history.daily
    fig = go.Figure()
    fig.add_trace(go.Bar(x=days, y=unspent, name="unspent", marker={"color": "#9467bd"}))
    fig.add_trace(
        go.Bar(
            x=[r.as_of for r in runs],
            y=[max(0.0, float(r.plan.get("shortfall", 0.0))) for r in runs],
            name="stranded (could not be planned)",
            marker={"color": "#d62728"},
        )
    )
    fig.update_yaxes(rangemode="tozero")
    _day_axis(fig, f"Unspent and stranded budget ({history.currency}/day)", history)
    return fig
