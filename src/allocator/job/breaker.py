"""The circuit breaker: plans too drastic to apply without a person saying so.

A bad export, a bug or a bad day can make a plan that switches most of an account off.
:func:`breaker_reasons` names what is drastic about a plan; ``--apply`` refuses a plan with
any reason unless ``--force`` (:mod:`.reconcile`), and every plan shows them:

* the plan disables ad groups holding more than ``[job] max_disabled_share`` of today's
  budgets (the daily budgets of the ad groups enabled now);
* the plan leaves more than ``[job] max_unplanned_share`` of the daily budget unplanned,
  and less is planned than runs today (a plan that keeps an under-spending account as
  it is does not trip it).

Money is in the account currency per day.
"""

from __future__ import annotations

from allocator.config import JobSection
from allocator.core.arms import AdGroupStatus
from allocator.plans import Plan

__all__ = ["breaker_reasons", "disabled_share", "unplanned_share"]


def _running(plan: Plan) -> float:
    """Today's budgets: the sum of the ad groups enabled now."""
    return sum(a.from_budget for a in plan.adgroups if a.from_status == AdGroupStatus.ENABLE)


def disabled_share(plan: Plan) -> float:
    """Share of today's budgets held by the ad groups the plan disables (0 when none run)."""
    running = _running(plan)
    disabled = sum(
        a.from_budget
        for a in plan.adgroups
        if a.from_status == AdGroupStatus.ENABLE and a.to_status == AdGroupStatus.DISABLE
    )
    return disabled / running if running > 0 else 0.0


def unplanned_share(plan: Plan) -> float:
    """Share of the daily budget the plan leaves unplanned (0 for a non-positive budget)."""
    if plan.daily_budget <= 0:
        return 0.0
    return max(plan.daily_budget - plan.planned_total, 0.0) / plan.daily_budget


def breaker_reasons(plan: Plan, job: JobSection) -> tuple[str, ...]:
    """Why ``--apply`` holds ``plan`` back (empty when it may go), one line each."""
    cur = plan.currency
    reasons: list[str] = []
    share = disabled_share(plan)
    if share > job.max_disabled_share:
        reasons.append(
            f"the plan disables ad groups holding {share:.0%} of today's budgets "
            f"({share * _running(plan):,.2f} of {_running(plan):,.2f} {cur}/day; "
            f"job.max_disabled_share = {job.max_disabled_share:.0%})"
        )
    left = unplanned_share(plan)
    if left > job.max_unplanned_share and plan.planned_total < _running(plan):
        reasons.append(
            f"the plan leaves {left:.0%} of the daily budget unplanned "
            f"({plan.daily_budget - plan.planned_total:,.2f} of {plan.daily_budget:,.2f} {cur}; "
            f"job.max_unplanned_share = {job.max_unplanned_share:.0%})"
        )
    return tuple(reasons)
