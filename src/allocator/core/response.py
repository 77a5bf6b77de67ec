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

import math

import numpy as np

from allocator._jit import kernel
from allocator._types import FloatArray, IntArray
from allocator.core.allocation import broadcast_bounds
from allocator.core.selection import keep_beyond

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
    to ``total`` (to rounding).

    Exact, with no iteration towards a tolerance: in ``t = 1 / sqrt(nu)`` (``nu`` the
    common marginal rate) an arm's budget ``clip(h sqrt(rate) t - h, floor, cap)`` is
    piecewise linear, leaving its floor at ``t = (floor + h) / (h sqrt(rate))`` and
    reaching its cap at ``t = (cap + h) / (h sqrt(rate))``. The total is a continuous
    non-decreasing function of ``t``; each row's compiled pass (:func:`_fill_rows`)
    brackets the crossing of ``total`` between two adjacent breakpoints (a selection:
    each round keeps the breakpoints on the crossing's side of a pivot, about ``2K``
    comparisons in all, no sort) and solves the linear piece between them. Arms with
    rate 0 (or NaN) stay at their floor unless only they have room left (then the rest
    is shared by room).

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
    rate = np.asarray(rate, dtype=np.float64)
    half = np.asarray(half, dtype=np.float64)
    if half.size and not (half.min() > 0.0 and half.max() < np.inf):  # NaN fails too
        raise ValueError("half-saturation spend must be finite and > 0 (linear: greedy fill)")
    floor = np.asarray(floor, dtype=np.float64)
    cap = np.asarray(cap, dtype=np.float64)
    total_k = np.asarray(total, dtype=np.float64)[..., None]
    shape = np.broadcast(rate, half, floor, cap, total_k).shape
    # the bounds are per arm (often shared by every draw): they stay at their own shape,
    # and each row of rates reads the row of bounds it broadcasts against
    arm = np.broadcast(half, floor, cap, total_k, np.empty(shape[-1:], dtype=np.bool_)).shape
    n_bounds = math.prod(arm[:-1])
    bound_row = np.broadcast_to(np.arange(n_bounds).reshape(arm[:-1]), shape[:-1]).ravel()
    half, floor, cap = (_rows(x, arm) for x in (half, floor, cap))
    money = _rows(total_k, (*arm[:-1], 1))[:, 0]
    budget = _fill_rows(_rows(rate, shape), bound_row, half, floor, cap, money)
    return budget.reshape(shape)


def _rows(values: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """``values`` broadcast to ``shape`` as C-contiguous rows ``(-1, shape[-1])``."""
    if values.shape != shape:
        values = np.broadcast_to(values, shape)
    return np.ascontiguousarray(values).reshape(-1, shape[-1])


@kernel
def _fill_rows(
    rate: FloatArray,
    bound_row: IntArray,
    half: FloatArray,
    floor: FloatArray,
    cap: FloatArray,
    total: FloatArray,
) -> FloatArray:
    """:func:`water_fill` of each row of ``rate`` ``(R, K)``.

    Row ``r``'s bounds are row ``bound_row[r]`` of ``half``, ``floor``, ``cap`` ``(Rb, K)``
    and ``total`` ``(Rb,)``.
    """
    n_rows, n_arms = rate.shape
    out = np.empty((n_rows, n_arms))
    slope, low = np.empty(n_arms), np.empty(n_arms)
    points = np.empty(2 * n_arms)
    for r in range(n_rows):
        q = bound_row[r]
        h, c, b, money = half[q], cap[q], out[r], total[q]
        low_sum, cap_sum = 0.0, 0.0
        for k in range(n_arms):
            low[k] = min(floor[q, k], c[k])
            low_sum += low[k]
            cap_sum += c[k]
        if low_sum > money:  # the floors alone exceed the money: scaled down to it
            for k in range(n_arms):
                b[k] = low[k] * (money / low_sum)
        elif cap_sum <= money:  # every arm ends at its cap
            for k in range(n_arms):
                b[k] = c[k]
        else:
            _slopes_into(rate[r], h, slope)
            t = _level(slope, h, low, c, money, points)
            _budgets_at(t, slope, h, low, c, money, b)
    return out


@kernel
def _slopes_into(rate: FloatArray, half: FloatArray, slope: FloatArray) -> None:
    """``d budget / d t`` of each arm, ``h sqrt(rate / best rate)``, into ``slope``.

    Rates are relative to the row's best: the split does not depend on their scale;
    positive rates below 1e-9 of the best count as 1e-9 of it (such arms only ever take
    money no better arm can hold), which keeps every slope within 1e-4.5 of the largest.
    Rates that are not positive (0, negative, NaN) get slope 0.
    """
    top = 0.0
    for x in rate:
        if x > top:
            top = x
    scale = top if top > 0.0 else 1.0
    for k in range(rate.size):
        x = rate[k]
        slope[k] = half[k] * math.sqrt(max(x / scale, _MIN_RELATIVE_RATE)) if x > 0.0 else 0.0


@kernel
def _level(
    slope: FloatArray,
    half: FloatArray,
    floor: FloatArray,
    cap: FloatArray,
    total: float,
    points: FloatArray,
) -> float:
    """The ``t`` where ``sum(clip(slope t - half, floor, cap))`` reaches ``total``.

    Brackets the crossing between adjacent breakpoints: each round evaluates the total at
    a pivot breakpoint and keeps only the breakpoints on the crossing's side (``points``
    is scratch, ``2K`` long; :func:`~allocator.core.selection.keep_beyond`). On the last
    bracket ``(lo, hi)`` no arm changes regime, so the total is linear there and the
    crossing is one division. Called only where the floors add up to at most ``total``
    and the caps to more.
    """
    n = 0
    for k in range(slope.size):
        if slope[k] > 0.0 and cap[k] > floor[k]:
            points[n] = (floor[k] + half[k]) / slope[k]
            points[n + 1] = (cap[k] + half[k]) / slope[k]
            n += 2
    if n == 0:  # no arm can move: every one stays at its floor, whatever t
        return 0.0
    lo, hi = -math.inf, math.inf
    while n > 0:
        pivot = points[n // 2]
        below = _total_at(pivot, slope, half, floor, cap) < total
        if below:
            lo = pivot
        else:
            hi = pivot
        n = keep_beyond(points, n, pivot, below)
    if lo == -math.inf:  # the floors already reach the total
        return hi
    fixed, free_slope, free_half = 0.0, 0.0, 0.0
    for k in range(slope.size):
        s = slope[k]
        if (
            s > 0.0
            and cap[k] > floor[k]
            and (floor[k] + half[k]) / s <= lo
            and (cap[k] + half[k]) / s >= hi
        ):
            free_slope += s
            free_half += half[k]
        else:
            fixed += min(max(s * lo - half[k], floor[k]), cap[k])
    if not free_slope > 0.0:  # only arms without rate have room: the crossing is past
        return lo
    return min(max((total - fixed + free_half) / free_slope, lo), hi)


@kernel
def _total_at(
    t: float, slope: FloatArray, half: FloatArray, floor: FloatArray, cap: FloatArray
) -> float:
    """``sum(clip(slope t - half, floor, cap))``: the row's total budget at ``t``."""
    out = 0.0
    for k in range(slope.size):
        out += min(max(slope[k] * t - half[k], floor[k]), cap[k])
    return out


@kernel
def _budgets_at(
    t: float,
    slope: FloatArray,
    half: FloatArray,
    floor: FloatArray,
    cap: FloatArray,
    total: float,
    out: FloatArray,
) -> None:
    """Budgets ``clip(slope t - half, floor, cap)`` into ``out``, then the remainder.

    Arms with ``cap = 0`` get nothing. What rounding (or arms without rate, which stay at
    their floor) leaves between the sum and ``total`` is shared in proportion to each
    arm's room (below its cap when money is missing, above its floor when too much).
    """
    n_arms = slope.size
    placed = 0.0
    for k in range(n_arms):
        b = min(max(slope[k] * t - half[k], floor[k]), cap[k])
        out[k] = b if cap[k] > 0.0 else 0.0
        placed += out[k]
    gap = total - placed
    room_sum = 0.0
    for k in range(n_arms):
        room_sum += cap[k] - out[k] if gap > 0.0 else out[k] - floor[k]
    if not room_sum > 0.0:
        return
    fill = min(max(gap / room_sum, -1.0), 1.0)
    for k in range(n_arms):
        out[k] += fill * (cap[k] - out[k] if gap > 0.0 else out[k] - floor[k])


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
    if draws.size and not (draws.min() >= 0.0 and draws.max() < np.inf):  # NaN fails too
        raise ValueError("draws must be finite and >= 0")
    half_a = np.asarray(half, dtype=np.float64)
    if half_a.size and not (half_a.min() > 0.0 and half_a.max() < np.inf):
        raise ValueError("half-saturation spend must be finite and > 0")
    batch = draws.shape[:-2]
    floors_b, caps_b, total_b = broadcast_bounds(floors, caps, total, batch, draws.shape[-1])
    half_b = np.broadcast_to(half_a, floors_b.shape)[..., None, :]
    per_draw = water_fill(
        draws, half_b, floors_b[..., None, :], caps_b[..., None, :], total_b[..., None]
    )
    out: FloatArray = per_draw.mean(axis=-2)
    return out
