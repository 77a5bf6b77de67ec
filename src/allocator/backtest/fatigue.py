"""Creative fatigue of a fitted history: the pooled grid posterior and draws from it.

The fatigue model (:mod:`allocator.backtest.fit`): the rate is multiplied by
``g_t = f + (1 - f) * 0.5 ** (I_t / H_k)``, ``I_t`` the arm's impressions before day ``t``
within the history, ``f`` the floor shared by the arms, ``H_k`` the arm's half-life in
impressions with ``log H_k ~ Normal(log H, tau^2)`` around the portfolio's ``H``.

Inference is exact on grids (no asymptotics): ``f`` on a floor grid ``(F,)``, ``H`` and
``H_k`` on a half-life grid ``(G,)`` (impressions), ``tau`` on a spread grid ``(T,)``, uniform
priors over each grid. Given ``(f, H_k)`` the rate integrates out in closed form under a
weak Gamma prior ``Gamma(a0, a0 / r)``: ``lambda ~ Gamma(a0 + Y, a0 / r + X_g)`` with
``Y = sum y`` and ``X_g = sum x g``, and the arm's marginal likelihood is
``sum y log g - (a0 + Y) log(a0 / r + X_g)`` up to a constant (:func:`fatigue_grid`).
Summing over ``H_k`` under its Normal and over the arms gives the posterior of
``(f, H, tau)`` (:func:`hyper_posterior`). Draws take ``(f, tau, H)`` from that posterior
(:func:`draw_hyper`), then each arm's ``H_k`` from its conditional
(:func:`draw_arm_halves`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator._types import FloatArray, IntArray

__all__ = [
    "FatigueDraw",
    "draw_arm_halves",
    "draw_hyper",
    "fatigue_grid",
    "hyper_posterior",
    "log_kernel",
]

_LN2 = float(np.log(2.0))
_CHUNK = 4_000_000  # elements per block when sampling arm half-lives


@dataclass(frozen=True)
class FatigueDraw:
    """Fatigue of sampled worlds, each field ``(n, ..., K)``.

    Attributes:
        floor: share of the rate that never fatigues, in [0, 1].
        half_impressions: impressions (since the history start) after which the
            fatigable part has halved.
    """

    floor: FloatArray
    half_impressions: FloatArray

    def multiplier(self, cumulative_impressions: FloatArray) -> FloatArray:
        """``f + (1 - f) * 0.5 ** (I / H)`` at cumulative impressions ``I``."""
        decay = np.exp2(-np.asarray(cumulative_impressions) / self.half_impressions)
        return np.asarray(self.floor + (1.0 - self.floor) * decay, dtype=np.float64)


def log_kernel(log_half: FloatArray, centre: FloatArray, spread: FloatArray) -> FloatArray:
    """Log of ``Normal(log H_k; centre, spread^2)`` normalized over the grid ``(..., G)``.

    ``spread = 0`` puts all mass on the grid point nearest ``centre``.
    """
    sp = np.asarray(spread, dtype=np.float64)[..., None]
    dist = log_half - centre
    nearest = np.abs(dist) == np.abs(dist).min(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        point = np.where(nearest, 0.0, -np.inf)
        z = -0.5 * (dist / np.where(sp > 0, sp, 1.0)) ** 2
    logk = np.where(sp > 0, z, point)
    top = logk.max(axis=-1, keepdims=True)
    return np.asarray(
        logk - top - np.log(np.exp(logk - top).sum(axis=-1, keepdims=True)), dtype=np.float64
    )


def fatigue_grid(
    y: FloatArray,
    x: FloatArray,
    cum: FloatArray,
    prior_shape: float,
    prior_rate: FloatArray,
    floors: FloatArray,
    halves: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Per-arm log marginal likelihood and exposure on the ``(floor, half-life)`` grid.

    Args:
        y: ``(..., K, D)`` conversions.
        x: ``(..., K, D)`` exposure before fatigue, currency.
        cum: ``(..., K, D)`` impressions before each day within the history.
        prior_shape: ``a0``.
        prior_rate: ``(..., K)`` ``a0 / r``, currency.
        floors: ``(F,)``.
        halves: ``(G,)`` impressions.

    Returns:
        ``(loglik, exposure)``, each ``(..., K, F, G)``: ``sum y log g - (a0 + Y)
        log(a0 / r + X_g)`` and ``X_g = sum x g``.
    """
    ysum = y.sum(axis=-1)
    decay_log = -_LN2 * cum[..., None, :] / halves[:, None]  # (..., K, G, D)
    loglik = np.empty((*ysum.shape, floors.size, halves.size))
    exposure = np.empty_like(loglik)
    with np.errstate(divide="ignore"):
        log_f, log_1f = np.log(floors), np.log1p(-floors)
    for i in range(floors.size):  # F grid points (11 by default), each vectorized
        log_g = np.logaddexp(log_f[i], log_1f[i] + decay_log)
        xg = (x[..., None, :] * np.exp(log_g)).sum(axis=-1)
        fit_term = (y[..., None, :] * log_g).sum(axis=-1)
        exposure[..., i, :] = xg
        loglik[..., i, :] = fit_term - (prior_shape + ysum[..., None]) * np.log(
            prior_rate[..., None] + xg
        )
    return loglik, exposure


def hyper_posterior(loglik: FloatArray, halves: FloatArray, spreads: FloatArray) -> FloatArray:
    """Normalized log posterior ``(..., F, T, G)`` of ``(f, tau, H)`` (uniform priors).

    Each arm's ``H_k`` is summed out under ``Normal(log H, tau^2)`` on the grid, then the
    arms' log marginals add up.
    """
    log_half = np.log(halves)
    kernel = np.exp(log_kernel(log_half, log_half[:, None], spreads[:, None]))  # (T, G, G)
    top = loglik.max(axis=-1, keepdims=True)  # (..., K, F, 1)
    mixed = np.einsum("...kfh,tgh->...kftg", np.exp(loglik - top), kernel)
    with np.errstate(divide="ignore"):
        per_arm = np.log(mixed) + top[..., None]
    total = per_arm.sum(axis=-4)  # (..., F, T, G)
    peak = total.max(axis=(-3, -2, -1), keepdims=True)
    norm = np.log(np.exp(total - peak).sum(axis=(-3, -2, -1), keepdims=True)) + peak
    return np.asarray(total - norm, dtype=np.float64)


def draw_hyper(
    hyper_logpost: FloatArray, rng: np.random.Generator, n: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Grid indices of ``n`` draws of ``(f, tau, H)`` from :func:`hyper_posterior`.

    Args:
        hyper_logpost: ``(..., F, T, G)`` normalized log posterior.
        rng: random generator (one uniform per draw and batch row).
        n: number of draws.

    Returns:
        ``(floor, spread, half)`` indices into the grids, each ``(n, ...)``.
    """
    batch = hyper_logpost.shape[:-3]
    n_t, n_g = hyper_logpost.shape[-2:]
    flat = np.exp(hyper_logpost.reshape(*batch, -1))
    cdf = np.cumsum(flat / flat.sum(axis=-1, keepdims=True), axis=-1)
    u = rng.random((n, *batch, 1))
    idx = np.minimum((u > cdf).sum(axis=-1), cdf.shape[-1] - 1)  # (n, ...)
    f_idx, rest = np.divmod(idx, n_t * n_g)
    t_idx, g_idx = np.divmod(rest, n_g)
    return f_idx, t_idx, g_idx


def draw_arm_halves(
    arm_loglik: FloatArray,
    arm_exposure: FloatArray,
    halves: FloatArray,
    spreads: FloatArray,
    hyper: tuple[IntArray, IntArray, IntArray],
    rng: np.random.Generator,
) -> tuple[IntArray, FloatArray]:
    """Each arm's half-life given drawn ``(f, tau, H)``: likelihood x ``Normal(log H, tau^2)``.

    Args:
        arm_loglik: ``(..., K, F, G)`` per-arm log marginal likelihood (:func:`fatigue_grid`).
        arm_exposure: ``(..., K, F, G)`` per-arm ``X_g``, currency.
        halves: ``(G,)`` half-life grid, impressions.
        spreads: ``(T,)`` spread grid.
        hyper: ``(floor, spread, half)`` indices of :func:`draw_hyper`, each ``(n, ...)``.
        rng: random generator (one uniform per draw, batch row and arm).

    Returns:
        ``(half index, X_g)`` of each arm, each ``(n, ..., K)``.
    """
    f_idx, t_idx, g_idx = hyper
    n, batch = f_idx.shape[0], f_idx.shape[1:]
    n_k, n_f, n_g = arm_loglik.shape[-3:]
    log_half = np.log(halves)
    n_b = int(np.prod(batch, dtype=np.int64))
    like = np.moveaxis(arm_loglik.reshape(n_b, n_k, n_f, n_g), 2, 1)  # (B, F, K, G)
    like = like - like.max(axis=-1, keepdims=True)
    expo = np.moveaxis(arm_exposure.reshape(n_b, n_k, n_f, n_g), 2, 1)
    arm_g = np.empty((n, n_b, n_k), dtype=np.int64)
    x_g = np.empty((n, n_b, n_k))
    block = max(1, _CHUNK // max(1, n_b * n_k * n_g))
    for start in range(0, n, block):  # bounded memory: blocks of draws, not one per draw
        sl = slice(start, min(n, start + block))
        f, t, g = (i[sl].reshape(-1, n_b) for i in (f_idx, t_idx, g_idx))
        centre, spread = log_half[g][..., None, None], spreads[t][..., None]
        arm_g[sl], x_g[sl] = _draw_arm_block(like, expo, log_half, centre, spread, f, rng)
    return arm_g.reshape(n, *batch, n_k), x_g.reshape(n, *batch, n_k)


def _draw_arm_block(
    like: FloatArray,
    expo: FloatArray,
    log_half: FloatArray,
    centre: FloatArray,
    spread: FloatArray,
    floor: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, FloatArray]:
    """One block of ``m`` draws: each arm's half-life index and ``X_g``, each ``(m, B, K)``.

    ``like`` and ``expo`` are ``(B, F, K, G)``; ``floor`` holds the drawn floor indices
    ``(m, B)``, ``centre`` the drawn ``log H`` and ``spread`` the drawn ``tau``.
    """
    rows = np.arange(like.shape[0])
    logw = like[rows, floor] + log_kernel(log_half, centre, spread)  # (m, B, K, G)
    w = np.exp(logw - logw.max(axis=-1, keepdims=True))
    c = np.cumsum(w, axis=-1)
    u_arm = rng.random((*c.shape[:-1], 1)) * c[..., -1:]
    arm_g = np.minimum((u_arm > c).sum(axis=-1), c.shape[-1] - 1)
    x_g = np.take_along_axis(expo[rows, floor], arm_g[..., None], -1)[..., 0]
    return arm_g, x_g
