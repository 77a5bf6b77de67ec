"""The oracle: each day, the budgets that maximize the day's true expected conversions.

The one policy that reads the truth (:class:`~allocator.sim.truth.Truth`, through
:attr:`~allocator.sim.policy.PolicyContext.truth`): it is the ceiling the other policies
are measured against. Budgets are in currency per day.
"""

from __future__ import annotations

import numpy as np

from allocator._types import FloatArray, IntArray
from allocator.core.arms import ArmState, History
from allocator.core.response import expected_conversions, water_fill
from allocator.sim.policy import Action, PolicyContext, require_context

__all__ = ["Oracle", "optimal_allocation"]


def optimal_allocation(
    rate: FloatArray,
    half_saturation: FloatArray,
    total: float,
    min_budget: float,
    cap: float | None = None,
) -> FloatArray:
    """Budgets maximizing expected conversions ``sum rate * b / (1 + b / h)``.

    Each funded arm must get at least ``min_budget``, which makes the problem
    semi-continuous: for a *given* set of funded arms it is concave and solved exactly by
    water-filling (equal marginal returns ``rate / (1 + b / h)**2`` above the floors:
    :func:`allocator.core.response.water_fill`, the solver the engine's saturating
    allocation uses per posterior draw). The set is searched over the ``n`` arms with the best
    average rate at the minimum, ``rate / (1 + min / h)``: a binary search per row finds
    the largest feasible ``n`` (``n * min <= total``) whose extra arm still adds value,
    which is the optimum of that family when the value is unimodal in ``n`` (checked
    against brute force in the tests). Vectorized over rows; the loop runs over the
    ``log2 K`` search steps, never over arms or rows.

    Args:
        rate: ``(R, K)`` conversions per currency at vanishing budget (0 = unavailable).
        half_saturation: ``(R, K)`` currency per day.
        total: daily budget, currency per day.
        min_budget: platform minimum per funded arm, currency per day.
        cap: maximum per arm (default: ``total``).

    Returns:
        Budgets ``(R, K)``, currency per day; each 0 or in ``[min_budget, cap]``; row
        sums ``<= total``, equal to it unless every available arm is capped.
    """
    cap = total if cap is None else cap
    rate = np.maximum(rate, 0.0)
    best = np.zeros_like(rate)
    if min_budget > min(cap, total) or min_budget <= 0:
        if min_budget <= 0:
            raise ValueError("min_budget must be > 0")
        return best
    score = np.where(rate > 0, rate / (1.0 + min_budget / half_saturation), -1.0)
    rank = np.argsort(np.argsort(-score, axis=-1, kind="stable"), axis=-1)
    n_available = (rate > 0).sum(axis=-1, keepdims=True)

    def solve(n: IntArray) -> tuple[FloatArray, FloatArray]:
        floor = np.where((rank < n) & (rank < n_available), min_budget, 0.0)
        chosen_cap = np.where(floor > 0.0, cap, 0.0)
        budgets = water_fill(rate, half_saturation, floor, chosen_cap, np.asarray(total))
        return budgets, expected_conversions(rate, half_saturation, budgets).sum(axis=-1)

    # binary search per row for the last n whose extra arm still adds value
    n_max = int(min(rate.shape[-1], np.floor(total / min_budget)))
    lo = np.ones((*rate.shape[:-1], 1), dtype=np.int64)
    hi = np.full_like(lo, n_max)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        gain = solve(mid + 1)[1] - solve(mid)[1]
        up = gain[..., None] > 0
        lo, hi = np.where(up & (lo < hi), mid + 1, lo), np.where(up | (lo >= hi), hi, mid)
    best, _ = solve(lo)
    return best


class Oracle:
    """Knows the truth; each day allocates to maximize that day's expected conversions.

    It reads :class:`~allocator.sim.truth.Truth` (true rates with fatigue,
    weekday and availability, including a revocation later today, and the response
    curves) and solves :func:`optimal_allocation`. It is *myopic*: it does not trade
    today's conversions for slower fatigue tomorrow, the usual per-round oracle of
    bandit regret.
    """

    name = "oracle"

    def __init__(self) -> None:
        """Create the policy; :meth:`reset` must be given a context with ``truth``."""
        self._ctx: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame and the truth accessor."""
        if context.truth is None:
            raise ValueError("the oracle needs PolicyContext.truth")
        self._ctx = context

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Optimal budgets for today's true response curves."""
        ctx = require_context(self, self._ctx)
        assert ctx.truth is not None  # checked in reset
        truth = ctx.truth()
        budgets = optimal_allocation(
            truth.rate, truth.half_saturation, ctx.daily_budget, ctx.platform_min_budget
        )
        return budgets, budgets > 0

    def stages(self) -> IntArray | None:
        """The oracle has no stages."""
        return None
