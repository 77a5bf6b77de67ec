"""Plans built by hand for the store's tests: rows as plan-JSON-like dicts, made typed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from allocator.plans import Plan, PlanAlert, PlannedAdGroup


def plan_of(
    rows: Iterable[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]] = (),
    *,
    account: str = "acme",
    currency: str = "USD",
) -> Plan:
    """A :class:`Plan` for 2026-11-20 (300 a day) with ``rows`` and ``alerts`` as given."""
    return Plan(
        run_id="test",
        account=account,
        currency=currency,
        as_of=date(2026, 11, 20),
        daily_budget=300.0,
        adgroups=tuple(PlannedAdGroup(**row) for row in rows),
        alerts=tuple(PlanAlert(**alert) for alert in alerts),
        shortfall=0.0,
    )
