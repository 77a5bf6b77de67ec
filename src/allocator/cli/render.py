"""How ``allocator rebalance`` shows a result: tables, JSON, a Markdown file, the exit line.

The job returns a :class:`~allocator.job.results.RebalanceResult`; this module is the only
place that turns it into text. Money is in the account currency; budgets are currency per
day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from allocator.cli.plan_table import plan_table
from allocator.exit_codes import ExitCode
from allocator.job.records import Change
from allocator.job.results import ApplyReport, RebalanceResult
from allocator.plans import Plan

__all__ = [
    "markdown_report",
    "render_alerts",
    "render_apply",
    "render_breaker",
    "render_noop",
    "render_plan",
    "show_result",
]


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def render_plan(plan: Plan, console: Console) -> None:
    """Print the plan as a table that fits the console, its totals, then its alerts."""
    console.print(plan_table(plan, console.width))
    n_changes = sum(a.changes for a in plan.adgroups)
    console.print(
        f"planned total {plan.planned_total:,.2f} of {plan.daily_budget:,.2f} {plan.currency}"
        + (f" (shortfall {plan.shortfall:,.2f})" if plan.shortfall else "")
        + (f"; {n_changes} ad groups change" if n_changes else "; No changes")
        + f"; run {plan.run_id}",
        highlight=False,
    )
    render_alerts(plan, console)


def render_alerts(plan: Plan, console: Console) -> None:
    """Print the plan's alerts, one line each (each names the ad group and its creator)."""
    if not plan.alerts:
        return
    console.print("alerts:")
    for alert in plan.alerts:
        where = f"{alert.adgroup_id}: " if alert.adgroup_id else ""
        line = f"  [{alert.kind}] {where}{alert.message}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def render_noop(plan: Plan, report: ApplyReport, console: Console) -> None:
    """A no-op ``--apply``: "No changes", why, and the alerts (no plan table)."""
    console.print(f"No changes. {report.message[:1].upper()}{report.message[1:]}.", highlight=False)
    render_alerts(plan, console)


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


def render_apply(report: ApplyReport, console: Console, names: Mapping[str, str]) -> None:
    """Print what ``--apply`` did: each change (ad group by name) with its state, the outcome.

    The request id and error columns show only when some change has one; an ad group's
    name is shortened before anything else is.
    """
    if report.changes:
        table = Table(
            title=f"changes of store run {report.store_run_id}",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        rows = [
            (str(c.seq), names.get(c.adgroup_id) or c.adgroup_id,
             f"{c.kind} {c.from_value} -> {c.to_value}", str(c.state), c.request_id or "",
             c.error or "")
            for c in report.changes
        ]  # fmt: skip
        shown = [i for i in range(6) if i < 4 or any(r[i] for r in rows)]
        for i in shown:
            table.add_column(
                ("#", "ad group", "change", "state", "request id", "error")[i],
                no_wrap=i < 4,
                overflow="ellipsis" if i == 1 else "fold",
                ratio=1 if i == 1 else None,
            )
        for row in rows:
            table.add_row(*(row[i] for i in shown))
        console.print(table)
    console.print(f"{report.mode}: {report.outcome}: {report.message}", highlight=False)


def _markdown_outcome(report: ApplyReport | None) -> str:
    if report is None:
        return "**plan only** (the files platform): nothing was applied"
    return f"**{report.mode}: {report.outcome}**: {report.message}"


def _markdown_table(plan: Plan) -> list[str]:
    """The plan's Markdown table: named ad groups, the objective's metric, the reasons."""
    roas = plan.objective == "roas"
    lines = [
        f"| ad group | id | stage | budget | status | {'ROAS' if roas else 'CPA'} (90%) "
        "| P(best) | reason |",
        "|---|---|---|---:|---|---:|---:|---|",
    ]
    for a in plan.adgroups:
        status = (
            a.from_status if a.from_status == a.to_status else f"{a.from_status} -> {a.to_status}"
        )
        mean, low, high = (
            (a.roas_mean, a.roas_low, a.roas_high) if roas else (a.cpa_mean, a.cpa_low, a.cpa_high)
        )
        lines.append(
            f"| {(a.name or a.adgroup_id).replace('|', '/')} | {a.adgroup_id} | {a.stage} "
            f"| {_money(a.from_budget)} -> {_money(a.to_budget)} | {status} "
            f"| {_money(mean)} ({_money(low)}-{_money(high)}) "
            f"| {a.p_best:.2f} | {a.reason.replace('|', '/')} |"
        )
    return lines


def markdown_report(plan: Plan, report: ApplyReport | None, path: Path) -> None:
    """Write the run as Markdown: the outcome, the plan table, the changes and the alerts.

    ``report`` is ``None`` on the read-only ``files`` platform (a plan only).
    """
    cur = plan.currency
    lines = [
        f"# {plan.account}: rebalance for {plan.as_of}",
        "",
        _markdown_outcome(report),
        "",
        f"Daily budget {plan.daily_budget:,.2f} {cur}; planned {plan.planned_total:,.2f} {cur}; "
        + ("" if report is None else f"budget moved {report.budget_moved:,.2f} {cur}/day; ")
        + f"plan {plan.run_id}.",
        "",
        *_markdown_table(plan),
    ]
    if report is not None and report.changes:
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
    result: RebalanceResult,
    *,
    as_json: bool,
    report_md: Path | None,
    out: TextIO,
    err: TextIO,
    width: int | None = None,
) -> ExitCode:
    """Print ``result`` (JSON or tables), a failure line, the Markdown report; the exit code.

    Args:
        result: what the job returned.
        as_json: print the plan JSON (with its ``apply`` object) instead of tables.
        report_md: where to write the Markdown report (``None``: no report).
        out: where the plan and results go.
        err: where a failure line goes.
        width: the tables' width in characters (default: the terminal's, else 80 or
            ``$COLUMNS``).
    """
    console = Console(file=out, width=width)
    report = result.report
    noop = report is not None and report.outcome == "noop"
    if as_json:
        out.write(json.dumps(result.to_json_dict(), indent=2))
        out.write("\n")
    elif noop and report is not None:
        render_noop(result.plan, report, console)
    else:
        render_plan(result.plan, console)
        render_breaker(result.breaker, console)
    if report_md is not None:
        markdown_report(result.plan, report, report_md)
    if report is None:
        return result.exit_code
    if not as_json and not noop:
        render_apply(report, console, {a.adgroup_id: a.name for a in result.plan.adgroups})
    if result.exit_code is not ExitCode.OK:
        print(f"allocator: {report.outcome}: {report.message}", file=err)
    return result.exit_code
