"""Spend the budget: bring back resting creatives before any money is left unplanned.

The guardrails cap how much each running ad group may take tomorrow (share cap, step-up
cap, learning-phase freeze, start budget of an arm being enabled). When the arms the
decisions keep running cannot absorb the daily budget under those caps, the rest would be
a shortfall: money that earns nothing. Before that happens the engine runs the *reserve*:
acceptable creatives it rested (losers, worn-out winners), best posterior mean first,
until their capacity covers the gap. An acceptable creative is one whose CPA is not
credibly above the maximum the advertiser accepts (``kill_cpa_multiple x target``), so a
conversion at 1.5 x target is preferred to no conversion at all, while a creative that
credibly loses money beyond that maximum never gets budget back.

Money is left unspent by choice only when no eligible creative is acceptable;
:func:`unspent_by_choice` measures that part so the plan can say so.

Everything is vectorised over leading batch axes: arrays ``(..., K)``, totals ``(...)``.
"""

from __future__ import annotations

import numpy as np

from allocator._types import BoolArray, FloatArray
from allocator.core.arms import ArmState
from allocator.core.guardrail_params import GuardrailParams

__all__ = ["arm_capacity", "fill_reserve", "unspent_by_choice"]


def arm_capacity(
    arms: ArmState,
    frozen: BoolArray,
    start: FloatArray,
    total: FloatArray,
    guard: GuardrailParams,
) -> FloatArray:
    """Most each arm may take tomorrow under the guardrails, currency per day, ``(..., K)``.

    Args:
        arms: today's budgets and statuses ``(..., K)``.
        frozen: arms in learning (kept at today's budget), ``(..., K)``.
        start: start budget of an arm being enabled, currency per day, ``(..., K)``.
        total: the daily budget, currency per day, ``(...)``.
        guard: the guardrails (platform minimum, share cap, step-up cap).

    Returns:
        Running arms: today's budget when frozen, else ``today x (1 + max_step_up)``
        raised to the platform minimum; arms not running: their start budget. All capped
        at ``max_budget_share x total``.
    """
    cap = guard.max_budget_share * np.asarray(total, dtype=np.float64)[..., None]
    today = np.asarray(arms.budget, dtype=np.float64)
    running = np.asarray(arms.enabled) & (today > 0)
    stepped = np.maximum(today * (1.0 + guard.max_step_up), guard.platform_min_budget)
    held = np.where(frozen, np.maximum(today, guard.platform_min_budget), stepped)
    wanted = np.where(running, held, np.maximum(start, guard.platform_min_budget))
    out: FloatArray = np.minimum(wanted, cap)
    return out


def fill_reserve(
    active: BoolArray,
    reserve: BoolArray,
    rank: FloatArray,
    capacity: FloatArray,
    total: FloatArray,
) -> BoolArray:
    """Reserve arms to run so that the running arms' capacity covers the daily budget.

    Args:
        active: arms the decisions run, ``(..., K)``.
        reserve: acceptable arms that may be brought back, ``(..., K)`` (not active).
        rank: preference among reserve arms, higher first (posterior mean reward),
            ``(..., K)``.
        capacity: :func:`arm_capacity`, currency per day, ``(..., K)``.
        total: the daily budget, currency per day, ``(...)``.

    Returns:
        Boolean ``(..., K)``: the shortest prefix of the reserve, by decreasing ``rank``
        (ties: lower index first), whose capacity added to the active arms' covers
        ``total``; every reserve arm when even all of them fall short; none when the
        active arms already cover it.
    """
    reserve = np.asarray(reserve) & ~np.asarray(active)
    gap = np.asarray(total, dtype=np.float64) - np.where(active, capacity, 0.0).sum(axis=-1)
    key = np.where(reserve, -np.asarray(rank, dtype=np.float64), np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    cap_sorted = np.take_along_axis(np.where(reserve, capacity, 0.0), order, axis=-1)
    before = np.cumsum(cap_sorted, axis=-1) - cap_sorted  # capacity of better reserve arms
    take_sorted = before < gap[..., None]
    chosen = np.zeros_like(reserve)
    np.put_along_axis(chosen, order, take_sorted, axis=-1)
    out: BoolArray = chosen & reserve
    return out


def unspent_by_choice(shortfall: FloatArray, acceptable: BoolArray) -> FloatArray:
    """The shortfall left because no eligible creative is acceptable, ``(...)``.

    Args:
        shortfall: money the guardrailed plan leaves unplanned, currency per day, ``(...)``.
        acceptable: launched, unblocked creatives not paused and not credibly above the
            maximum CPA, ``(..., K)``.

    Returns:
        ``shortfall`` in rows without any acceptable creative, else 0 (a shortfall beside
        an acceptable creative is the guardrails', not a choice); currency per day.
    """
    none_ok = ~np.asarray(acceptable).any(axis=-1)
    out: FloatArray = np.where(none_ok, np.asarray(shortfall, dtype=np.float64), 0.0)
    return out
