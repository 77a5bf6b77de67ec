"""Guardrails per planning period, not per run: every run of a period plans from its start.

A period (a day, or an ISO week) may see several runs: a partial apply and the run that
converges after it, a resume after a kill, a retry. If each planned from the live budgets,
the step caps would compound: +30% in the first run and +30% again in the next is +69%
in one day, past the cap and past the platform's learning-phase threshold. So each run of
a period measures the step caps from the budgets at the *start* of the period, which the
store knows: the ``from_budget`` of each ad group in the period's first recorded run
(for an ad group that run switched on, the budget it started at).

:func:`period_start_budgets` reads those budgets, :func:`anchor` gives the planning ad
groups the start budgets, and :func:`relive` puts the live budgets back into the plan's
``from_budget`` (what the platform shows, which the apply compares and changes). An ad
group whose last large edit falls in this period (it restarted learning today) keeps its
live budget: anchoring it would undo that edit.

Anchoring covers the ad groups enabled now. One the job switched off earlier in the period
(resting after a budget cut) and enables again starts where the engine starts any enabled
arm, at an even share of the budget, whatever it had at the start of the period; and one
whose large edit falls in the period is planned from its live budget. :func:`bound` closes
both gaps: an ad group enabled at the start of the period and enabled by the plan ends
within the step caps of its start budget, or no further out than its live budget already
is (a person's edit is kept, never compounded). Budgets are currency per day.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from allocator.core.arms import AdGroup, AdGroupStatus
from allocator.core.guardrail_params import GuardrailParams
from allocator.job.records import Cadence, period_key
from allocator.job.store import Store
from allocator.plans import Plan, PlannedAdGroup

__all__ = ["anchor", "bound", "period_start_budgets", "relive"]


def period_start_budgets(store: Store, account: str, period: str) -> dict[str, float]:
    """Each ad group's budget at the start of ``period`` (empty before its first run).

    Taken from the period's first non-dry run: its ``from_budget`` for an ad group that
    was enabled then, its ``to_budget`` for one that run enabled.
    """
    first = next((r for r in store.runs(account) if r.period == period and not r.dry_run), None)
    if first is None:
        return {}
    start: dict[str, float] = {}
    for row in first.plan.get("adgroups", []):
        if row["from_status"] == AdGroupStatus.ENABLE:
            start[str(row["adgroup_id"])] = float(row["from_budget"])
        elif row["to_status"] == AdGroupStatus.ENABLE:
            start[str(row["adgroup_id"])] = float(row["to_budget"])
    return start


def anchor(
    adgroups: Sequence[AdGroup],
    start: Mapping[str, float],
    period: str,
    cadence: Cadence,
) -> list[AdGroup]:
    """The ad groups to plan from: enabled ones at their start-of-period budget.

    Disabled ad groups, ad groups unknown at the start of the period and ad groups whose
    last large edit is in ``period`` keep their live budget.
    """
    out: list[AdGroup] = []
    for g in adgroups:
        budget = start.get(g.adgroup_id)
        edited = g.last_edit_date
        edited_now = edited is not None and period_key(edited, cadence) == period
        if budget is None or g.status is not AdGroupStatus.ENABLE or edited_now:
            out.append(g)
        else:
            out.append(dataclasses.replace(g, budget=budget))
    return out


def relive(plan: Plan, live: Sequence[AdGroup]) -> Plan:
    """``plan`` with each row's ``from_budget`` the live budget (as the platform lists it)."""
    budgets = {g.adgroup_id: round(g.budget, 2) for g in live}
    rows = tuple(
        dataclasses.replace(a, from_budget=budgets.get(a.adgroup_id, a.from_budget))
        for a in plan.adgroups
    )
    return dataclasses.replace(plan, adgroups=rows)


def _band(
    start: float, live: float | None, guard: GuardrailParams, lift_up: bool
) -> tuple[float, float]:
    """The budgets, whole cents, an ad group may end the period at: ``(low, high)``.

    The step caps around ``start`` (never below the platform's minimum), widened to the
    ``live`` budget of an enabled ad group already outside them; ``lift_up`` drops the cap
    on raises (the config lifts it where a shortfall would be left).
    """
    floor = guard.platform_min_budget
    low = max(math.ceil(round(start * (1.0 - guard.max_step_down) * 100, 6)) / 100, floor)
    high = max(math.floor(round(start * (1.0 + guard.max_step_up) * 100, 6)) / 100, floor)
    if live is not None:
        low, high = min(low, live), max(high, live)
    return low, math.inf if lift_up else high


def _lifted_now(row: PlannedAdGroup, live: float | None, guard: GuardrailParams) -> bool:
    """Whether this run's engine raised the row past the step-up cap of its live budget.

    That is the engine's by-value lift (``step_cap_on_shortfall``), which the period
    honours. A raise within the cap of the live budget is an ordinary step: measured from
    the period's start it must not compound over the runs of one period.
    """
    if live is None:
        return False
    return row.to_budget > live * (1.0 + guard.max_step_up) + 0.005


def bound(
    plan: Plan,
    start: Mapping[str, float],
    live: Sequence[AdGroup],
    guard: GuardrailParams,
    *,
    lift_up: bool = False,
) -> Plan:
    """``plan`` with no ad group enabled at the start of the period past the step caps.

    Each row that ends enabled, of an ad group in ``start``, gets its ``to_budget``
    clamped to the band of :func:`_band` (the live budget counts only for an ad group
    enabled now); the shortfall takes up the difference. Other rows are kept.

    Args:
        plan: the plan of this run.
        start: budgets at the start of the period (:func:`period_start_budgets`).
        live: the ad groups as the platform lists them now.
        guard: the guardrails with the step caps.
        lift_up: do not cap the raises this run's engine made past the step-up cap of
            the live budget (its by-value lift: ``step_cap_on_shortfall`` other than
            ``"hold"``); ordinary raises are still measured from the period's start.
    """
    enabled = {g.adgroup_id: g.budget for g in live if g.status is AdGroupStatus.ENABLE}
    rows = _clamped(plan, start, enabled, guard, lift_up, keep_floor=True)
    if sum(a.to_budget for a in rows) > plan.daily_budget + 0.005:
        # the daily budget outranks the step-down cap: never plan above it
        rows = _clamped(plan, start, enabled, guard, lift_up, keep_floor=False)
    moved = sum(a.to_budget for a in plan.adgroups) - sum(a.to_budget for a in rows)
    shortfall = round(max(plan.shortfall + moved, 0.0), 2)
    return dataclasses.replace(plan, adgroups=tuple(rows), shortfall=shortfall)


def _clamped(
    plan: Plan,
    start: Mapping[str, float],
    enabled: Mapping[str, float],
    guard: GuardrailParams,
    lift_up: bool,
    *,
    keep_floor: bool,
) -> list[PlannedAdGroup]:
    """The plan's rows clamped to their bands (only from above unless ``keep_floor``)."""
    rows: list[PlannedAdGroup] = []
    for a in plan.adgroups:
        b0 = start.get(a.adgroup_id)
        if b0 is None or a.to_status != AdGroupStatus.ENABLE:
            rows.append(a)
            continue
        lifted = lift_up and _lifted_now(a, enabled.get(a.adgroup_id), guard)
        low, high = _band(b0, enabled.get(a.adgroup_id), guard, lifted)
        floor = low if keep_floor else -math.inf
        rows.append(dataclasses.replace(a, to_budget=min(max(a.to_budget, floor), high)))
    return rows
