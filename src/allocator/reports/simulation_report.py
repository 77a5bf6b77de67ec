"""A simulation's report: one self-contained HTML page from its results folder.

:func:`simulation_report_html` reads ``results.csv`` (one row per scenario, policy and
seed) and, when present, ``curves.json`` (:mod:`allocator.sim.curves`) from a folder
written by ``allocator simulate``, and renders:

* a conclusion in plain words, computed from the numbers: which engine policy won against
  the best baseline, by how much (paired ratio of conversions) and how sure (its 95%
  bootstrap interval and whether it excludes "no difference");
* the summary table (mean and 95% interval per policy and metric, intervals of
  non-negative quantities clipped at zero) and each engine against each baseline;
* curves of cumulative conversions and of regret, and the budget shares per arm with a
  legend (from ``curves.json``; a folder from before it existed gets the tables only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.reports.page import PALETTE, figure_div, render_page, write_page
from allocator.sim.curves import read_curves
from allocator.sim.policy_configs import ENGINE_KINDS
from allocator.sim.report import Interval, mean_interval, paired_ratio

__all__ = ["Comparison", "conclusion", "simulation_report_html", "write_simulation_report"]

_METRICS = (
    ("conversions", "conversions", 1),
    ("spend", "spend", 1),
    ("cpa", "CPA", 2),
    ("oracle_ratio", "ratio to oracle", 3),
    ("regret", "regret (conv.)", 1),
    ("wasted_spend", "spend on never-best arms", 1),
    ("stranded_spend", "stranded spend", 1),
    ("budget_edits", "budget edits", 1),
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One engine policy against one baseline over the same seeds (ratios of totals)."""

    engine: str
    baseline: str
    conversions: Interval
    spend: Interval


def _kind(policy: str, kinds: dict[str, str]) -> str:
    return kinds.get(policy, policy.split("[")[0])


def comparisons(
    frame: pd.DataFrame, policies: list[str], kinds: dict[str, str]
) -> list[Comparison]:
    """Each engine policy against each baseline (not the oracle), paired by seed."""
    engines = [p for p in policies if _kind(p, kinds) in ENGINE_KINDS]
    baselines = [p for p in policies[1:] if _kind(p, kinds) not in ENGINE_KINDS]
    out = []
    for i, engine in enumerate(engines):
        mine = frame[frame.policy == engine].sort_values(["scenario", "seed"])
        for j, other in enumerate(baselines):
            theirs = frame[frame.policy == other].sort_values(["scenario", "seed"])
            seed = 1000 * i + j
            conv = paired_ratio(mine.conversions.to_numpy(), theirs.conversions.to_numpy(), seed)
            spend = paired_ratio(mine.spend.to_numpy(), theirs.spend.to_numpy(), seed)
            out.append(Comparison(engine, other, conv, spend))
    return out


def conclusion(found: list[Comparison], oracle: dict[str, Interval]) -> str:
    """The result in plain words: who won, by how much, how sure."""
    if not found:
        return "No engine policy and baseline to compare: see the table."
    by_engine: dict[str, list[Comparison]] = {}
    for c in found:
        by_engine.setdefault(c.engine, []).append(c)
    # each engine is judged against its strongest baseline; the best such engine speaks
    worst = {e: min(cs, key=lambda c: c.conversions.mean) for e, cs in by_engine.items()}
    best = max(worst.values(), key=lambda c: c.conversions.mean)
    r = best.conversions
    pct, low, high = (r.mean - 1) * 100, (r.low - 1) * 100, (r.high - 1) * 100
    if r.low > 1:
        verdict = f"{best.engine} won"
        sure = "the 95% interval excludes no difference"
    elif r.high < 1:
        verdict = f"{best.baseline} beat {best.engine}"
        sure = "the 95% interval excludes no difference"
    else:
        verdict = f"no clear winner between {best.engine} and {best.baseline}"
        sure = "the 95% interval includes no difference"
    share = oracle.get(best.engine)
    tail = ""
    if share is not None and math.isfinite(share.mean):
        tail = f" It reached {share.mean * 100:.0f}% of the oracle's expected conversions."
    return (
        f"{verdict[0].upper()}{verdict[1:]}: {best.engine} got {pct:+.1f}% conversions "
        f"against the strongest baseline, {best.baseline} (95% interval {low:+.1f}% to "
        f"{high:+.1f}%, {r.n} paired seeds; {sure}), with {(best.spend.mean - 1) * 100:+.1f}% "
        f"spend.{tail}"
    )


def _summary_rows(frame: pd.DataFrame, policies: list[str]) -> list[dict[str, Any]]:
    by = {p: g for p, g in frame.groupby("policy", sort=False)}
    rows = []
    for column, label, digits in _METRICS:
        if column not in frame.columns:
            continue
        floor = None if column == "regret" else 0.0
        cells = [mean_interval(by[p][column].to_numpy(dtype=float), floor=floor) for p in policies]
        rows.append({"label": label, "cells": [c.format(digits) for c in cells]})
    return rows


def _band_figure(curves: dict[str, Any], labels: tuple[str, str], colours: dict[str, str]) -> Any:
    """Mean curve and 95% band per policy; ``labels`` is ``(title, y title)``."""
    import plotly.graph_objects as go

    title, ytitle = labels
    fig = go.Figure()
    days: list[int] = []
    for policy, c in curves.items():
        days = list(range(1, len(c["mean"]) + 1))
        colour = colours[policy]
        fig.add_trace(
            go.Scatter(
                x=days + days[::-1],
                y=c["high"] + c["low"][::-1],
                fill="toself",
                line={"width": 0},
                fillcolor=colour,
                opacity=0.15,
                hoverinfo="skip",
                showlegend=False,
                legendgroup=policy,
            )
        )
        dash = "dash" if colour == "#000000" else "solid"
        fig.add_trace(
            go.Scatter(
                x=days,
                y=c["mean"],
                name=policy,
                legendgroup=policy,
                mode="lines",
                line={"color": colour, "dash": dash},
            )
        )
    fig.update_xaxes(title="day", dtick=max(1, len(days) // 15), tick0=1)
    fig.update_yaxes(title=ytitle, rangemode="tozero")
    fig.update_layout(title=title)
    return fig


def _shares_figure(shares: dict[str, list[list[float]]], seed: int) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    policies = list(shares)
    cols = min(3, len(policies))
    rows = -(-len(policies) // cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=policies, shared_yaxes=True, vertical_spacing=0.12
    )
    for i, policy in enumerate(policies):
        arr = np.asarray(shares[policy])
        days = list(range(1, arr.shape[0] + 1))
        for k in range(arr.shape[1]):
            fig.add_trace(
                go.Scatter(
                    x=days,
                    y=arr[:, k].round(4).tolist(),
                    name=f"arm {k + 1}",
                    legendgroup=f"arm {k + 1}",
                    showlegend=i == 0,
                    stackgroup=f"p{i}",
                    mode="none",
                    fillcolor=PALETTE[k % len(PALETTE)],
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
    fig.update_yaxes(range=[0, 1])
    fig.update_xaxes(dtick=max(1, len(days) // 6), tick0=1)
    fig.update_layout(title=f"Daily budget share per arm (seed {seed})")
    fig.update_layout(height=300 * rows + 120)
    return fig


def _charts(curves: dict[str, Any] | None) -> dict[str, str]:
    if curves is None:
        return {}
    colours = {
        p: "#000000" if i == 0 else PALETTE[(i - 1) % len(PALETTE)]
        for i, p in enumerate(curves["policies"])
    }
    cum = _band_figure(
        curves["cumulative_conversions"],
        ("Cumulative conversions (mean, 95% band)", "conversions"),
        colours,
    )
    regret = _band_figure(
        curves["regret"],
        (
            "Cumulative regret against the oracle (mean, 95% band)",
            "expected conversions short of the oracle",
        ),
        colours,
    )
    shares = _shares_figure(curves["shares"], int(curves["plot_seed"]))
    charts = {
        "cumulative": figure_div(cum, "chart-cumulative"),
        "regret": figure_div(regret, "chart-regret"),
    }
    html = figure_div(shares, "chart-shares")
    charts["shares"] = html.replace("height:100%", "height:auto", 1)
    return charts


def simulation_report_html(folder: Path) -> str:
    """The report of the simulation whose results are in ``folder``.

    Raises:
        FileNotFoundError: the folder has no ``results.csv``.
    """
    path = folder / "results.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no results.csv (run allocator simulate first)")
    frame = pd.read_csv(path)
    curves = read_curves(folder)
    policies = list(curves["policies"]) if curves else list(dict.fromkeys(frame.policy))
    kinds = dict(curves["kinds"]) if curves else {}
    found = comparisons(frame, policies, kinds)
    by = {p: g for p, g in frame.groupby("policy", sort=False)}
    oracle = {p: mean_interval(by[p]["oracle_ratio"].to_numpy(dtype=float)) for p in policies}
    name = str(curves["name"]) if curves else str(frame.scenario.iloc[0])
    return render_page(
        "simulation.html.j2",
        name=name,
        folder=folder.name,
        n_seeds=int(frame.seed.nunique()),
        days=curves["days"] if curves else None,
        policies=policies,
        summary=_summary_rows(frame, policies),
        comparisons=found,
        conclusion=conclusion(found, oracle),
        charts=_charts(curves),
    )


def write_simulation_report(folder: Path, path: Path | None = None) -> Path:
    """Write the report of ``folder`` to ``path`` (default ``folder/report.html``)."""
    return write_page(path or folder / "report.html", simulation_report_html(folder))
