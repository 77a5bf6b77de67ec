"""Whole-cent arithmetic of the guardrail projection and its exact level step.

Money here is in cents stored in float64 (sums of whole cents are exact);
:func:`cents_up` and :func:`cents_down` snap currency amounts to them.

Given per-arm bounds ``lo <= hi`` and a row total, all in cents, :func:`solve_cents`
finds the level ``lam`` with ``sum(clip(desired - lam, lo, hi)) = total`` exactly from
the breakpoints (the Euclidean projection of the desired budgets onto the bounds
with a fixed sum), then rounds to whole cents by largest remainder (ties: lower index
first), so the rounded budgets stay within their bounds and sum to the total to the cent.
Rows whose upper bounds add up to less than the total end at their upper bounds.
"""

from __future__ import annotations

import math

import numpy as np

from allocator._jit import kernel
from allocator._types import BoolArray, FloatArray
from allocator.core.selection import keep_beyond

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
    its lower bound). Each row's compiled pass (:func:`_level_rows`) brackets the
    crossing of the total between two adjacent breakpoints by selection (no sort); the
    arms free on that piece (classified at its midpoint) give the level exactly: ``(sum
    of their des - (total - the pinned bounds)) / their count``. Rows whose bounds cannot
    reach the total get the level at a bracket end: the lowest breakpoint (every arm at
    ``hi``) or the highest (every arm at ``lo``).
    """
    des, lo, hi, total = (np.ascontiguousarray(x, dtype=np.float64) for x in (des, lo, hi, total))
    return _level_rows(des, lo, hi, total)


@kernel
def _level_rows(des: FloatArray, lo: FloatArray, hi: FloatArray, total: FloatArray) -> FloatArray:
    """:func:`_level` of each row of ``(B, K)`` arrays, totals ``(B,)``."""
    n_rows, n_arms = des.shape
    out = np.empty(n_rows)
    points = np.empty(2 * n_arms)
    for r in range(n_rows):
        d, low, high, money = des[r], lo[r], hi[r], total[r]
        for k in range(n_arms):
            points[k], points[n_arms + k] = d[k] - high[k], d[k] - low[k]
        reach, short = _bracket(d, low, high, money, points)
        if short == math.inf:  # the total is reached everywhere: every arm at lo
            out[r] = reach
            continue
        if reach == -math.inf:  # never reached: every arm at hi
            out[r] = short
            continue
        mid = 0.5 * (reach + short)
        n_free, pinned, free_des = 0, 0.0, 0.0
        for k in range(n_arms):
            raw = d[k] - mid
            if low[k] < raw < high[k]:
                n_free += 1
                free_des += d[k]
            else:
                pinned += min(max(raw, low[k]), high[k])
        out[r] = (free_des - (money - pinned)) / n_free if n_free > 0 else mid
    return out


@kernel
def _bracket(
    des: FloatArray, lo: FloatArray, hi: FloatArray, total: float, points: FloatArray
) -> tuple[float, float]:
    """The adjacent breakpoints around the crossing of ``total``.

    Returns the largest breakpoint where ``f >= total`` (``-inf`` if none) and the
    smallest where ``f < total`` (``inf`` if none). Each round evaluates ``f`` at a pivot
    among the candidates left in ``points`` (all ``2K`` breakpoints, reordered) and keeps
    those on the crossing's side (:func:`~allocator.core.selection.keep_beyond`).
    """
    reach, short = -math.inf, math.inf
    n = points.size
    while n > 0:
        pivot = points[n // 2]
        f = 0.0
        for k in range(des.size):
            f += min(max(des[k] - pivot, lo[k]), hi[k])
        below = f < total
        if below:
            short = pivot
        else:
            reach = pivot
        n = keep_beyond(points, n, pivot, not below)
    return reach, short


def _nudge(priority: FloatArray, candidate: BoolArray, count: FloatArray) -> FloatArray:
    """One cent to the ``count`` candidates of each row with the highest priority.

    Ties go to the lower index. Shapes: ``(B, K)``, ``(B, K)``, ``(B,)``.
    """
    order = np.argsort(np.where(candidate, -priority, np.inf), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[-1])[None, :], axis=-1)
    step: FloatArray = (candidate & (rank < count[:, None])).astype(np.float64)
    return step
