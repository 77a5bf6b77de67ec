"""Whole-cent arithmetic of the guardrail projection and its exact level step.

Money here is in cents stored in float64 (sums of whole cents are exact);
:func:`cents_up` and :func:`cents_down` snap currency amounts to them.

Given per-arm bounds ``lo <= hi`` and a row total, all in cents, :func:`solve_cents`
finds the level ``lam`` with ``sum(clip(desired - lam, lo, hi)) = total`` exactly from
the sorted breakpoints (the Euclidean projection of the desired budgets onto the bounds
with a fixed sum), then rounds to whole cents by largest remainder (ties: lower index
first), so the rounded budgets stay within their bounds and sum to the total to the cent.
Rows whose upper bounds add up to less than the total end at their upper bounds.
"""

from __future__ import annotations

import numpy as np

from allocator._types import BoolArray, FloatArray

__all__ = ["CENT_NOISE", "cents_down", "cents_up", "solve_cents"]

CENT_NOISE = 1e-6
"""Cents of float noise tolerated wherever money meets a whole-cent threshold: a desired
budget that sits on a bound (e.g. the platform minimum, where the allocation's floors put
testing arms) carries rounding residue of about 1e-12 cents, which must not decide."""


def cents_up(x: FloatArray | float) -> FloatArray:
    """Whole cents, rounded up (float noise below a millionth of a cent ignored)."""
    return np.ceil(np.asarray(x, dtype=np.float64) * 100.0 - CENT_NOISE)


def cents_down(x: FloatArray | float) -> FloatArray:
    """Whole cents, rounded down (float noise below a millionth of a cent ignored)."""
    return np.floor(np.asarray(x, dtype=np.float64) * 100.0 + CENT_NOISE)


def solve_cents(
    des: FloatArray, lo: FloatArray, hi: FloatArray, enabled: BoolArray, total: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Budgets in whole cents, the level ``lam`` per row and the shortfall rows.

    Args:
        des: desired budgets, cents, shape ``(B, K)``.
        lo: lower bound per arm, whole cents, shape ``(B, K)``.
        hi: upper bound per arm, whole cents, shape ``(B, K)``.
        enabled: arms that run (the others get 0), shape ``(B, K)``.
        total: the total per row, whole cents, shape ``(B,)``.

    Returns:
        ``(cents, level, short)``: budgets ``(B, K)``, the level ``(B,)`` and the rows
        whose enabled upper bounds cannot reach the total ``(B,)``.
    """
    lo = np.where(enabled, lo, 0.0)
    hi = np.where(enabled, hi, 0.0)
    short = hi.sum(axis=-1) < total
    level = _level(des, lo, hi, total)
    exact = np.where(short[:, None], hi, np.clip(des - level[:, None], lo, hi))
    cents = np.clip(np.floor(exact + CENT_NOISE), lo, hi)
    gap = np.where(short, 0.0, total - cents.sum(axis=-1))
    frac = np.round(exact - cents, 6)  # fractions equal to within noise tie (lower index)
    if (gap > 0.0).any():
        cents += _nudge(frac, enabled & (cents < hi), np.maximum(gap, 0.0))
    if (gap < 0.0).any():
        cents -= _nudge(-frac, enabled & (cents > lo), np.maximum(-gap, 0.0))
    return cents, level, short


def _level(des: FloatArray, lo: FloatArray, hi: FloatArray, total: FloatArray) -> FloatArray:
    """Level ``lam`` per row with ``sum(clip(des - lam, lo, hi)) = total``, shape ``(B,)``.

    ``f(lam) = sum(clip(des - lam, lo, hi))`` is piecewise linear and non-increasing, with
    breakpoints ``des - hi`` (an arm leaves its upper bound) and ``des - lo`` (it reaches
    its lower bound). The ``2K`` breakpoints of each row are sorted once and ``f`` is
    evaluated at all of them with cumulative sums of the intercept and slope changes;
    the first breakpoint where ``f`` drops below the total closes the linear piece that
    holds the solution. The arms free on that piece (classified at its midpoint) give the
    level exactly: ``(sum of their des - (total - the pinned bounds)) / their count``.
    Rows whose bounds cannot reach the total get the level at a bracket end: the lowest
    breakpoint (every arm at ``hi``) or the highest (every arm at ``lo``).
    """
    n_rows, n_arms = des.shape
    rows = np.arange(n_rows)[:, None]
    at_hi = des - hi  # below this level the arm sits at hi
    at_lo = des - lo  # above this level the arm sits at lo
    points = np.concatenate([at_hi, at_lo], axis=-1)  # (B, 2K)
    order = np.argsort(points, axis=-1, kind="stable")
    ranked = points[rows, order]
    # Crossing a breakpoint upwards: at des - hi the arm turns free (intercept += des - hi,
    # slope -= 1); at des - lo it is pinned again (intercept += lo - des, slope += 1).
    d_intercept = np.concatenate([at_hi, -at_lo], axis=-1)[rows, order]
    d_free = np.where(order < n_arms, 1.0, -1.0)
    intercept = hi.sum(axis=-1, keepdims=True) + np.cumsum(d_intercept, axis=-1)
    n_free_at = np.cumsum(d_free, axis=-1)
    below = intercept - n_free_at * ranked < total[:, None]  # f(breakpoint) < total
    first = np.argmax(below, axis=-1)
    crossed = below[np.arange(n_rows), first]  # False: f >= total everywhere
    upper = np.where(crossed, first, 2 * n_arms - 1)
    lower = np.where(crossed, np.maximum(first - 1, 0), upper)
    bracket = ranked[np.arange(n_rows)[:, None], np.stack([lower, upper], axis=-1)]
    mid = 0.5 * (bracket[:, 0] + bracket[:, 1])
    raw = des - mid[:, None]
    free = (raw > lo) & (raw < hi)
    n_free = free.sum(axis=-1)
    pinned = np.where(free, 0.0, np.clip(raw, lo, hi)).sum(axis=-1)
    free_des = np.where(free, des, 0.0).sum(axis=-1)
    exact = (free_des - (total - pinned)) / np.maximum(n_free, 1)
    level: FloatArray = np.where(n_free > 0, exact, mid)
    return level


def _nudge(priority: FloatArray, candidate: BoolArray, count: FloatArray) -> FloatArray:
    """One cent to the ``count`` candidates of each row with the highest priority.

    Ties go to the lower index. Shapes: ``(B, K)``, ``(B, K)``, ``(B,)``.
    """
    order = np.argsort(np.where(candidate, -priority, np.inf), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[-1])[None, :], axis=-1)
    step: FloatArray = (candidate & (rank < count[:, None])).astype(np.float64)
    return step
