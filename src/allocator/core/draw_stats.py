"""Monte Carlo statistics of the reward draws: P(best), expected loss, value remaining.

Everything is vectorised over arms ``K`` and any leading batch axes. One argmax pass over
the ``(..., S, K)`` reward draws finds each draw's best arm; then a compiled kernel
(:mod:`allocator._jit`) runs once over the draws for the gaps, their mean and the
relative gaps, and finds each arm's value-remaining quantile as an exact order statistic
that selects among the few values a threshold keeps (no sort, no partition of the
whole row).

Ties in the draws (equal rewards, e.g. zeros) share the win equally among the tied arms,
the expectation of breaking them uniformly at random: no arm is favoured by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from allocator._jit import kernel
from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.selection import kth_largest

__all__ = ["DrawStats", "draw_stats"]

_BLOCK = 1 << 15  # draws per block when the best eligible arm is searched again


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

    One pass finds each draw's best eligible arm; one compiled pass (:func:`_gap_rows`)
    forms the gaps, their mean, the relative gaps and their quantile. ``eligible``
    ``(..., K)`` names the arms that compete (a row with none: all of them);
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
    """Expected loss and value remaining ``(B, K)``, and the count of zero gaps.

    Shapes: ``values`` ``(B, S, K)``, ``best`` ``(B, 1, S)`` (each draw's best eligible
    reward). The count of zero gaps is one per draw (its best arm) unless some arm ties it.
    """
    n_draws = values.shape[1]
    # Where every draw's best is positive, a zero gap (the arm is the best) divides to 0
    # as it is; otherwise the division must skip zero gaps (0 / 0).
    skip_zero = not bool((best > 0.0).all())
    kth = min(max(math.ceil(quantile * n_draws) - 1, 0), n_draws - 1)
    rows = np.ascontiguousarray(values)
    return _gap_rows(rows, np.ascontiguousarray(best[:, 0, :]), n_draws - kth, skip_zero)


@kernel
def _gap_rows(
    values: FloatArray, best: FloatArray, n_top: int, skip_zero: bool
) -> tuple[FloatArray, FloatArray, int]:
    """:func:`_gap_stats` of each batch row; ``n_top``: rank of the quantile from the top.

    Two passes stream over each row's draws in memory order (no ``(S, K)`` working array:
    its first touch alone would cost more page faults than the work). The first forms
    the relative gaps, sums the gaps and keeps, per arm, the maximum of each of ``2
    n_top`` groups of draws. At least ``n_top`` of an arm's relative gaps are at or above
    ``tau``, the ``n_top``-th largest group maximum, so its ``n_top``-th largest relative
    gap is the ``n_top``-th largest of the gaps ``>= tau``; the second pass forms the gaps
    again (the same bits) and keeps those, about 7 % of the draws for the 0.95 quantile,
    and a selection finds it. The same order statistic as ``np.partition``, bit for bit.
    An arm keeping more than ``2 n_top`` gaps (many equal to ``tau``, e.g. zeros of an
    arm best in most draws) or with a NaN gap (sorted last, as the partition does) is
    selected from all of its gaps.
    """
    n_rows, n_draws, n_arms = values.shape
    loss, remaining = np.empty((n_rows, n_arms)), np.empty((n_rows, n_arms))
    n_groups = min(2 * n_top, n_draws)
    group_max, kept = np.empty((n_groups, n_arms)), np.empty((n_arms, n_groups))
    has_nan, count = np.empty(n_arms, dtype=np.bool_), np.empty(n_arms, dtype=np.int64)
    tau, column = np.empty(n_arms), np.empty(n_draws)
    n_zero = 0
    for r in range(n_rows):
        row, top = values[r], best[r]
        n_zero += _first_pass(row, top, skip_zero, group_max, loss[r], has_nan)
        for k in range(n_arms):
            column[:n_groups] = group_max[:, k]
            tau[k] = kth_largest(column, n_groups, n_top)
        _keep_above(row, top, skip_zero, tau, kept, count)
        for k in range(n_arms):
            if count[k] <= n_groups and not has_nan[k]:
                remaining[r, k] = kth_largest(kept[k], count[k], n_top)
                continue
            for s in range(n_draws):
                column[s] = _relative_gap(top[s], row[s, k], skip_zero)
            if has_nan[k]:  # NaN sorts last, as in the partition
                remaining[r, k] = np.sort(column)[n_draws - n_top]
            else:
                remaining[r, k] = kth_largest(column, n_draws, n_top)
    return loss, remaining, n_zero


@kernel
def _relative_gap(best: float, value: float, skip_zero: bool) -> float:
    """``(best - value) / value``; a zero gap stays 0 when ``skip_zero`` (no 0 / 0)."""
    gap = best - value
    return gap if skip_zero and gap == 0.0 else gap / value


@kernel
def _first_pass(
    values: FloatArray,
    best: FloatArray,
    skip_zero: bool,
    group_max: FloatArray,
    loss: FloatArray,
    has_nan: BoolArray,
) -> int:
    """The first pass over the draws ``values`` ``(S, K)``; returns the count of zero gaps.

    Per arm: the maximum relative gap of each draw group ``s % G`` into ``group_max``
    ``(G, K)``, the mean gap into ``loss`` and whether a relative gap is NaN into
    ``has_nan`` ``(K,)``.
    """
    n_draws, n_arms = values.shape
    n_groups = group_max.shape[0]
    group_max[:] = -np.inf
    loss[:] = 0.0
    has_nan[:] = False
    n_zero = 0
    for s in range(n_draws):
        top, row, g = best[s], values[s], group_max[s % n_groups]
        for k in range(n_arms):
            gap = top - row[k]
            loss[k] += gap
            n_zero += gap == 0.0
            relative = _relative_gap(top, row[k], skip_zero)  # the second pass's bits
            g[k] = max(g[k], relative)
            has_nan[k] |= relative != relative
    loss /= n_draws
    return n_zero


@kernel
def _keep_above(
    values: FloatArray,
    best: FloatArray,
    skip_zero: bool,
    tau: FloatArray,
    kept: FloatArray,
    count: IntArray,
) -> None:
    """Each arm's relative gaps ``>= tau`` into its row of ``kept`` ``(K, C)``.

    In draw order; ``count`` ``(K,)`` says how many there were (past ``C``, only the
    first ``C`` are written).

    A division costs several multiplications, so a draw is first screened by ``gap >=
    tau' x value`` with ``tau'`` a hair below ``tau`` (1e-9 of it: far more than the
    rounding of either side, so no gap at or above ``tau`` is screened out), and only
    the few that pass are divided. Non-finite ``tau`` screens nothing out.
    """
    n_draws, n_arms = values.shape
    capacity = kept.shape[1]
    screen = np.empty(n_arms)
    for k in range(n_arms):
        t = tau[k]
        screen[k] = t - 1e-9 * abs(t) if math.isfinite(t) else -math.inf
    count[:] = 0
    passed = np.empty(n_arms, dtype=np.int64)
    for s in range(n_draws):
        top, row = best[s], values[s]
        n_passed = 0
        for k in range(n_arms):  # the arms that pass, listed without a branch
            passed[n_passed] = k
            n_passed += not top - row[k] < screen[k] * row[k]  # NaN (-inf x 0) passes
        for k in passed[:n_passed]:
            relative = _relative_gap(top, row[k], skip_zero)
            if relative >= tau[k]:
                if count[k] < capacity:
                    kept[k, count[k]] = relative
                count[k] += 1


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


def _shared_wins(values: FloatArray, best: FloatArray, mask: BoolArray) -> FloatArray:
    """Wins when draws tie for the best: each tied arm gets ``1 / n_tied``, ``(B, K)``.

    Shapes: ``values`` ``(B, S, K)``, ``best`` ``(B, 1, S)``, ``mask`` ``(B, K)``.
    """
    is_max = (best.transpose(0, 2, 1) - values) == 0.0
    is_max &= mask[:, None, :]
    n_max = np.count_nonzero(is_max, axis=-1)  # (B, S)
    wins: FloatArray = (is_max / np.maximum(n_max, 1)[..., None]).sum(axis=-2)
    return wins
