"""The cross-fitted reward model of the doubly robust estimator (:mod:`allocator.backtest.ope`).

Rows get balanced random fold labels (:func:`assign_folds`); for each fold the mean reward
per (action, position) is fitted on the other folds only and shrunk toward the position's
mean (:func:`fit_reward_model`), so a row's prediction never uses its own reward.
:func:`dr_reward_terms` reads off what DR needs per row. Arrays of per-row quantities have
shape ``(..., n)`` behind optional batch axes, as in :mod:`allocator.backtest.ope`; rewards
are in the logs' unit (a click or a conversion per row).
"""

from __future__ import annotations

import numpy as np

from allocator._types import FloatArray, IntArray

__all__ = ["assign_folds", "dr_reward_terms", "fit_reward_model"]


def assign_folds(shape: tuple[int, ...], n_folds: int, rng: np.random.Generator) -> IntArray:
    """Balanced random fold labels in ``[0, n_folds)``, shape ``shape`` (folds on the last axis)."""
    n = shape[-1]
    base = np.broadcast_to(np.arange(n, dtype=np.int64) % n_folds, shape)
    return np.asarray(rng.permuted(base, axis=-1), dtype=np.int64)


def fit_reward_model(
    action: IntArray,
    position: IntArray,
    reward: FloatArray,
    fold: IntArray,
    *,
    n_actions: int,
    n_positions: int,
    n_folds: int,
) -> FloatArray:
    """Cross-fitted mean reward per (action, position), shrunk toward the position mean.

    For each fold ``k`` the model is fitted on the rows outside ``k`` only, so a row's
    prediction never uses its own reward (this keeps DR unbiased). Within each position, the
    per-action mean reward is shrunk toward the position's mean reward by a one-way
    random-effects (empirical-Bayes) rule: ``q = mu + n_j rho / (n_j rho + 1 - rho) (ybar_j -
    mu)``, where ``rho`` (between-action share of the reward variance) is the method-of-moments
    estimate, clipped to ``[0, 1]``. For 0/1 rewards this is the posterior mean under a
    Beta prior centred on the position CTR whose strength ``(1 - rho) / rho`` is fitted by
    moments (beta-binomial). Cells with no training rows get the position mean.

    Args:
        action: action indices, shape ``(..., n)``.
        position: position indices, shape ``(..., n)``.
        reward: rewards, shape ``(..., n)``.
        fold: fold labels in ``[0, n_folds)``, shape ``(..., n)``.
        n_actions: number of actions ``A``.
        n_positions: number of positions ``P``.
        n_folds: number of folds ``K``.

    Returns:
        Predicted reward per fold, shape ``(..., K, A, P)``; row ``i`` uses ``[fold_i]``.
    """
    lead = action.shape[:-1]
    n = action.shape[-1]
    n_batch = int(np.prod(lead, dtype=np.int64))
    k, a, p = n_folds, n_actions, n_positions
    batch = np.arange(n_batch, dtype=np.int64)[:, None]
    cell = (
        ((batch * k + fold.reshape(n_batch, n)) * a + action.reshape(n_batch, n)) * p
        + position.reshape(n_batch, n)
    ).ravel()
    r = reward.reshape(n_batch, n).ravel()
    size = n_batch * k * a * p

    def per_cell(weights: FloatArray | None) -> FloatArray:
        by_fold = np.bincount(cell, weights=weights, minlength=size).reshape(n_batch, k, a, p)
        return np.asarray(by_fold.sum(axis=1, keepdims=True) - by_fold, dtype=np.float64)

    count, total, total_sq = per_cell(None), per_cell(r), per_cell(r * r)
    q = _shrink(count, total, total_sq)
    return q.reshape((*lead, k, a, p))


def _shrink(count: FloatArray, total: FloatArray, total_sq: FloatArray) -> FloatArray:
    """Empirical-Bayes cell means; inputs ``(B, K, A, P)`` sums over training rows."""
    n_pos = count.sum(axis=2, keepdims=True)
    overall = total.sum(axis=(2, 3), keepdims=True) / np.maximum(
        count.sum(axis=(2, 3), keepdims=True), 1.0
    )
    mu = np.where(n_pos > 0, total.sum(axis=2, keepdims=True) / np.maximum(n_pos, 1.0), overall)
    seen = count > 0
    cell_mean = np.where(seen, total / np.where(seen, count, 1.0), mu)
    variance = total_sq.sum(axis=2, keepdims=True) / np.maximum(n_pos, 1.0) - mu**2
    between = (count * (cell_mean - mu) ** 2).sum(axis=2, keepdims=True)
    n_cells = seen.sum(axis=2, keepdims=True)
    denom = n_pos - n_cells - (count**2).sum(axis=2, keepdims=True) / np.maximum(n_pos, 1.0) + 1
    ok = (variance > 1e-300) & (denom > 0)
    rho = np.where(
        ok,
        (between / np.where(ok, variance, 1.0) - (n_cells - 1)) / np.where(ok, denom, 1.0),
        0.0,
    )
    rho = np.clip(rho, 0.0, 1.0)
    pull = count * rho
    gain = np.where(pull > 0, pull / np.maximum(pull + 1.0 - rho, 1e-300), 0.0)
    return np.asarray(mu + gain * (cell_mean - mu), dtype=np.float64)


def dr_reward_terms(
    model: FloatArray,
    target: FloatArray,
    action: IntArray,
    position: IntArray,
    fold: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """Modelled rewards DR needs, from a cross-fitted model.

    Args:
        model: predictions of :func:`fit_reward_model`, shape ``(..., K, A, P)``.
        target: target probabilities ``pi_e(a | p)``, shape ``(A, P)``.
        action: action indices, shape ``(..., n)``.
        position: position indices, shape ``(..., n)``.
        fold: fold labels, shape ``(..., n)``.

    Returns:
        ``(q_logged, q_target)``, each of shape ``(..., n)``: the model's reward for the logged
        (action, position) and its target-weighted mean at the logged position.
    """
    lead = action.shape[:-1]
    n = action.shape[-1]
    n_batch = int(np.prod(lead, dtype=np.int64))
    k, a, p = model.shape[-3:]
    m = model.reshape(n_batch, k, a, p)
    expected = np.einsum("bkap,ap->bkp", m, target)  # (B, K, P)
    b = np.arange(n_batch)[:, None]
    f, act, pos = (x.reshape(n_batch, n) for x in (fold, action, position))
    return m[b, f, act, pos].reshape(action.shape), expected[b, f, pos].reshape(action.shape)
