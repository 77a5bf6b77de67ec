"""``allocator demo``: the scheduled job against a local emulation of the TikTok API.

Starts two sandboxes on 127.0.0.1 (same scenario and seed), runs ``--days`` simulated days
of ``allocator rebalance --apply`` against one and an even split of the same daily budget
against the other, all over real HTTP, then prints conversions and CPA side by side, the
budget shares over time and the alerts raised, and writes ``OUT/demo.png``,
``OUT/demo.md`` and the account's HTML report ``OUT/report.html``. See
:mod:`allocator.job.sandbox_demo`.
"""

from __future__ import annotations

import math
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from allocator.job.sandbox_demo import DemoResult, run_demo

__all__ = ["demo", "plot_demo", "register", "summary_lines"]


def _cpa(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:,.2f}"


def summary_lines(result: DemoResult) -> list[str]:
    """The headline figures as plain lines (also written to ``demo.md``)."""
    t = result.totals()
    cur = result.currency
    n = len(result.days)
    lift = (t["conversions"] / t["even_conversions"] - 1) * 100 if t["even_conversions"] else 0
    cpa_change = (t["cpa"] / t["even_cpa"] - 1) * 100 if math.isfinite(t["even_cpa"]) else 0
    return [
        f"{n} simulated days, daily budget {result.daily_budget:,.2f} {cur}, sandbox seed "
        f"{result.seed}; same simulated world for both policies",
        f"allocator : {t['conversions']:,.0f} conversions, spend {t['spend']:,.2f} {cur}, "
        f"CPA {_cpa(t['cpa'])} {cur}",
        f"even split: {t['even_conversions']:,.0f} conversions, spend {t['even_spend']:,.2f} "
        f"{cur}, CPA {_cpa(t['even_cpa'])} {cur}",
        f"difference: conversions {lift:+.1f}%, CPA {cpa_change:+.1f}%, spend "
        f"{t['spend'] - t['even_spend']:+,.2f} {cur}",
        f"budget edits: {result.n_edits} recorded by the sandbox, {result.n_store_changes} "
        "applied changes recorded by the job's store",
    ]


def _shares_table(result: DemoResult, every: int) -> Table:
    ids = list(result.days[0].budgets)
    table = Table(title="budget share per ad group (allocator), % of planned budget")
    table.add_column("day")
    for gid in ids:
        table.add_column(f"..{gid[-2:]}", justify="right")
    table.add_column("planned", justify="right")
    for i, d in enumerate(result.days):
        if i % every and i != len(result.days) - 1:
            continue
        total = sum(d.budgets.values())
        cells = [f"{100 * d.budgets[g] / total:.0f}" if total else "-" for g in ids]
        table.add_row(str(d.day), *cells, f"{total:,.0f}")
    return table


def _names_table(result: DemoResult) -> Table:
    table = Table(title="ad groups")
    table.add_column("id")
    table.add_column("name")
    for gid in result.days[0].budgets:
        table.add_row(f"..{gid[-2:]}", result.names.get(gid, gid))
    return table


def plot_demo(result: DemoResult, path: Path) -> None:
    """Cumulative conversions, daily CPA and budget shares over time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import numpy as np

    days = [d.day for d in result.days]
    conv = np.cumsum([d.conversions for d in result.days])
    even = np.cumsum([d.even_conversions for d in result.days])
    spend = np.cumsum([d.spend for d in result.days])
    even_spend = np.cumsum([d.even_spend for d in result.days])
    ids = list(result.days[0].budgets)
    budgets = np.array([[d.budgets[g] for g in ids] for d in result.days])
    fig, axes = plt.subplots(3, 1, figsize=(12, 11), sharex=True)
    axes[0].plot(days, conv, label="allocator")
    axes[0].plot(days, even, label="even split")
    axes[0].set_ylabel("cumulative conversions")
    with np.errstate(divide="ignore", invalid="ignore"):
        axes[1].plot(days, np.where(conv > 0, spend / conv, np.nan), label="allocator")
        axes[1].plot(days, np.where(even > 0, even_spend / even, np.nan), label="even split")
    axes[1].set_ylabel(f"cumulative CPA ({result.currency})")
    labels = [result.names.get(g, g) for g in ids]
    axes[2].stackplot(days, budgets.T, labels=labels)
    axes[2].set_ylabel(f"allocator budgets ({result.currency}/day)")
    axes[2].set_ylim(0, budgets.sum(axis=1).max() * 1.02 if budgets.size else 1)
    # the legend sits beside the stacked chart, never on it
    axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    for ax in axes[:2]:
        ax.legend(loc="upper left")
        ax.set_ylim(bottom=0)
    locator = mdates.DayLocator(interval=max(1, len(days) // 10))  # type: ignore[no-untyped-call]
    axes[2].xaxis.set_major_locator(locator)  # whole days only
    axes[2].xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))  # type: ignore[no-untyped-call]
    fig.autofmt_xdate()
    fig.suptitle("allocator demo: scheduled job vs even split on the same simulated account")
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown(result: DemoResult, lines: list[str]) -> str:
    text = ["# allocator demo", "", *[f"- {line}" for line in lines], "", "## Alerts", ""]
    text += [
        f"- {a.first} to {a.last}: **{a.kind}** {'' if a.adgroup_id else 'account: '}{a.message}"
        for a in result.alerts
    ]
    text += ["", "## Days", "", "| day | job | spend | conv | even spend | even conv |"]
    text.append("|---|---|---:|---:|---:|---:|")
    text += [
        f"| {d.day} | {d.outcome} | {d.spend:,.2f} | {d.conversions:,.0f} | "
        f"{d.even_spend:,.2f} | {d.even_conversions:,.0f} |"
        for d in result.days
    ]
    return "\n".join(text) + "\n"


def demo(
    days: Annotated[int, typer.Option("--days", min=1, max=120, help="Simulated days.")] = 30,
    out: Annotated[Path, typer.Option("--out", help="Directory for demo.png and demo.md.")] = Path(
        "demo-out"
    ),
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulated world.")] = 7,
) -> int:
    """Run the scheduled job for N simulated days against the local TikTok API emulation."""
    console = Console(width=140)
    started = time.monotonic()

    def progress(i: int, day: date, code: int) -> None:
        if code != 0:
            console.print(f"  day {i + 1} ({day}): the job exited {code}")

    console.print(f"allocator demo: {days} simulated days on two local sandboxes (seed {seed})")
    result = run_demo(days=days, seed=seed, progress=progress, report_html=out / "report.html")
    lines = summary_lines(result)
    console.print(_names_table(result))
    console.print(_shares_table(result, every=max(1, days // 6)))
    console.print("alerts raised:")
    for a in result.alerts:  # an ad group's alert names it (and its creator) itself
        who = "" if a.adgroup_id else "account: "
        line = f"  {a.first}..{a.last} [{a.kind}] {who}{a.message}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for line in lines:
        console.print(line, highlight=False)
    plot_demo(result, out / "demo.png")
    (out / "demo.md").write_text(_markdown(result, lines), encoding="utf-8")
    console.print(
        f"wrote {out / 'demo.png'}, {out / 'demo.md'} and {out / 'report.html'} in "
        f"{time.monotonic() - started:.1f} s"
    )
    failed = [d for d in result.days if d.exit_code != 0]
    return 1 if failed else 0


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the command line."""
    app.command("demo")(demo)
