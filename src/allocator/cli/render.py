"""How ``allocator rebalance`` shows a result: tables, JSON, a Markdown file, the exit line.

The job returns a :class:`~allocator.job.results.RebalanceResult`; this module is the only
place that turns it into text. Money is in the account currency; budgets are currency per
day.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from allocator.exit_codes import ExitCode
from allocator.job.records import Change
from allocator.job.results import ApplyReport, RebalanceResult
from allocator.plans import Plan

__all__ = ["markdown_report", "render_apply", "render_breaker", "render_plan", "show_result"]


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def render_plan(plan: Plan, console: Console) -> None:
    """Print the plan as a readable table, then its alerts."""
    table = Table(
        title=(
            f"{plan.account}: plan for {plan.as_of} "
            f"(daily budget {plan.daily_budget:,.2f} {plan.currency})"
        ),
        title_justify="left",
    )
    for name, justify in (
        ("ad group", "left"),
        ("stage", "left"),
        ("budget", "right"),
        ("status", "left"),
        ("CPA (90%)", "right"),
        ("P(best)", "right"),
        ("reason", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for a in plan.adgroups:
        budget = f"{_money(a.from_budget)} -> {_money(a.to_budget)}"
        status = (
            a.from_status if a.from_status == a.to_status else f"{a.from_status}->{a.to_status}"
        )
        cpa = f"{_money(a.cpa_mean)} ({_money(a.cpa_low)}-{_money(a.cpa_high)})"
        table.add_row(
            a.adgroup_id, a.stage, budget, status, cpa, f"{a.p_best:.2f}", a.reason.split(";")[0]
        )
    console.print(table)
    console.print(
        f"planned total {plan.planned_total:,.2f} of {plan.daily_budget:,.2f} {plan.currency}"
        + (f" (shortfall {plan.shortfall:,.2f})" if plan.shortfall else "")
        + f"; {sum(a.changes for a in plan.adgroups)} ad groups change; run {plan.run_id}"
    )
    if plan.alerts:
        console.print("alerts:")
        for alert in plan.alerts:
            where = f"{alert.adgroup_id}: " if alert.adgroup_id else ""
            console.print(f"  [{alert.kind}] {where}{alert.message}", highlight=False, markup=False)


def render_breaker(reasons: Sequence[str], console: Console) -> None:
    """Say why the circuit breaker holds the plan back from ``--apply`` (nothing if not)."""
    for reason in reasons:
        console.print(
            f"circuit breaker: {reason}: --apply refuses this plan unless --force",
            highlight=False,
            markup=False,
            soft_wrap=True,  # one line each, whatever the width (a terminal wraps it)
        )


def _change_rows(changes: Sequence[Change]) -> list[tuple[str, ...]]:
    return [
        (
            str(c.seq),
            c.adgroup_id,
            str(c.kind),
            f"{c.from_value} -> {c.to_value}",
            str(c.state),
            c.request_id or "-",
            c.error or "",
        )
        for c in changes
    ]


_CHANGE_COLUMNS = ("#", "ad group", "kind", "change", "state", "request id", "error")


def render_apply(report: ApplyReport, console: Console) -> None:
    """Print what ``--apply`` did: each change with its state, then the outcome line."""
    if report.changes:
        table = Table(title=f"changes of store run {report.store_run_id}", title_justify="left")
        for name in _CHANGE_COLUMNS:
            table.add_column(name)
        for row in _change_rows(report.changes):
            table.add_row(*row)
        console.print(table)
    console.print(f"{report.mode}: {report.outcome}: {report.message}", highlight=False)


def markdown_report(plan: Plan, report: ApplyReport, path: Path) -> None:
    """Write the run as Markdown: the plan table, the changes, the outcome and the alerts."""
    cur = plan.currency
    lines = [
        f"# {plan.account}: rebalance for {plan.as_of}",
        "",
        f"**{report.mode}: {report.outcome}**: {report.message}",
        "",
        f"Daily budget {plan.daily_budget:,.2f} {cur}; planned {plan.planned_total:,.2f} {cur}; "
        f"budget moved {report.budget_moved:,.2f} {cur}/day; plan {plan.run_id}.",
        "",
        "| ad group | stage | budget | status | CPA (90%) | P(best) | reason |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for a in plan.adgroups:
        status = (
            a.from_status if a.from_status == a.to_status else f"{a.from_status} -> {a.to_status}"
        )
        lines.append(
            f"| {a.adgroup_id} | {a.stage} | {_money(a.from_budget)} -> {_money(a.to_budget)} "
            f"| {status} | {_money(a.cpa_mean)} ({_money(a.cpa_low)}-{_money(a.cpa_high)}) "
            f"| {a.p_best:.2f} | {a.reason.replace('|', '/')} |"
        )
    if report.changes:
        lines += ["", "## Changes", "", "| " + " | ".join(_CHANGE_COLUMNS) + " |"]
        lines.append("|" + "---|" * len(_CHANGE_COLUMNS))
        lines += ["| " + " | ".join(row) + " |" for row in _change_rows(report.changes)]
    if plan.alerts:
        lines += ["", "## Alerts", ""]
        lines += [
            f"- **{a.kind}** {a.adgroup_id + ': ' if a.adgroup_id else ''}{a.message}"
            for a in plan.alerts
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def show_result(
    result: RebalanceResult, *, as_json: bool, report_md: Path | None, out: TextIO, err: TextIO
) -> ExitCode:
    """Print ``result`` (JSON or tables), a failure line, the Markdown report; the exit code.

    Args:
        result: what the job returned.
        as_json: print the plan JSON (with its ``apply`` object) instead of tables.
        report_md: where to write the Markdown report (``None``: no report).
        out: where the plan and results go.
        err: where a failure line goes.
    """
    console = Console(file=out, width=160)
    if as_json:
        out.write(json.dumps(result.to_json_dict(), indent=2))
        out.write("\n")
    else:
        render_plan(result.plan, console)
        render_breaker(result.breaker, console)
    report = result.report
    if report is None:
        return result.exit_code
    if not as_json:
        render_apply(report, console)
    if result.exit_code is not ExitCode.OK:
        print(f"allocator: {report.outcome}: {report.message}", file=err)
    if report_md is not None:
        markdown_report(result.plan, report, report_md)
    return result.exit_code
