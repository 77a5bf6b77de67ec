"""Diminishing returns: the saturating response curve and its optimal budget split.

An ad group's expected conversions on a day it spends ``b`` (currency per day) are

    ``lambda * b / (1 + b / h)``

with ``lambda`` its conversion rate at vanishing spend (conversions per currency unit) and
``h`` its half-saturation spend (currency per day: at ``b = h`` the average rate is
``lambda / 2``). The curve is concave, so the best split of a daily budget equalises the
*marginal* rates ``lambda / (1 + b / h) ** 2`` of the ad groups that are strictly inside
their bounds (water-filling). With ``h = inf`` the curve is linear and the best split is
the greedy fill of :func:`allocator.core.allocation.thompson_allocate`.

The engine's posterior measures each arm's *average* rate over the spend levels it ran
at; :func:`rate_at_zero_multiplier` turns that into ``lambda`` for a given ``h`` (exactly,
for the discounted lag-corrected exposure the posterior uses), and
:func:`saturating_allocate` averages the water-filling optimum over posterior draws, which
is probability matching with concave rewards. The simulator's oracle solves the same
problem with the true curves through :func:`water_fill`.
"""

from __future__ import annotations

import numpy as np

from allocator._types import FloatArray
from allocator.core.allocation import broadcast_bounds

__all__ = [
    "expected_conversions",
    "marginal_rate",
    "rate_at_zero_multiplier",
    "saturating_allocate",
    "water_fill",
]

_MIN_RELATIVE_RATE = 1e-9
"""Smallest rate, relative to the row's best, the water-filling tells apart from it."""


def expected_conversions(
    rate: FloatArray, half: FloatArray | float, budget: FloatArray
) -> FloatArray:
    """``rate * b / (1 + b / h)``: expected conversions per day, elementwise."""
    b = np.asarray(budget, dtype=np.float64)
    out: FloatArray = np.asarray(rate) * b / (1.0 + b / np.asarray(half, dtype=np.float64))
    return out


def marginal_rate(rate: FloatArray, half: FloatArray | float, budget: FloatArray) -> FloatArray:
    """``rate / (1 + b / h) ** 2``: conversions per extra currency unit, elementwise."""
    b = np.asarray(budget, dtype=np.float64)
    out: FloatArray = np.asarray(rate) / (1.0 + b / np.asarray(half, dtype=np.float64)) ** 2
    return out


def rate_at_zero_multiplier(
    spend: FloatArray, exposure_weight: FloatArray, half: float | FloatArray
) -> FloatArray:
    """Factor from an arm's average rate to its rate at vanishing spend, ``(..., K)``.

    A posterior fitted with exposure ``sum_d w_d s_d`` estimates the average rate over
    those days; under the saturating curve the same conversions mean a rate at vanishing
    spend of ``sum_d w_d s_d / sum_d w_d s_d / (1 + s_d / h)`` times that (>= 1; exactly 1
    for arms without spend or with ``h = inf``). Multiplying posterior draws by it scales
    the Gamma posterior exactly.

    Args:
        spend: daily spend ``(..., K, D)``, currency per day.
        exposure_weight: the posterior's per-day exposure weight ``(D,)`` (discount times
            reported fraction).
        half: half-saturation spend ``h``, currency per day (> 0, ``inf`` = linear):
            a scalar, or one per arm ``(..., K)`` (e.g. one per account, ``(..., 1)``).
    """
    h = np.asarray(half, dtype=np.float64)
    if not (h > 0).all():
        raise ValueError("half-saturation spend must be > 0")
    spend = np.asarray(spend, dtype=np.float64)
    if np.isinf(h).all():
        return np.ones(spend.shape[:-1])
    exposure = spend @ exposure_weight
    effective = (spend / (1.0 + spend / h[..., None])) @ exposure_weight
    ok = effective > 0.0
    out: FloatArray = np.where(ok, exposure / np.where(ok, effective, 1.0), 1.0)
    return out


def water_fill(
    rate: FloatArray,
    half: FloatArray,
    floor: FloatArray,
    cap: FloatArray,
    total: FloatArray,
) -> FloatArray:
    """Budgets maximizing ``sum rate * b / (1 + b / h)`` with ``floor <= b <= cap``.

    All arrays broadcast to ``(..., K)`` except ``total`` ``(...)``. Arms with ``cap = 0``
    get nothing. When the floors exceed ``total`` they are scaled down to it; when the
    caps add up to less than ``total`` every arm ends at its cap. Otherwise the result sums
    to ``total``.

    Exact, with no iteration: in ``t = 1 / sqrt(nu)`` (``nu`` the common marginal rate) an
    arm's budget ``clip(h sqrt(rate) t - h, floor, cap)`` is piecewise linear, leaving its
    floor at ``t = (floor + h) / (h sqrt(rate))`` and reaching its cap at
    ``t = (cap + h) / (h sqrt(rate))``. Sorting those ``2K`` breakpoints gives the total
    as a piecewise-linear increasing function of ``t``; the segment where it crosses
    ``total`` is found by a count and solved by one division. Arms with rate 0 stay at
    their floor unless only they have room left (then the rest is shared by room).

    Args:
        rate: conversions per currency at vanishing spend, >= 0.
        half: half-saturation spend, currency per day, finite and > 0 (a linear
            response is the greedy fill of ``thompson_allocate``).
        floor: minimum budget per arm, currency per day, >= 0.
        cap: maximum budget per arm, currency per day, >= 0.
        total: money to split, currency per day, >= 0.

    Returns:
        Budgets, currency per day, shape of the broadcast arm arrays.
    """
    rate, half, floor, cap = np.broadcast_arrays(
        np.maximum(np.asarray(rate, dtype=np.float64), 0.0),
        np.asarray(half, dtype=np.float64),
        np.asarray(floor, dtype=np.float64),
        np.asarray(cap, dtype=np.float64),
    )
    if not (np.isfinite(half) & (half > 0.0)).all():
        raise ValueError("half-saturation spend must be finite and > 0 (linear: greedy fill)")
    total_k = np.asarray(total, dtype=np.float64)[..., None]
    floor = np.minimum(floor, cap)
    floor_sum = floor.sum(axis=-1, keepdims=True)
    over = floor_sum > total_k
    floor = floor * np.where(over, total_k / np.where(over, floor_sum, 1.0), 1.0)
    # rates relative to the row's best: the split does not depend on their scale; positive
    # rates below 1e-9 of the best count as 1e-9 of it (such arms only ever take money no
    # better arm can hold), which keeps every slope within 1e-4.5 of the largest
    top = rate.max(axis=-1, keepdims=True)
    rel = rate / np.where(top > 0.0, top, 1.0)
    rel = np.where(rate > 0.0, np.maximum(rel, _MIN_RELATIVE_RATE), 0.0)
    slope = half * np.sqrt(rel)  # d budget / d t
    moving = (slope > 0.0) & (cap > floor)
    safe = np.where(moving, slope, 1.0)
    t_floor = np.where(moving, (floor + half) / safe, np.inf)
    t_cap = np.where(moving, (cap + half) / safe, np.inf)
    # the 2K breakpoints in increasing t, with the change of total slope at each
    times = np.concatenate([t_floor, t_cap], axis=-1)
    order = np.argsort(times, axis=-1)
    times = np.take_along_axis(times, order, axis=-1)
    change = np.take_along_axis(
        np.concatenate([np.where(moving, slope, 0.0), -np.where(moving, slope, 0.0)], axis=-1),
        order,
        axis=-1,
    )
    rising = np.cumsum(change, axis=-1)  # total slope just after each breakpoint
    # the running sum leaves rounding residue (about 1e-16 of the largest slope) where the
    # true slope is 0 or far smaller; times the huge breakpoints of near-zero rates that
    # residue would swamp the totals, so slopes below 1e-12 of the sum count as 0 (such
    # arms still get ``clip(slope * t - h)`` below and any remainder by room)
    tol = 1e-12 * np.where(moving, slope, 0.0).sum(axis=-1, keepdims=True)
    rising = np.where(rising > tol, rising, 0.0)
    finite = np.isfinite(times)
    gaps = np.where(finite[..., 1:], np.diff(np.where(finite, times, 0.0), axis=-1), 0.0)
    # total budget at each breakpoint: floors, then slope x elapsed t, segment by segment
    at_break = floor_sum + np.concatenate(
        [np.zeros_like(floor_sum), np.cumsum(rising[..., :-1] * gaps, axis=-1)], axis=-1
    )
    before = ((at_break < total_k) & finite).sum(axis=-1, keepdims=True)  # breakpoints passed
    last = np.maximum(before - 1, 0)
    t_last = np.take_along_axis(np.where(finite, times, 0.0), last, axis=-1)
    s_last = np.take_along_axis(at_break, last, axis=-1)
    k_last = np.take_along_axis(rising, last, axis=-1)
    step = np.where(k_last > 0.0, (total_k - s_last) / np.where(k_last > 0.0, k_last, 1.0), 0.0)
    t_star = t_last + np.maximum(step, 0.0)
    b = np.where(cap > 0.0, np.clip(slope * t_star - half, floor, cap), 0.0)
    # remainder (rounding, or only arms without rate have room): shared by room
    gap = total_k - b.sum(axis=-1, keepdims=True)
    room = np.where(gap > 0.0, cap - b, b - floor)
    room_sum = room.sum(axis=-1, keepdims=True)
    fill = np.where(room_sum > 0.0, gap / np.where(room_sum > 0.0, room_sum, 1.0), 0.0)
    b = b + np.clip(fill, -1.0, 1.0) * room
    saturated = cap.sum(axis=-1, keepdims=True) <= total_k
    out: FloatArray = np.where(saturated, cap, np.where(over, floor, b))
    return out


def saturating_allocate(
    draws: FloatArray,
    floors: FloatArray | float,
    caps: FloatArray | float,
    total: FloatArray | float,
    half: FloatArray | float,
) -> FloatArray:
    """Average over posterior draws of the best budget split under each draw's curves.

    The concave counterpart of :func:`allocator.core.allocation.thompson_allocate`: per
    draw, :func:`water_fill` with the draw's rates at vanishing spend; the result is the
    mean over draws.

    Args:
        draws: sampled rates at vanishing spend, ``(..., S, K)``, conversions (or value)
            per currency unit; finite and >= 0.
        floors: minimum budget per arm ``(..., K)``, currency per day.
        caps: maximum budget per arm ``(..., K)``, currency per day.
        total: daily budget ``(...)``, currency per day.
        half: half-saturation spend per arm ``(..., K)`` or a scalar, currency per day.

    Returns:
        Expected budget per arm ``(..., K)``, currency per day, within ``[0, caps]``,
        summing to ``min(total, sum(caps))`` (floors above ``total`` are scaled down).

    Raises:
        ValueError: on non-finite or negative draws, or a non-positive ``half``.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim < 2 or draws.shape[-2] == 0 or draws.shape[-1] == 0:
        raise ValueError(f"draws must have shape (..., S, K) with S, K >= 1, got {draws.shape}")
    if not np.isfinite(draws).all() or (draws < 0).any():
        raise ValueError("draws must be finite and >= 0")
    half_a = np.asarray(half, dtype=np.float64)
    if not (np.isfinite(half_a) & (half_a > 0)).all():
        raise ValueError("half-saturation spend must be finite and > 0")
    batch = draws.shape[:-2]
    floors_b, caps_b, total_b = broadcast_bounds(floors, caps, total, batch, draws.shape[-1])
    half_b = np.broadcast_to(half_a, floors_b.shape)[..., None, :]
    per_draw = water_fill(
        draws, half_b, floors_b[..., None, :], caps_b[..., None, :], total_b[..., None]
    )
    out: FloatArray = per_draw.mean(axis=-2)
    return out
