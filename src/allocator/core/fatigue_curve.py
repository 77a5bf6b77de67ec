"""Creative fatigue as a forecast: tomorrow's rate from a decay curve pooled per account.

A creative wears out with its own delivery: after ``I`` impressions its conversion rate is
``lambda * g(I)`` with::

    g(I) = floor + (1 - floor) * exp(-I / scale)

``scale`` (impressions) and ``floor`` are the account's, pooled across its creatives;
``lambda`` is each creative's fresh rate. A day ``d`` on which the creative had delivered
``I_d`` impressions (half of that day's own counted) converted at ``g(I_d) / g(I_now)``
times tomorrow's rate, so weighting each day's spend by that factor turns the conjugate
posterior of the rate into a posterior of **tomorrow's** rate, instead of a discounted
average of the past that a fatiguing winner has already left behind.

The curve is learned from the account's history: the profile likelihood of each
``(scale, floor)`` on a fixed grid (``lambda`` profiled out per creative, as in
:mod:`allocator.core.saturation`), summed over creatives, under a uniform prior over the
grid (with "no fatigue" as one of its points). The factors are averaged over that
posterior (Bayesian model averaging), so a thin history leaves them near 1.

Pure and vectorised over leading batch axes: arrays ``(..., K, D)``, one curve per row.
"""

from __future__ import annotations

import numpy as np

from allocator._types import FloatArray

__all__ = ["FLOOR_GRID", "SCALE_GRID", "decay", "delivered_before", "forecast_factors"]

SCALE_GRID: FloatArray = np.array([np.inf, *np.geomspace(50_000.0, 6_400_000.0, 8)])
"""Impressions over which a creative's rate falls by a factor e (above its floor); ``inf``
is no fatigue. 50k-6.4M spans creatives burning out in days to ones lasting months at
typical delivery."""

FLOOR_GRID: tuple[float, ...] = (0.0, 0.5)
"""Share of its fresh rate a fully worn-out creative keeps."""

_MAX_FIT_ARMS = 256
"""Creatives whose days enter the pooled likelihood (the first this many per row): the
curve is the account's, and a few hundred creatives pin it down; more only cost time."""


def decay(impressions: FloatArray, scale: float, floor: float) -> FloatArray:
    """``g(I) = floor + (1 - floor) exp(-I / scale)``, in (0, 1]; 1 when ``scale`` is inf."""
    if np.isinf(scale):
        return np.ones_like(np.asarray(impressions, dtype=np.float64))
    out: FloatArray = floor + (1.0 - floor) * np.exp(-np.asarray(impressions) / scale)
    return out


def delivered_before(
    impressions: FloatArray, age_days: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Impressions delivered by the middle of each day, and in all, ``(..., K, D)`` / ``(..., K)``.

    Days are ordered by age (oldest first) whatever their column order; delivery before
    the history window is unknown and counts as none.
    """
    imp = np.asarray(impressions, dtype=np.float64)
    order = np.argsort(-np.asarray(age_days, dtype=np.float64), kind="stable")
    ranked = imp[..., order]
    before = np.cumsum(ranked, axis=-1) - 0.5 * ranked
    mid = np.empty_like(imp)
    mid[..., order] = before
    return mid, imp.sum(axis=-1)


def forecast_factors(
    impressions: FloatArray,
    spend: FloatArray,
    conversions: FloatArray,
    reported: FloatArray,
    age_days: FloatArray,
) -> FloatArray:
    """Per day, its rate over tomorrow's under the account's decay curve, ``(..., K, D)``.

    Args:
        impressions: impressions per day ``(..., K, D)``.
        spend: spend per day ``(..., K, D)``, currency.
        conversions: conversions reported per day ``(..., K, D)``.
        reported: share of each day's conversions reported so far ``(D,)`` (lag).
        age_days: age of each day ``(D,)``, days (1 = yesterday).

    Returns:
        ``E[g(I_d) / g(I_now)]`` over the posterior of the curve; >= 1 (earlier days
        converted at least as well as tomorrow will); all ones without fatigue evidence.
    """
    mid, now = delivered_before(impressions, age_days)
    s = np.asarray(spend, dtype=np.float64)
    c = np.asarray(conversions, dtype=np.float64)
    w = np.asarray(reported, dtype=np.float64)
    k = min(s.shape[-2], _MAX_FIT_ARMS)
    fit_mid, fit_s, fit_c = mid[..., :k, :], s[..., :k, :], c[..., :k, :]
    total = fit_c.sum(axis=-1)
    curves = [(scale, floor) for scale in SCALE_GRID for floor in FLOOR_GRID]
    curves = curves[len(FLOOR_GRID) - 1 :]  # "no fatigue" once, whatever the floor
    loglik = []
    for scale, floor in curves:  # a loop over the grid, each step vectorised over arms
        g = decay(fit_mid, scale, floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            arm = (fit_c * np.log(g)).sum(axis=-1) - total * np.log((w * fit_s * g).sum(axis=-1))
        loglik.append(np.where(total > 0, arm, 0.0).sum(axis=-1))
    log_post = np.stack(loglik, axis=-1)  # (..., G)
    log_post = log_post - log_post.max(axis=-1, keepdims=True)
    post = np.exp(log_post)
    post /= post.sum(axis=-1, keepdims=True)
    out = np.zeros_like(mid)
    for j, (scale, floor) in enumerate(curves):
        weight = post[..., j][..., None, None]
        if not (weight > 1e-6).any():
            continue
        ratio = decay(mid, scale, floor) / decay(now, scale, floor)[..., None]
        out += weight * ratio
    return out
