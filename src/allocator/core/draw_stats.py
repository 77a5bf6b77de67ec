"""Monte Carlo statistics of the reward draws: P(best), expected loss, value remaining.

Everything is vectorised over arms ``K`` and any leading batch axes. One argmax pass over
the ``(..., S, K)`` reward draws finds each draw's best arm, then the work runs through
cache-sized blocks of arms (gap, its mean, the relative gap and its quantile, the value
remaining) in two working arrays reused by every block, without any ``(..., S, K)``
temporary. The quantile is an exact order statistic (:func:`order_statistic`) that
partitions only the few values a threshold keeps.

Ties in the draws (equal rewards, e.g. zeros) share the win equally among the tied arms,
the expectation of breaking them uniformly at random: no arm is favoured by position.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray

__all__ = ["DrawStats", "draw_stats", "order_statistic"]

_BLOCK = 1 << 15  # draws per working block of the Monte Carlo statistics (256 KiB)
_MIN_BLOCK_ARMS = 16
_SORT_MAX = 256
"""Longest row :func:`order_statistic` simply sorts (numpy sorts up to 256 float64 values
with a sorting network: faster than a partition, and many equal values do not slow it)."""


@dataclass(frozen=True, slots=True)
class DrawStats:
    """Monte Carlo summaries per arm; every field has shape ``(..., K)``.

    Attributes:
        p_best: probability the arm has the highest reward among the eligible arms.
        expected_loss: ``E[max_j theta_j - theta_k]``, reward units.
        value_remaining: ``q``-quantile of ``(max_j theta_j - theta_k) / theta_k``.
    """

    p_best: FloatArray
    expected_loss: FloatArray
    value_remaining: FloatArray


def draw_stats(
    draws: FloatArray, eligible: BoolArray, quantile: float, top_hint: IntArray | None = None
) -> DrawStats:
    """P(best), expected loss and value remaining from reward draws ``(..., S, K)``.

    One pass finds each draw's best eligible arm; the rest runs block by block (a few
    dozen arms of a few batch rows, about :data:`_BLOCK` draws at a time, copied arm-major
    so every arm's draws are contiguous) so that the gaps, their sums, the relative gaps
    and their quantile stay in cache and no ``(..., S, K)`` temporary is ever allocated.
    ``eligible`` ``(..., K)`` names the arms that compete (a row with none: all of them);
    ``quantile`` is the value-remaining quantile, in (0, 1).
    ``top_hint``, when given, is ``argmax(draws, axis=-1)`` ``(..., S)`` (not modified).
    """
    *batch, n_draws, n_arms = draws.shape
    n_rows = math.prod(batch)
    eligible = eligible | ~eligible.any(axis=-1, keepdims=True)  # all-ineligible rows: all
    mask = np.broadcast_to(eligible, (*batch, n_arms)).reshape(n_rows, n_arms)
    values = draws.reshape(n_rows, n_draws, n_arms)
    hint = None if top_hint is None else np.asarray(top_hint).reshape(n_rows, n_draws)
    top = _best_arm(values, mask, hint)  # (B, S)
    at = top.ravel() + np.arange(0, n_rows * n_draws * n_arms, n_arms)  # flat (B * S)
    best = np.ravel(values)[at].reshape(n_rows, 1, n_draws)  # values[b, s, top[b, s]]
    expected_loss, value_remaining, n_zero = _gap_stats(values, best, quantile)
    if n_zero == n_rows * n_draws and np.isfinite(best).all():
        flat = (top + (n_arms * np.arange(n_rows))[:, None]).ravel()
        p_best = np.bincount(flat, minlength=n_rows * n_arms) / n_draws
    else:  # exact ties share the win: uniform tie-breaking in expectation
        p_best = _shared_wins(values, best, mask) / n_draws
    shape = (*batch, n_arms)
    return DrawStats(
        p_best.reshape(shape),
        expected_loss.reshape(shape),
        value_remaining.reshape(shape),
    )


def _gap_stats(
    values: FloatArray, best: FloatArray, quantile: float
) -> tuple[FloatArray, FloatArray, int]:
    """Expected loss and value remaining ``(B, K)``, block by block, and the zero gaps.

    Shapes: ``values`` ``(B, S, K)``, ``best`` ``(B, 1, S)`` (each draw's best eligible
    reward). The count of zero gaps is one per draw (its best arm) unless some arm ties it.
    """
    n_rows, n_draws, n_arms = values.shape
    # Where every draw's best is positive, a zero gap (the arm is the best) divides to 0
    # as it is; otherwise the division must skip zero gaps (0 / 0).
    skip_zero = not bool((best > 0.0).all())
    kth = min(max(math.ceil(quantile * n_draws) - 1, 0), n_draws - 1)
    expected_loss = np.empty((n_rows, n_arms))
    value_remaining = np.empty((n_rows, n_arms))
    n_zero = 0
    blocks = _blocks(n_rows, n_draws, n_arms)
    # two working arrays for every block: fresh memory per block would cost page faults
    size = max((r.stop - r.start) * (a.stop - a.start) for r, a in blocks) * n_draws
    sub_buffer, gap_buffer = np.empty(size), np.empty(size)
    for rows, arms in blocks:
        shape = (rows.stop - rows.start, arms.stop - arms.start, n_draws)
        sub = sub_buffer[: math.prod(shape)].reshape(shape)  # (b, k, S), arm-major
        np.copyto(sub, values[rows, :, arms].transpose(0, 2, 1))
        gap = np.subtract(best[rows], sub, out=gap_buffer[: sub.size].reshape(shape))
        n_zero += int(np.count_nonzero(gap == 0.0))  # >= 0 for eligible arms
        expected_loss[rows, arms] = np.add.reduce(gap, axis=-1) / n_draws  # the mean
        with np.errstate(divide="ignore", over="ignore"):  # x / 0 and x / tiny: inf
            if skip_zero:
                np.divide(gap, sub, out=gap, where=gap != 0.0)  # relative gap, in place
            else:
                np.divide(gap, sub, out=gap)
        quantile_k = order_statistic(gap.reshape(-1, n_draws), kth)
        value_remaining[rows, arms] = quantile_k.reshape(shape[:-1])
    return expected_loss, value_remaining, n_zero


def _best_arm(values: FloatArray, mask: BoolArray, top_hint: IntArray | None = None) -> IntArray:
    """Index of each draw's best arm among ``mask`` (the first if tied), ``(B, S)``.

    Shapes: ``values`` ``(B, S, K)``, ``mask`` ``(B, K)``. The best arm over all arms is
    the answer wherever it is eligible; only the other draws are searched again, with
    the ineligible arms masked, a block of draws at a time. ``top_hint`` is that overall
    argmax when the caller has it (copied before any change).
    """
    n_arms = values.shape[-1]
    if mask.all():
        return np.argmax(values, axis=-1) if top_hint is None else top_hint
    top: IntArray = np.argmax(values, axis=-1) if top_hint is None else top_hint.copy()
    n_draws = top.shape[-1]
    # draws (flat index b * S + s) whose best arm is ineligible
    again = np.flatnonzero(~np.take_along_axis(mask, top, axis=-1))
    draw_rows, flat_top = values.reshape(-1, n_arms), top.reshape(-1)
    step = max(1, _BLOCK // n_arms)
    for start in range(0, again.size, step):
        at = again[start : start + step]
        contest = np.take(draw_rows, at, axis=0)  # (n, K): the draws searched again
        np.copyto(contest, -np.inf, where=~np.take(mask, at // n_draws, axis=0))
        flat_top[at] = np.argmax(contest, axis=-1)
    return top


def _blocks(n_rows: int, n_draws: int, n_arms: int) -> list[tuple[slice, slice]]:
    """Blocks ``(batch rows, arms)`` of about :data:`_BLOCK` draws, arms evenly split.

    A block holds at least :data:`_MIN_BLOCK_ARMS` arms (or all of them), so the
    number of blocks never grows with the arms faster than the work does.
    """
    width = max(_BLOCK // n_draws, _MIN_BLOCK_ARMS)
    n_splits = max(1, -(-n_arms // width))
    edges = [i * n_arms // n_splits for i in range(n_splits + 1)]
    depth = max(1, _BLOCK // (n_draws * n_arms)) if n_splits == 1 else 1
    return [
        (slice(r, min(r + depth, n_rows)), slice(lo, hi))
        for r in range(0, n_rows, depth)
        for lo, hi in itertools.pairwise(edges)
    ]


def _shared_wins(values: FloatArray, best: FloatArray, mask: BoolArray) -> FloatArray:
    """Wins when draws tie for the best: each tied arm gets ``1 / n_tied``, ``(B, K)``.

    Shapes: ``values`` ``(B, S, K)``, ``best`` ``(B, 1, S)``, ``mask`` ``(B, K)``.
    """
    is_max = (best.transpose(0, 2, 1) - values) == 0.0
    is_max &= mask[:, None, :]
    n_max = np.count_nonzero(is_max, axis=-1)  # (B, S)
    wins: FloatArray = (is_max / np.maximum(n_max, 1)[..., None]).sum(axis=-2)
    return wins


def order_statistic(rows: FloatArray, kth: int) -> FloatArray:
    """The ``kth`` smallest value of each row, ``(R,)``: ``np.partition(rows, kth)[:, kth]``.

    ``rows`` is ``(R, n)``, C-contiguous, and is reordered in place. For an upper order
    statistic (the value-remaining quantile: ``n - kth`` at most a quarter of ``n``) it
    skips most of the partition's work with a threshold that provably keeps the answer:
    split each row into ``m = 2 (n - kth)`` disjoint groups; at least ``n - kth`` values
    of the row (the ``n - kth`` largest group maxima) are at or above ``tau``, the
    ``(n - kth)``-th largest group maximum, so the ``kth`` smallest of the row is the
    ``(n - kth)``-th largest of the values ``>= tau``. Those (about 7 % of the row for a
    0.95 quantile) are packed into a short row padded with ``-inf`` and sorted. The
    value returned is the same order statistic, bit for bit (a row holding both ``0.0``
    and ``-0.0`` at the answer may return either zero, as the partition may); rows with a
    NaN take the plain partition (it sorts NaN last), rows keeping more than ``4 (n -
    kth)`` values (many ties at ``tau``) a sort.
    """
    n_rows, n = rows.shape
    n_top = n - kth
    if n <= _SORT_MAX:  # a short sort is faster than a partition, and ties do not slow it
        rows.sort(axis=-1)
        return rows[:, kth].copy()
    if 4 * n_top > n:
        rows.partition(kth, axis=-1)
        return rows[:, kth].copy()
    n_groups = 2 * n_top
    width = n // n_groups  # >= 2
    groups = rows[:, : n_groups * width].reshape(n_rows, width, n_groups).max(axis=1)
    extra = n - n_groups * width  # < n_groups: one more value for the first groups
    np.maximum(groups[:, :extra], rows[:, n - extra :], out=groups[:, :extra])
    if math.isnan(groups.max()):  # a NaN: the partition's order (NaN last) decides
        rows.partition(kth, axis=-1)
        return rows[:, kth].copy()
    groups.sort(axis=-1)
    at = np.flatnonzero(rows >= groups[:, n_groups - n_top, None])
    start = np.searchsorted(at, np.arange(0, (n_rows + 1) * n, n))  # each row's first
    count = start[1:] - start[:-1]
    if int(count.max()) > 4 * n_top:
        return _order_statistic_heavy(rows, kth, at, count)
    return _top_of_kept(rows, at, start, n_top)


def _top_of_kept(rows: FloatArray, at: IntArray, start: IntArray, n_top: int) -> FloatArray:
    """The ``n_top``-th largest of the values each row keeps, ``(R,)``.

    ``at`` are the flat indices of the kept values of ``rows`` ``(R, n)`` in increasing
    order, ``start`` ``(R + 1,)`` where each row's begin in ``at``; a row keeping fewer
    than ``n_top`` values returns ``-inf``.
    """
    n_rows, n = rows.shape
    size = max(int((start[1:] - start[:-1]).max()), n_top)
    packed = np.full(n_rows * size, -np.inf)
    # the i-th value kept goes to its row's start plus its place among the row's kept
    shift = start[:-1] - np.arange(0, n_rows * size, size)
    packed[np.arange(at.size) - shift[at // n]] = rows.ravel()[at]
    packed = packed.reshape(n_rows, size)
    packed.sort(axis=-1)
    out: FloatArray = packed[:, size - n_top]
    return out


def _order_statistic_heavy(rows: FloatArray, kth: int, at: IntArray, count: IntArray) -> FloatArray:
    """:func:`order_statistic` where some rows keep more than ``4 (n - kth)`` values.

    A row with many values at the threshold (e.g. an arm best in most draws: its gaps
    are 0) keeps most of itself; a partition degrades on so many equal values, a sort
    does not. Those rows are sorted whole; the others go through the pre-selection.
    ``at`` are the flat indices of the values kept, ``count`` how many each row keeps.
    """
    n_rows, n = rows.shape
    n_top = n - kth
    heavy = count > 4 * n_top
    out = np.empty(n_rows)
    out[heavy] = np.sort(rows[heavy], axis=-1)[:, kth]
    at = at[~heavy[at // n]]
    start = np.searchsorted(at, np.arange(0, (n_rows + 1) * n, n))
    np.copyto(out, _top_of_kept(rows, at, start, n_top), where=~heavy)
    return out
