"""The account report: one self-contained HTML page from the job's history.

:func:`job_report_html` renders a :class:`~allocator.reports.history.JobHistory` with the
sections *Today's plan* (with alerts grouped by what to do), *What changed since the
previous run*, *History* (budgets, delivery, posterior CPA, stages, edits, alerts) and
*The account* (spend against budget, blended CPA against target, unspent and stranded
budget). :func:`write_job_report` writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from allocator.reports.history import JobHistory, RunSnapshot, alert_spans
from allocator.reports.page import figure_div, render_page, write_page

__all__ = ["ALERT_ACTIONS", "EditRow", "job_report_html", "write_job_report"]

ALERT_ACTIONS: Mapping[str, str] = {
    "auth_expiring": "Renew a Spark authorization code",
    "auth_lapsed": "Renew a Spark authorization code",
    "fatigued": "Refresh a fatigued creative",
    "data_missing": "Check missing data",
    "shortfall": "Review the account budget",
    "infeasible": "Review the account budget",
}
"""What the user must do about each alert kind (other kinds: ``Look into it``)."""


@dataclass(frozen=True, slots=True)
class EditRow:
    """One edit sent to the platform, as the report lists it."""

    as_of: date
    run_id: int
    seq: int
    adgroup_id: str
    name: str
    kind: str
    from_value: str
    to_value: str
    outcome: str
    detail: str  # why it failed or was not sent (empty when applied)


def _plan_rows(history: JobHistory, run: RunSnapshot) -> list[dict[str, Any]]:
    return [{**row, "name": history.name(row["adgroup_id"])} for row in run.plan["adgroups"]]


def _alert_groups(history: JobHistory, run: RunSnapshot) -> dict[str, list[dict[str, str]]]:
    groups: dict[str, list[dict[str, str]]] = {}
    for a in run.plan["alerts"]:
        action = ALERT_ACTIONS.get(a["kind"], "Look into it")
        groups.setdefault(action, []).append(
            {"kind": a["kind"], "who": history.name(a["adgroup_id"]), "message": a["message"]}
        )
    return groups


def _changes_since(history: JobHistory) -> list[str]:
    """What differs between the latest planning day and the one before, in words."""
    daily = history.daily
    if len(daily) < 2:
        return []
    before, now = daily[-2], daily[-1]
    old = {r["adgroup_id"]: r for r in before.plan["adgroups"]}
    lines: list[str] = []
    for row in now.plan["adgroups"]:
        gid, name = row["adgroup_id"], history.name(row["adgroup_id"])
        prev = old.pop(gid, None)
        if prev is None:
            lines.append(f"{name}: new, {row['stage']}, {row['to_budget']:,.2f}/day")
            continue
        if prev["stage"] != row["stage"]:
            lines.append(f"{name}: stage {prev['stage']} → {row['stage']}")
        if prev["to_status"] != row["to_status"]:
            lines.append(f"{name}: {prev['to_status']}d → {row['to_status']}d")
        elif round(prev["to_budget"], 2) != round(row["to_budget"], 2):
            lines.append(
                f"{name}: budget {prev['to_budget']:,.2f} → {row['to_budget']:,.2f} "
                f"{history.currency}/day"
            )
    lines += [f"{history.name(gid)}: no longer in the plan" for gid in old]
    was = {(a["kind"], a["adgroup_id"]) for a in before.plan["alerts"]}
    is_ = {(a["kind"], a["adgroup_id"]) for a in now.plan["alerts"]}
    lines += [f"alert raised: {k} ({history.name(g)})" for k, g in sorted(is_ - was, key=str)]
    lines += [f"alert cleared: {k} ({history.name(g)})" for k, g in sorted(was - is_, key=str)]
    return lines


def edit_rows(history: JobHistory) -> list[EditRow]:
    """Every change sent (or to be sent) in the window, with its outcome; dry runs left out.

    A failed change whose ad group got the same kind of change in a later run is marked
    ``failed, retried``.
    """
    rows: list[EditRow] = []
    sent = [(run, c) for run in history.runs for c in run.changes if c.state != "skipped"]
    for i, (run, c) in enumerate(sent):
        outcome = str(c.state)
        if outcome == "failed" and any(
            later.run_id > run.run_id and d.adgroup_id == c.adgroup_id and d.kind == c.kind
            for later, d in sent[i + 1 :]
        ):
            outcome = "failed, retried"
        rows.append(
            EditRow(
                run.as_of,
                run.run_id,
                c.seq,
                c.adgroup_id,
                history.name(c.adgroup_id),
                str(c.kind),
                c.from_value,
                c.to_value,
                outcome,
                c.error or "",
            )
        )
    return rows


def _account_totals(history: JobHistory) -> dict[str, float | None]:
    spend = sum(o.spend for o in history.observations)
    conversions = sum(o.conversions for o in history.observations)
    days = {o.date for o in history.observations}
    budget_by_day = {r.as_of: float(r.plan["daily_budget"]) for r in history.daily}
    budget = sum(budget_by_day.get(d, 0.0) for d in days)
    return {
        "spend": spend,
        "budget": budget,
        "conversions": conversions,
        "cpa": spend / conversions if conversions > 0 else None,
        "target": history.target,
        "unspent": max(0.0, budget - spend),
        "stranded": sum(max(0.0, float(r.plan.get("shortfall", 0.0))) for r in history.daily),
    }


def _figures(history: JobHistory) -> dict[str, str]:
    from allocator.reports import job_figures as jf

    return {
        "budget": figure_div(jf.budget_figure(history), "chart-budget"),
        "spend": figure_div(jf.delivery_figure(history, "spend"), "chart-spend"),
        "conversions": figure_div(jf.delivery_figure(history, "conversions"), "chart-conversions"),
        "cpa": figure_div(jf.cpa_figure(history), "chart-cpa"),
        "stages": figure_div(jf.stage_figure(history), "chart-stages"),
        "account": figure_div(jf.account_figure(history), "chart-account"),
        "unspent": figure_div(jf.unspent_figure(history), "chart-unspent"),
    }


def job_report_html(history: JobHistory) -> str:
    """The account report as one self-contained HTML page.

    Raises:
        ValueError: the history holds no run.
    """
    if not history.runs:
        raise ValueError(f"no run of account {history.account!r} to report on")
    latest = history.runs[-1]
    return render_page(
        "job.html.j2",
        history=history,
        latest=latest,
        plan_rows=_plan_rows(history, latest),
        alert_groups=_alert_groups(history, latest),
        since=_changes_since(history),
        previous=history.daily[-2] if len(history.daily) > 1 else None,
        edits=edit_rows(history),
        spans=alert_spans(history),
        totals=_account_totals(history),
        charts=_figures(history),
    )


def write_job_report(history: JobHistory, path: Path) -> Path:
    """Write the account report to ``path``; the path."""
    return write_page(path, job_report_html(history))
