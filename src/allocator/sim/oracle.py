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
    allocation uses per posterior draw). For every feasible number ``n`` of funded arms
    (``n * min <= total``) two sets are tried: the ``n`` arms with the best average rate
    at the minimum, ``rate / (1 + min / h)``, and the ``n`` best at an even share,
    ``rate / (1 + total / (n h))`` (which a high-rate arm that saturates early loses when
    few arms share a large budget). The best of these ``2 n_max`` water-fills is the
    answer: exact for one funded arm and when the minimum is slack, and checked against
    enumerating every funded set in the tests. Vectorized: the candidates are one batch
    axis of a single water-fill, with no loop over arms, counts or rows.

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
    if min_budget <= 0:
        raise ValueError("min_budget must be > 0")
    cap = total if cap is None else cap
    rate = np.maximum(np.asarray(rate, dtype=np.float64), 0.0)
    half = np.broadcast_to(np.asarray(half_saturation, dtype=np.float64), rate.shape)
    n_max = int(min(rate.shape[-1], np.floor(total / min_budget)))
    if min_budget > min(cap, total) or n_max < 1:
        return np.zeros_like(rate)
    n = np.arange(1, n_max + 1).reshape((n_max,) + (1,) * rate.ndim)  # (N, ..., 1)
    share = np.minimum(total / n, cap)
    ranks = np.concatenate(
        [
            np.broadcast_to(_rank(rate, rate / (1.0 + min_budget / half)), (n_max, *rate.shape)),
            _rank(rate, rate / (1.0 + share / half)),
        ]
    )  # (2N, ..., K): both candidate sets for every n
    funded = (ranks < np.concatenate([n, n])) & (rate > 0)
    candidates = water_fill(
        rate,
        half,
        np.where(funded, min_budget, 0.0),
        np.where(funded, cap, 0.0),
        np.full(funded.shape[:-1], total),
    )
    value = expected_conversions(rate, half, candidates).sum(axis=-1)  # (2N, ...)
    best = np.argmax(value, axis=0)[None, ..., None]
    budgets: FloatArray = np.take_along_axis(candidates, best, axis=0)[0]
    return budgets


def _rank(rate: FloatArray, score: FloatArray) -> IntArray:
    """Rank of each arm by ``score`` along the last axis, best first (0); rate 0 last."""
    score = np.where(rate > 0, score, -1.0)
    rank: IntArray = np.argsort(np.argsort(-score, axis=-1, kind="stable"), axis=-1)
    return rank


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
