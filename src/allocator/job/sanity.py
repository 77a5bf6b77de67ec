"""Sanity guards between reading an account's data and planning from it.

* :func:`check_data_age`: the newest observation before the planning day must be at most
  ``[job] max_data_age_days`` old, else the job refuses to plan
  (:class:`~allocator.errors.StaleDataError`, exit code 1) unless stale data is allowed:
  budgets raised on evidence a fortnight old are a bet, not a decision.
* :func:`keep_without_data`: with no observation at all in the lookback window there is
  nothing to decide from, so every ad group keeps its budget and status, and the plan
  says so (an account-level ``no_data`` alert and each row's reason).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from allocator.core.arms import AdGroupStatus, Observation
from allocator.errors import StaleDataError
from allocator.plans import Plan, PlanAlert, PlannedAdGroup

__all__ = ["check_data_age", "keep_without_data", "newest_before"]


def newest_before(observations: Sequence[Observation], as_of: date) -> date | None:
    """The date of the newest observation dated before ``as_of`` (``None``: there is none)."""
    return max((o.date for o in observations if o.date < as_of), default=None)


def check_data_age(
    observations: Sequence[Observation],
    as_of: date,
    max_age_days: int,
    config_path: Path | None = None,
) -> None:
    """Refuse to plan ``as_of`` from observations older than ``max_age_days``.

    No observations at all is not stale: the plan then keeps every budget
    (:func:`keep_without_data`).

    Raises:
        StaleDataError: the newest observation before ``as_of`` is more than
            ``max_age_days`` days before it; the message says how old and how to override.
    """
    newest = newest_before(observations, as_of)
    if newest is None:
        return
    age = (as_of - newest).days
    if age <= max_age_days:
        return
    where = f" in {config_path}" if config_path is not None else ""
    raise StaleDataError(
        f"stale data: the newest observation is from {newest}, {age} days before the planning "
        f"day {as_of} (job.max_data_age_days = {max_age_days}{where}): no budgets planned; "
        "refresh the export, plan an earlier day with --as-of, or pass --allow-stale-data",
        newest=newest.isoformat(),
        age_days=age,
    )


def _kept(row: PlannedAdGroup, why: str) -> PlannedAdGroup:
    enabled = row.from_status == AdGroupStatus.ENABLE
    return dataclasses.replace(
        row,
        to_budget=row.from_budget if enabled else 0.0,
        to_status=row.from_status,
        reason=f"{why}; {row.reason}",
    )


def keep_without_data(plan: Plan, observations: Sequence[Observation], lookback_days: int) -> Plan:
    """``plan`` with every budget and status kept when no observation is in the window.

    The window is the ``lookback_days`` days before the plan's ``as_of``. Otherwise the
    plan is returned unchanged.
    """
    start = plan.as_of - timedelta(days=lookback_days)
    if any(start <= o.date < plan.as_of for o in observations):
        return plan
    why = "no data: budget and status kept"
    alert = PlanAlert(
        kind="no_data",
        adgroup_id=None,
        message=(
            f"no observations in the {lookback_days} days before {plan.as_of}: nothing to "
            "decide from, so no budget or status changes (check the export or the platform)"
        ),
    )
    alerts = tuple(a for a in plan.alerts if a.adgroup_id is not None)
    return dataclasses.replace(
        plan,
        adgroups=tuple(_kept(a, why) for a in plan.adgroups),
        alerts=(alert, *alerts),
        shortfall=0.0,
    )
