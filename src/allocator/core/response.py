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

from allocator._types import BoolArray, FloatArray, IntArray
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
_SORT_NETWORK = 256
"""Longest row numpy sorts with a sorting network (beyond it a sort costs several times
more per value): longer rows of breakpoints sort only the prefix up to the crossing."""
_PACKED_ROWS = 16
"""Fewest rows whose breakpoints within the network are packed into a network half as
long (a sort costs about half as much there; the packing is a dozen array calls)."""


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
    rate = np.maximum(np.asarray(rate, dtype=np.float64), 0.0)
    half = np.asarray(half, dtype=np.float64)
    if half.size and not (half.min() > 0.0 and half.max() < np.inf):  # NaN fails too
        raise ValueError("half-saturation spend must be finite and > 0 (linear: greedy fill)")
    floor = np.asarray(floor, dtype=np.float64)
    cap = np.asarray(cap, dtype=np.float64)
    total_k = np.asarray(total, dtype=np.float64)[..., None]
    shape = np.broadcast(rate, half, floor, cap, total_k).shape
    # the bounds are per arm (often shared by every draw): they stay at their own shape
    arm = np.broadcast(half, floor, cap, total_k, np.empty(shape[-1:], dtype=np.bool_)).shape
    half, cap = _broadcast(half, arm), _broadcast(cap, arm)
    floor = np.minimum(floor, cap)
    floor_sum = floor.sum(axis=-1, keepdims=True)
    over = floor_sum > total_k
    floor = floor * np.where(over, total_k / np.where(over, floor_sum, 1.0), 1.0)
    slope = _slopes(_broadcast(rate, shape), half)
    moving = (slope > 0.0) & (cap > floor)
    times, change = _breakpoints(slope, moving, floor + half, cap + half)
    rows = times.shape[0]
    floor_row = _broadcast(floor_sum, (*shape[:-1], 1)).reshape(rows, 1)
    total_row = _broadcast(total_k, (*shape[:-1], 1)).reshape(rows, 1)
    moved = change[:, : shape[-1]].sum(axis=-1, keepdims=True)  # sum of moving slopes
    # where every arm is between its bounds: sum(slope t - h) = total; the floors only
    # add to that, so unless caps bind the total is reached by this t
    h_moving = np.where(moving, half, 0.0).reshape(rows, -1).sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (total_row + h_moving) / moved * (1.0 + 1e-6)
    t_star = _solve(times, change, 1e-12 * moved, floor_row, total_row, bound)
    t_star = t_star.reshape(*shape[:-1], 1)
    b = slope  # reused in place: slope is not needed after this
    np.multiply(slope, t_star, out=b)
    np.subtract(b, half, out=b)
    np.clip(b, floor, cap, out=b)
    no_cap = ~(cap > 0.0)  # per arm: masks that select nothing are skipped
    if no_cap.any():
        np.copyto(b, 0.0, where=no_cap)
    # remainder (rounding, or only arms without rate have room): shared by room
    gap = total_k - b.sum(axis=-1, keepdims=True)
    room = b - floor
    np.subtract(cap, b, out=room, where=gap > 0.0)
    room_sum = room.sum(axis=-1, keepdims=True)
    fill = np.where(room_sum > 0.0, gap / np.where(room_sum > 0.0, room_sum, 1.0), 0.0)
    np.multiply(np.clip(fill, -1.0, 1.0), room, out=room)
    np.add(b, room, out=b)
    if over.any():
        np.copyto(b, floor, where=over)
    saturated = cap.sum(axis=-1, keepdims=True) <= total_k
    if saturated.any():
        np.copyto(b, cap, where=saturated)
    return b


def _broadcast(values: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """``numpy.broadcast_to``, without its cost where ``values`` has the shape already."""
    if values.shape == shape:
        return values
    out: FloatArray = np.broadcast_to(values, shape)
    return out


def _slopes(rate: FloatArray, half: FloatArray) -> FloatArray:
    """``d budget / d t`` of each arm, ``h sqrt(rate / best rate)``, a new array.

    Rates are relative to the row's best: the split does not depend on their scale;
    positive rates below 1e-9 of the best count as 1e-9 of it (such arms only ever take
    money no better arm can hold), which keeps every slope within 1e-4.5 of the largest.
    """
    top = rate.max(axis=-1, keepdims=True)
    rel = rate / np.where(top > 0.0, top, 1.0)
    np.maximum(rel, _MIN_RELATIVE_RATE, out=rel)
    no_rate = ~(rate > 0.0)
    if no_rate.any():
        np.copyto(rel, 0.0, where=no_rate)
    np.sqrt(rel, out=rel)
    np.multiply(half, rel, out=rel)
    return rel


def _breakpoints(
    slope: FloatArray, moving: BoolArray, floor_half: FloatArray, cap_half: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The ``2K`` breakpoints of each row and the change of total slope at each, unsorted.

    Returns ``(times, change)``, both ``(rows, 2K)``: first every arm's floor time, then
    its cap time (infinite for arms that never move); ``+slope`` at the floor, ``-slope``
    at the cap (0 for arms that never move).
    """
    n_arms = slope.shape[-1]
    rows = slope.size // n_arms if n_arms else 0
    safe = np.where(moving, slope, 1.0)
    times = np.empty((*slope.shape[:-1], 2 * n_arms))
    np.divide(floor_half, safe, out=times[..., :n_arms])
    np.divide(cap_half, safe, out=times[..., n_arms:])
    still = ~moving
    if still.any():
        np.copyto(times[..., :n_arms], np.inf, where=still)
        np.copyto(times[..., n_arms:], np.inf, where=still)
    change = np.empty_like(times)
    np.copyto(change[..., :n_arms], np.where(moving, slope, 0.0))
    np.negative(change[..., :n_arms], out=change[..., n_arms:])
    return times.reshape(rows, 2 * n_arms), change.reshape(rows, 2 * n_arms)


def _solve(
    times: FloatArray,
    change: FloatArray,
    tol: FloatArray,
    floor_sum: FloatArray,
    total: FloatArray,
    bound: FloatArray,
) -> FloatArray:
    """The ``t`` where each row's total budget reaches ``total``, ``(rows,)``.

    Only the breakpoints up to the crossing matter. Where ``2K`` is past numpy's short
    sorting network and ``bound`` (``(rows, 1)``, a ``t`` the total has likely reached)
    leaves at most 3/4 of them (within the network, for at least :data:`_PACKED_ROWS`
    rows: at most half of its length, so a network half as long sorts them), only
    those, and each row's first one past ``bound``, are sorted: the same sorted prefix,
    so the same running sums and the same answer, provided the total reaches ``total``
    within it and no equal times with unequal changes make the order of the prefix a
    choice of the sort; both are checked (else all are sorted, as before). ``tol``,
    ``floor_sum`` and ``total`` are ``(rows, 1)``.
    """
    rows, n = times.shape
    within = n <= _SORT_NETWORK  # rows the network sorts: packing pays for many rows only
    if n > _SORT_NETWORK or (2 * n > _SORT_NETWORK and rows >= _PACKED_ROWS):
        inside = times <= bound
        count = np.count_nonzero(inside, axis=-1)
        width = int(count.max()) + 1
        short = 2 * width <= _SORT_NETWORK if within else 4 * width <= 3 * n
        if count.min() > 0 and short:
            beyond = np.where(inside, np.inf, times)
            after = np.argmin(beyond, axis=-1)  # each row's first breakpoint past the bound
            inside[np.arange(rows), after] = True  # (an infinite one is harmless)
            at = np.flatnonzero(inside)
            row_of = at // n
            start = np.searchsorted(at, np.arange(0, rows * n, n))
            dest = np.arange(at.size) + (row_of * width - start[row_of])
            packed = np.full(rows * width, np.inf)
            packed[dest] = times.ravel()[at]
            moves = np.zeros(rows * width)
            moves[dest] = change.ravel()[at]
            sorted_times, rising, tied = _sort(packed.reshape(rows, width), moves, tol)
            if not tied:
                t_star, before = _crossing(sorted_times, rising, floor_sum, total)
                if (before <= count).all():  # the crossing lies within the sorted prefix
                    return t_star
    sorted_times, rising, _ = _sort(times, change.ravel(), tol)
    return _crossing(sorted_times, rising, floor_sum, total)[0]


def _sort(
    times: FloatArray, change: FloatArray, tol: FloatArray
) -> tuple[FloatArray, FloatArray, bool]:
    """Breakpoints ``(rows, n)`` in increasing ``t``, and the total slope just after each.

    ``change`` is flat (``rows * n``). The running sum leaves rounding residue (about
    1e-16 of the largest slope) where the true slope is 0 or far smaller; times the huge
    breakpoints of near-zero rates that residue would swamp the totals, so slopes below
    ``tol`` (1e-12 of the row's sum) count as 0 (such arms still get ``clip(slope * t -
    h)`` and any remainder by room). Also says whether equal times carry unequal changes.
    """
    rows, n = times.shape
    order = np.argsort(times, axis=-1)
    order += np.arange(0, rows * n, n)[:, None]  # flat index
    times = np.take(times, order)
    rising = np.take(change, order)
    # equal times with unequal changes: their order (the sort's choice) can move the
    # running sum by a rounding step
    tied = bool(((times[:, 1:] == times[:, :-1]) & (rising[:, 1:] != rising[:, :-1])).any())
    np.cumsum(rising, axis=-1, out=rising)
    np.copyto(rising, 0.0, where=~(rising > tol))
    return times, rising, tied


def _crossing(
    times: FloatArray, rising: FloatArray, floor_sum: FloatArray, total: FloatArray
) -> tuple[FloatArray, IntArray]:
    """The ``t`` where each row's total budget reaches ``total``, ``(rows,)``.

    ``times`` and ``rising`` as :func:`_sort` returns them (``times`` is changed in
    place); ``floor_sum`` and ``total`` are ``(rows, 1)``. Also returns the number of
    breakpoints passed before the crossing, ``(rows,)``.
    """
    finite = np.isfinite(times)
    np.copyto(times, 0.0, where=~finite)
    gaps = times[:, 1:] - times[:, :-1]
    np.copyto(gaps, 0.0, where=~finite[:, 1:])
    np.multiply(rising[:, :-1], gaps, out=gaps)
    # total budget at each breakpoint: floors, then slope x elapsed t, segment by segment
    at_break = np.empty_like(times)
    at_break[:, :1] = 0.0
    np.cumsum(gaps, axis=-1, out=at_break[:, 1:])
    np.add(floor_sum, at_break, out=at_break)
    # breakpoints passed (the totals never fall: slopes and gaps are >= 0)
    before = np.count_nonzero((at_break < total) & finite, axis=-1)
    last = np.maximum(before - 1, 0)
    at = np.arange(times.shape[0])
    t_last, s_last, k_last = times[at, last], at_break[at, last], rising[at, last]
    total = total[:, 0]
    step = np.where(k_last > 0.0, (total - s_last) / np.where(k_last > 0.0, k_last, 1.0), 0.0)
    t_star: FloatArray = t_last + np.maximum(step, 0.0)
    return t_star, before


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
