"""Half-saturation spend learned from an account's own spend variation.

Under the saturating response of :mod:`allocator.core.response` an ad group spending
``s`` a day converts at ``lambda * s / (1 + s / h)``. Across ad groups ``lambda`` differs,
so only the variation of each ad group's *own* daily spend says anything about ``h``: on
days it spends more, does it convert proportionally more, or less? With ``lambda``
profiled out per ad group (its Poisson maximum-likelihood value for each ``h``), the
log-likelihood of ``h`` is, up to terms free of ``h``::

    l_i(h) = -sum_d c_d log(1 + s_d / h) - C_i log(sum_d w_d s_d / (1 + s_d / h))

with ``c_d`` the conversions reported for day ``d``, ``w_d`` the exposure weight (the
share of day ``d``'s conversions reported so far), ``C_i = sum_d c_d``. Summed over the
account's ad groups and combined with a log-normal prior centred on the assumed ``h``, the
posterior over a fixed grid of ``h`` values gives the account's ``h`` (its posterior
median on the grid). One ``h`` per account: per ad group the data are far too thin.

Everything is vectorised over leading batch axes: spend and conversions ``(..., K, D)``,
the result ``(...)``.
"""

from __future__ import annotations

import numpy as np

from allocator._types import FloatArray

__all__ = ["HALF_GRID", "fit_half_saturation"]

HALF_GRID: FloatArray = np.geomspace(125.0, 64_000.0, 19)
"""Candidate half-saturation spends, currency per day: 125 to 64,000 in steps of
``sqrt(2)``; the top end is all but linear for any daily budget this engine plans."""


def fit_half_saturation(
    spend: FloatArray,
    conversions: FloatArray,
    exposure_weight: FloatArray,
    prior_half: float,
    prior_sd_log: float,
) -> FloatArray:
    """The account's half-saturation spend, currency per day, shape ``(...)``.

    Args:
        spend: daily spend ``(..., K, D)``, currency per day.
        conversions: conversions reported per day ``(..., K, D)``.
        exposure_weight: the share of each day's conversions reported so far ``(D,)``
            (the posterior's exposure weight).
        prior_half: the prior's median ``h``, currency per day (the assumed value).
        prior_sd_log: the prior's standard deviation of ``ln h`` (> 0).

    Returns:
        The posterior median of ``h`` over :data:`HALF_GRID`; the prior's median (snapped
        to the grid) where the data carry no information (no ad group with two days of
        different spend and a conversion).
    """
    if not (prior_half > 0 and prior_sd_log > 0):
        raise ValueError("the prior needs a median h > 0 and a log-scale sd > 0")
    s = np.asarray(spend, dtype=np.float64)[..., None, :, :]  # (..., 1, K, D)
    c = np.asarray(conversions, dtype=np.float64)[..., None, :, :]
    w = np.asarray(exposure_weight, dtype=np.float64)
    h = HALF_GRID[:, None, None]  # (G, 1, 1)
    squash = np.log1p(s / h)  # (..., G, K, D)
    effective = (w * s * np.exp(-squash)).sum(axis=-1)  # sum_d w_d s_d / (1 + s_d / h)
    total = c.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        profile = -(c * squash).sum(axis=-1) - total * np.log(effective)
    profile = np.where(total > 0, profile, 0.0).sum(axis=-1)  # (..., G)
    log_grid = np.log(HALF_GRID)
    prior = -0.5 * ((log_grid - np.log(prior_half)) / prior_sd_log) ** 2
    log_post = profile + prior
    log_post -= log_post.max(axis=-1, keepdims=True)
    post = np.exp(log_post)
    cdf = np.cumsum(post, axis=-1) / post.sum(axis=-1, keepdims=True)
    median = np.argmax(cdf >= 0.5, axis=-1)
    out: FloatArray = HALF_GRID[median]
    return out
