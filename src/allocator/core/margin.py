"""Stops that follow from the allocation: an arm rests when its money does more elsewhere.

A creative that is not the single best can still be worth its budget: under diminishing
returns the best creative's *marginal* return falls as it takes more money, so a second or
third creative earns more per extra dollar than the winner's last dollars. The account's
objective (most conversions from the daily budget) therefore stops a creative only when
its return at vanishing spend is credibly below the *water level*: the marginal return
of the last dollar in the best split of the budget under the posterior means.

:func:`better_elsewhere` computes that level from the posterior means (with the linear
response, the greedy fill: the level is the rate of the last arm the budget reaches) and
the probability, over the posterior draws, that each arm's rate at vanishing spend beats
it. Vectorised over leading batch axes: arrays ``(..., K)``, draws ``(..., S, K)``.
"""

from __future__ import annotations

import math

import numpy as np

from allocator._jit import kernel
from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.response import marginal_rate, water_fill

__all__ = ["better_elsewhere", "water_level"]

_FUNDED_CENTS = 0.01
"""Budget, currency per day, above which an arm counts as funded by the split."""


def _greedy_funded(rate: FloatArray, cap: FloatArray, total: FloatArray) -> BoolArray:
    """Arms the linear greedy fill reaches: best rate first, each up to its cap."""
    order = np.argsort(-rate, axis=-1, kind="stable")
    cap_sorted = np.take_along_axis(cap, order, axis=-1)
    before = np.cumsum(cap_sorted, axis=-1) - cap_sorted
    reached = (before < total[..., None]) & (cap_sorted > 0)
    funded = np.zeros(rate.shape, dtype=bool)
    np.put_along_axis(funded, order, reached, axis=-1)
    return funded


def water_level(
    rate: FloatArray, half: float | FloatArray, cap: FloatArray, total: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Marginal return of the last dollar in the best split, and the arms it funds.

    Args:
        rate: each arm's rate at vanishing spend ``(..., K)`` (0 for arms that may not
            run), reward per currency unit.
        half: half-saturation spend ``h``, currency per day (``inf`` = linear): a
            scalar, or one per arm ``(..., K)`` (finite).
        cap: largest budget per arm ``(..., K)``, currency per day.
        total: the daily budget ``(...)``, currency per day.

    Returns:
        ``(level, funded)``: the smallest marginal return among funded arms ``(...)``
        (``inf`` where none is funded) and the funded arms ``(..., K)``.
    """
    total = np.asarray(total, dtype=np.float64)
    if np.ndim(half) == 0 and math.isinf(float(half)):
        funded = _greedy_funded(rate, cap, total) & (rate > 0)
        marginal = rate
    else:
        budget = water_fill(rate, np.asarray(half), np.zeros_like(rate), cap, total)
        funded = (budget > _FUNDED_CENTS) & (rate > 0)
        marginal = marginal_rate(rate, half, budget)
    level: FloatArray = np.where(funded, marginal, np.inf).min(axis=-1)
    return level, funded


def better_elsewhere(
    draws: FloatArray,
    to_zero: FloatArray,
    candidate: BoolArray,
    cap: FloatArray,
    total: FloatArray,
    half: float | FloatArray,
    probability: float,
) -> BoolArray:
    """Arms whose money is credibly better used by the others, ``(..., K)``.

    Args:
        draws: reward draws ``(..., S, K)`` (average rate over the arm's past spend).
        to_zero: factor from the average rate to the rate at vanishing spend ``(..., K)``
            (:func:`allocator.core.response.rate_at_zero_multiplier`).
        candidate: arms that may run ``(..., K)``; the split is over these.
        cap: largest budget per arm ``(..., K)``, currency per day.
        total: the daily budget ``(...)``, currency per day.
        half: half-saturation spend, currency per day (``inf`` = linear), a scalar
            or one per arm ``(..., K)``.
        probability: an arm is better elsewhere when ``P(rate at zero > level)`` is
            below this.

    Returns:
        Candidate arms the posterior-mean split leaves unfunded and whose chance of
        beating the water level is below ``probability``.
    """
    mean = np.where(candidate, draws.mean(axis=-2) * to_zero, 0.0)
    level, funded = water_level(mean, half, np.where(candidate, cap, 0.0), total)
    # rate at zero > level, compared on the draws themselves (to_zero >= 1): no (S, K)
    # product is formed
    *batch, n_draws, n_arms = draws.shape
    rows = np.ascontiguousarray(draws).reshape(-1, n_draws, n_arms)
    bar = np.broadcast_to(level[..., None] / to_zero, (*batch, n_arms)).reshape(-1, n_arms)
    p_above = _count_above(rows, np.ascontiguousarray(bar)).reshape(*batch, n_arms) / n_draws
    out: BoolArray = candidate & ~funded & (p_above < probability)
    return out


@kernel
def _count_above(draws: FloatArray, bar: FloatArray) -> IntArray:
    """How many of each arm's draws ``(B, S, K)`` exceed its bar ``(B, K)``, ``(B, K)``."""
    n_rows, n_draws, n_arms = draws.shape
    count = np.zeros((n_rows, n_arms), dtype=np.int64)
    for r in range(n_rows):
        for s in range(n_draws):
            for k in range(n_arms):  # no branch: several arms at a time
                count[r, k] += draws[r, s, k] > bar[r, k]
    return count
