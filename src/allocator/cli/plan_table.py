"""The plan as a table that fits the terminal: a media buyer's view of one day's plan.

Every column has a priority. When the table cannot fit ``width`` even with the reason
wrapped to its narrowest, the lowest-priority columns are dropped first (P(best), then the
CPA or ROAS interval, then the status), so the ad group, its budget change, its stage and
the reason always show. Under the ROAS objective the metric column is ROAS (value per unit
of spend), not CPA. Money is in the account currency; budgets are currency per day.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from allocator.plans import Plan, PlannedAdGroup

__all__ = ["PlanColumn", "fitting_columns", "plan_columns", "plan_table"]

_REASON_MIN = 20
"""The reason column's narrowest width, characters (it wraps, never truncates)."""

_NAME_MAX = 26
"""Longest ad group name shown before it is shortened with an ellipsis."""


@dataclass(frozen=True, slots=True)
class PlanColumn:
    """One column of the plan table.

    Attributes:
        title: the header.
        cell: the cell text of an ad group.
        priority: lower is kept longer; columns are dropped from the highest number.
        justify: ``left`` or ``right``.
        wraps: the cells wrap (only the reason).
    """

    title: str
    cell: Callable[[PlannedAdGroup], str]
    priority: int
    justify: str = "left"
    wraps: bool = False


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _short(name: str) -> str:
    return name if len(name) <= _NAME_MAX else name[: _NAME_MAX - 1] + "…"


def _adgroup(a: PlannedAdGroup) -> str:
    return _short(a.name) if a.name else a.adgroup_id


def _budget(a: PlannedAdGroup) -> str:
    return f"{_money(a.from_budget)} -> {_money(a.to_budget)}"


def _status(a: PlannedAdGroup) -> str:
    return a.from_status if a.from_status == a.to_status else f"{a.from_status}->{a.to_status}"


def _cpa(a: PlannedAdGroup) -> str:
    return f"{_money(a.cpa_mean)} ({_money(a.cpa_low)}-{_money(a.cpa_high)})"


def _roas(a: PlannedAdGroup) -> str:
    return f"{_money(a.roas_mean)} ({_money(a.roas_low)}-{_money(a.roas_high)})"


def _reason(a: PlannedAdGroup) -> str:
    return a.reason.split(";")[0]


def plan_columns(objective: str) -> tuple[PlanColumn, ...]:
    """The table's columns in display order; the metric is ROAS under ``roas``, else CPA."""
    metric = (
        PlanColumn("ROAS (90%)", _roas, 5, "right")
        if objective == "roas"
        else PlanColumn("CPA (90%)", _cpa, 5, "right")
    )
    return (
        PlanColumn("ad group", _adgroup, 1),
        PlanColumn("id", lambda a: a.adgroup_id, 7),
        PlanColumn("stage", lambda a: a.stage, 2),
        PlanColumn("budget", _budget, 1, "right"),
        PlanColumn("status", _status, 4),
        metric,
        PlanColumn("P(best)", lambda a: f"{a.p_best:.2f}", 6, "right"),
        PlanColumn("reason", _reason, 3, wraps=True),
    )


def _content_width(column: PlanColumn, plan: Plan) -> int:
    """The column's width in characters: its widest cell or title (the reason's minimum)."""
    if column.wraps:
        return _REASON_MIN
    return max([len(column.title), *(len(column.cell(a)) for a in plan.adgroups)])


def _total_width(plan: Plan, columns: Sequence[PlanColumn]) -> int:
    """The table's width with each column at :func:`_content_width` (borders included)."""
    console = Console(width=10_000, file=io.StringIO())
    table = _table(plan, columns, narrowest=True)
    with console.capture() as capture:
        console.print(table)
    return max(len(line.rstrip()) for line in capture.get().splitlines()[2:])


def fitting_columns(plan: Plan, width: int) -> tuple[PlanColumn, ...]:
    """The columns that fit ``width``: the lowest-priority ones dropped first."""
    columns = list(plan_columns(plan.objective))
    while len(columns) > 1 and _total_width(plan, columns) > width:
        columns.remove(max(columns, key=lambda c: c.priority))
    return tuple(columns)


def _table(plan: Plan, columns: Sequence[PlanColumn], *, narrowest: bool = False) -> Table:
    """The table of ``columns``; ``narrowest``: each at its content width, reason cut."""
    table = Table(
        title=(
            f"{plan.account}: plan for {plan.as_of} "
            f"(daily budget {plan.daily_budget:,.2f} {plan.currency})"
        ),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in columns:
        width = _content_width(column, plan)
        table.add_column(
            column.title,
            justify=column.justify,  # type: ignore[arg-type]
            no_wrap=not column.wraps,
            min_width=width,
            max_width=width if narrowest else None,
        )
    for a in plan.adgroups:
        cells = [column.cell(a) for column in columns]
        if narrowest:
            cells = [
                c[:_REASON_MIN] if col.wraps else c for c, col in zip(cells, columns, strict=True)
            ]
        table.add_row(*(Text(c) for c in cells))
    return table


def plan_table(plan: Plan, width: int) -> Table:
    """The plan as a rich table no wider than ``width`` characters."""
    return _table(plan, fitting_columns(plan, width))
