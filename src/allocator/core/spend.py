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

__all__ = ["arm_capacity", "fill_reserve", "lift_pays", "unspent_by_choice"]

_RAMP_HORIZON_DAYS = 28
"""Most days a capped ramp is credited with money left unplanned (a zero step cap never
catches up: four weeks stand for "the rest of the test")."""


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
        Boolean ``(..., K)``: the shortest prefix of the reserve, by decreasing ``rank``,
        whose capacity added to the active arms' covers ``total``, with every arm tied
        with its last one; every reserve arm when even all of them fall short; none when
        the active arms already cover it.
    """
    reserve = np.asarray(reserve) & ~np.asarray(active)
    gap = np.asarray(total, dtype=np.float64) - np.where(active, capacity, 0.0).sum(axis=-1)
    if not (gap > 0.0).any() and bool((capacity >= 0.0).all()):  # covered: no prefix
        none: BoolArray = reserve & (np.asarray(rank) >= np.inf)
        return none
    key = np.where(reserve, -np.asarray(rank, dtype=np.float64), np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    cap_sorted = np.take_along_axis(np.where(reserve, capacity, 0.0), order, axis=-1)
    before = np.cumsum(cap_sorted, axis=-1) - cap_sorted  # capacity of better reserve arms
    take_sorted = before < gap[..., None]
    chosen = np.zeros_like(reserve)
    np.put_along_axis(chosen, order, take_sorted, axis=-1)
    chosen &= reserve
    # arms tied with the last one chosen come back with it: the choice never depends on
    # the order the arms are listed in
    last = np.where(chosen, rank, np.inf).min(axis=-1, keepdims=True)
    out: BoolArray = reserve & (np.asarray(rank) >= last)
    return out


def lift_pays(
    capped: FloatArray,
    lifted: FloatArray,
    today: FloatArray,
    conversion_rate: FloatArray,
    reward: FloatArray,
    guard: GuardrailParams,
    reset_penalty: float,
    relearning_days: float,
) -> BoolArray:
    """Rows where raising budgets past the step-up cap is worth the learning it restarts.

    With the step-up cap, part of the budget is unplanned: the running arms climb at most
    ``max_step_up`` a day, so the gap closes only over the next days. Lifting the cap
    places the money now, but an edit above ``large_edit_fraction`` restarts the ad
    group's learning phase, which costs ``reset_penalty`` of its conversions until it
    has about ``learning_conversions`` conversions again or ``relearning_days`` have
    passed. Per arm, in reward units (conversions or value):

    * gain: the money the capped ramp leaves unplanned until it reaches the lifted
      budget, ``sum_t max(lifted - capped x (1 + step)^t, 0)`` (at most
      :data:`_RAMP_HORIZON_DAYS` days), times the arm's posterior mean reward per
      currency;
    * cost: ``reset_penalty x lifted x relearning time x reward``, where the relearning
      time is ``min(relearning_days, learning_conversions / (rate x lifted))``; charged
      only to running arms whose lifted budget is a large edit.

    Args:
        capped: budgets under the step-up cap, currency per day, ``(..., K)``.
        lifted: budgets without it, currency per day, ``(..., K)``.
        today: today's budgets of running arms (0 for arms not running), ``(..., K)``.
        conversion_rate: posterior mean conversions per currency, ``(..., K)``.
        reward: posterior mean reward per currency, ``(..., K)``.
        guard: the step-up cap, the large-edit threshold and the learning exit.
        reset_penalty: share of conversions lost while relearning, in [0, 1].
        relearning_days: longest relearning after a large edit, days.

    Returns:
        Boolean ``(...)``: the summed gain exceeds the summed cost.
    """
    capped = np.asarray(capped, dtype=np.float64)
    lifted = np.asarray(lifted, dtype=np.float64)
    today = np.asarray(today, dtype=np.float64)
    raised = (lifted > capped + 0.005) & (capped > 0)
    growth = 1.0 + guard.max_step_up
    ratio = np.where(raised, lifted / np.where(capped > 0, capped, 1.0), 1.0)
    if guard.max_step_up > 0:
        days = np.ceil(np.log(ratio) / np.log(growth))
        days = np.minimum(days, _RAMP_HORIZON_DAYS)
        ramp = capped * (growth**days - 1.0) / guard.max_step_up
    else:
        days = np.full_like(ratio, float(_RAMP_HORIZON_DAYS))
        ramp = capped * days
    gap_days = np.where(raised, np.maximum(days * lifted - ramp, 0.0), 0.0)
    large = (today > 0) & (lifted > today * (1.0 + guard.large_edit_fraction) + 0.005)
    daily_conversions = np.maximum(np.asarray(conversion_rate) * lifted, 1e-12)
    relearn = np.minimum(relearning_days, guard.learning_conversions / daily_conversions)
    cost_days = np.where(large, reset_penalty * lifted * relearn, 0.0)
    reward = np.asarray(reward, dtype=np.float64)
    gain = (gap_days * reward).sum(axis=-1)
    cost = (cost_days * reward).sum(axis=-1)
    out: BoolArray = gain > cost
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
