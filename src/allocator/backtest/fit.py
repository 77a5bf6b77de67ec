"""Fit a simulation scenario to a daily ad-group history: rates, fatigue, lag, CPM.

The history is a daily panel per arm (arrays ``(..., K, D)``, oldest day first) exported
on ``export_date``: day ``t`` has age ``a_t = export_date - t`` days and its conversions
are counted as reported by then (the last days of an export are incomplete). The model is
the simulator's (:mod:`allocator.sim.environment`) with the weekday effect left out::

    y_t ~ Poisson(lambda * x_t * exp(-beta * S_t))
    x_t = c(a_t) * s_t / (1 + b_t / h)            b_t = s_t / delivery_mean

* ``lambda``: the arm's conversions per currency unit at vanishing spend, at the start of
  the history (the environment's ``base_rate``);
* ``c``: the lag model's reported fraction (the job config's ``lag_pmf``: one export cannot
  identify the lag, so the engine's own lag model is used; :func:`lag_check` compares the
  incomplete days with it);
* ``h``: half-saturation spend, currency per day. Estimated from the within-arm slope of
  log CPM on the day's budget (``log(1 + b/h) ~ b/h``) when that slope is positive and
  significant (t > 3), else the simulator's default (1500: a 30-day export rarely moves
  budgets enough to see it);
* fatigue ``beta``, per 1,000 currency units of cumulative spend ``S_t`` (spend before day
  ``t`` within the history): fitted per arm by Newton's method on the Poisson likelihood
  and kept only where a one-sided likelihood-ratio test of ``beta > 0`` is significant at
  ``alpha`` after Holm's correction over the tested arms (arms with at least
  ``min_conversions`` conversions and ``min_days`` days of spend). Per-arm tests lack
  power on a month of data, so the other tested arms are also tested for one *shared*
  slope (arm intercepts free, profile likelihood); when significant at ``alpha`` every
  arm with conversions and no own slope takes it. Elsewhere ``beta = 0``.

Uncertainty: without fatigue, ``lambda ~ Gamma(a0 + Y, a0 / r + X)`` with ``Y = sum y``,
``X = sum x`` and a weak prior worth ``a0 = prior_conversions`` conversions centred on the
pooled rate ``r`` of the history (the engine's prior structure). With fatigue,
``(log lambda, beta)`` is normal around the maximum-likelihood estimate with the inverse
observed information as covariance (Laplace), and ``beta`` is cut at 0 when sampled.
One history cannot tell each arm's ``h``: it is drawn per arm around the account's with
log-sd ``saturation_sigma`` and ``lambda`` rescaled to it (:meth:`ScenarioFit.sample`),
so rate intervals (:meth:`ScenarioFit.rate_summary`) carry that uncertainty too.
CPM, CTR and value per conversion are per-arm ratios (pooled for arms without delivery).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from allocator._types import BoolArray, FloatArray
from allocator.core.posterior import LagModel

__all__ = [
    "DEFAULT_HALF_SATURATION",
    "FitParams",
    "LagCheck",
    "ScenarioFit",
    "fit_scenario",
    "lag_check",
]

DEFAULT_HALF_SATURATION = 1500.0
"""Half-saturation spend used when the data cannot show it, currency per day (the
simulator's :attr:`Scenario.saturation_spend <allocator.sim.scenario.Scenario>`)."""

_PER = 1000.0  # fatigue is per 1,000 currency units of cumulative spend


@dataclass(frozen=True)
class FitParams:
    """Settings of :func:`fit_scenario`.

    Attributes:
        lag: conversion-lag model of the reports.
        delivery_mean: assumed spend / budget ratio (spend-implied budget ``s / delivery``).
        prior_conversions: weight of the pooled rate prior, conversions.
        alpha: family-wise level of the fatigue tests (Holm).
        min_conversions: conversions an arm needs before its fatigue is tested.
        min_days: days with spend an arm needs before its fatigue is tested.
        default_half_saturation: ``h`` when the CPM slope is not significant, currency/day.
        saturation_sigma: log-sd of an arm's ``h`` around the account's (the simulator's
            ``saturation_sigma``): ``h`` per arm is not identified by one history, so this
            prior spread is carried into the rate intervals and the sampled worlds.
    """

    lag: LagModel
    delivery_mean: float = 0.97
    prior_conversions: float = 1.0
    alpha: float = 0.05
    min_conversions: float = 20.0
    min_days: int = 7
    default_half_saturation: float = DEFAULT_HALF_SATURATION
    saturation_sigma: float = 0.3

    def __post_init__(self) -> None:
        if not 0 < self.delivery_mean <= 1:
            raise ValueError(f"delivery_mean must be in (0, 1], got {self.delivery_mean}")
        if not self.prior_conversions > 0:
            raise ValueError(f"prior_conversions must be > 0, got {self.prior_conversions}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not self.default_half_saturation > 0:
            raise ValueError("default_half_saturation must be > 0")
        if not self.saturation_sigma >= 0:
            raise ValueError(f"saturation_sigma must be >= 0, got {self.saturation_sigma}")


@dataclass(frozen=True)
class ScenarioFit:
    """The fitted scenario; per-arm fields ``(..., K)``, one batch row per history.

    Attributes:
        gamma_shape: Gamma posterior shape of ``lambda`` (no-fatigue arms), conversions.
        gamma_rate: Gamma posterior rate of ``lambda`` (no-fatigue arms), currency.
        fatigued: the fatigue test was significant; those arms use the Laplace fields.
        log_rate: MLE of ``log lambda`` with fatigue (NaN where not fitted).
        beta: MLE of ``beta`` per 1,000 currency of cumulative spend (NaN where not fitted).
        cov: ``(..., K, 2, 2)`` covariance of ``(log lambda, beta)`` (NaN where not fitted).
        p_fatigue: one-sided p-value of the arm's own fatigue test, unadjusted (NaN where
            untested).
        fatigue_shared: the arm takes the slope shared by the arms without their own
            significant fatigue (significant at ``alpha`` over them, one-sided LR test).
        half_saturation: ``h`` per batch row ``(...)``, currency per day.
        half_saturation_fitted: whether ``h`` came from the data ``(...)``.
        saturation_sigma: log-sd of each arm's ``h`` around ``half_saturation`` ``(...)``.
        budget_mean: spend-weighted mean logged budget per arm, currency per day.
        cpm: CPM at vanishing spend, currency per 1,000 impressions.
        ctr: clicks per impression.
        value_per_conversion: currency per conversion.
        conversions: reported conversions ``Y``.
        exposure: ``X``, currency (lag- and saturation-corrected spend).
        spend: total spend, currency.
        lag: the lag model used.
    """

    gamma_shape: FloatArray
    gamma_rate: FloatArray
    fatigued: BoolArray
    log_rate: FloatArray
    beta: FloatArray
    cov: FloatArray
    p_fatigue: FloatArray
    fatigue_shared: BoolArray
    half_saturation: FloatArray
    half_saturation_fitted: BoolArray
    saturation_sigma: FloatArray
    budget_mean: FloatArray
    cpm: FloatArray
    ctr: FloatArray
    value_per_conversion: FloatArray
    conversions: FloatArray
    exposure: FloatArray
    spend: FloatArray
    lag: LagModel

    def sample(self, rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Joint posterior draws ``(lambda, beta, h)``, each ``(n, ..., K)``.

        ``h`` (currency per day) is drawn per arm, log-normal around the fitted
        ``half_saturation`` with log-sd ``saturation_sigma``; ``lambda`` is rescaled to
        it by ``(1 + b / h) / (1 + b / h_fit)`` with ``b`` the arm's mean logged budget
        (the data pin down the rate at the logged budgets, not at vanishing spend).
        ``beta`` is per 1,000 currency units of cumulative spend, 0 for arms without
        significant fatigue and cut at 0 otherwise.
        """
        shape = (n, *self.gamma_shape.shape)
        rates = rng.gamma(self.gamma_shape, 1.0 / self.gamma_rate, size=shape)
        z = rng.standard_normal((*shape, 2))
        cov = np.where(self.fatigued[..., None, None], self.cov, np.eye(2))
        chol = np.linalg.cholesky(_nearest_pd(cov))
        mean = np.stack(
            [np.where(self.fatigued, self.log_rate, 0.0), np.where(self.fatigued, self.beta, 0.0)],
            axis=-1,
        )
        joint = mean + np.einsum("...ij,...j->...i", chol, z)
        rates = np.where(self.fatigued, np.exp(joint[..., 0]), rates)
        beta = np.where(self.fatigued, np.maximum(joint[..., 1], 0.0), 0.0)
        h_fit = self.half_saturation[..., None]
        h = h_fit * np.exp(self.saturation_sigma[..., None] * rng.standard_normal(shape))
        rates = rates * (1.0 + self.budget_mean / h) / (1.0 + self.budget_mean / h_fit)
        return rates, beta, h

    def rate_summary(
        self, level: float = 0.9, n_draws: int = 4000, seed: int = 0
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Posterior mean and equal-tailed interval of ``lambda``, by Monte Carlo.

        Args:
            level: interval coverage.
            n_draws: posterior draws.
            seed: seed of the draws (the summary is reproducible).

        Returns:
            ``(mean, low, high)``, each ``(..., K)``, conversions per currency unit.
        """
        rates, _, _ = self.sample(np.random.default_rng(seed), n_draws)
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(rates, [tail, 1.0 - tail], axis=0)
        return rates.mean(axis=0), np.asarray(low), np.asarray(high)


def _nearest_pd(cov: FloatArray) -> FloatArray:
    """Symmetrize and add a tiny ridge so Cholesky succeeds."""
    sym = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    scale = np.maximum(np.abs(np.diagonal(sym, axis1=-2, axis2=-1)).max(axis=-1), 1e-300)
    return np.asarray(sym + 1e-12 * scale[..., None, None] * np.eye(2), dtype=np.float64)


def _half_saturation(
    spend: FloatArray, impressions: FloatArray, params: FitParams
) -> tuple[FloatArray, BoolArray, FloatArray]:
    """``h`` from the within-arm slope of log CPM on the budget, per batch row ``(...)``.

    Returns ``(h, fitted, log-sd of an arm's h)``; a fitted slope adds its own relative
    standard error to the prior spread ``saturation_sigma``.
    """
    ok = (impressions > 0) & (spend > 0)
    budget = spend / params.delivery_mean
    log_cpm = np.log(np.where(ok, 1000.0 * spend / np.where(ok, impressions, 1.0), 1.0))
    n = ok.sum(axis=-1)
    b_mean = np.where(ok, budget, 0.0).sum(axis=-1) / np.maximum(n, 1)
    l_mean = np.where(ok, log_cpm, 0.0).sum(axis=-1) / np.maximum(n, 1)
    db = np.where(ok, budget - b_mean[..., None], 0.0)
    dl = np.where(ok, log_cpm - l_mean[..., None], 0.0)
    sxx = (db**2).sum(axis=(-2, -1))
    slope = np.divide((db * dl).sum(axis=(-2, -1)), sxx, out=np.zeros_like(sxx), where=sxx > 0)
    resid = np.where(ok, dl - slope[..., None, None] * db, 0.0)
    dof = ok.sum(axis=(-2, -1)) - (n > 0).sum(axis=-1) - 1
    sigma2 = np.divide((resid**2).sum(axis=(-2, -1)), np.maximum(dof, 1))
    se = np.sqrt(np.divide(sigma2, sxx, out=np.full_like(sxx, np.inf), where=sxx > 0))
    fitted = (dof > 2) & (slope > 0) & (slope > 3.0 * se)
    h = np.where(fitted, 1.0 / np.where(fitted, slope, 1.0), params.default_half_saturation)
    rel_se = np.where(fitted, se / np.where(fitted, slope, 1.0), 0.0)
    sigma = np.sqrt(params.saturation_sigma**2 + rel_se**2)
    return np.asarray(np.clip(h, 10.0, 1e7), dtype=np.float64), np.asarray(fitted), sigma


def _fatigue_mle(
    y: FloatArray, x: FloatArray, cum: FloatArray, n_iter: int = 50
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Poisson MLE of ``(log lambda, beta)`` per arm; returns theta, beta, loglik, info.

    ``info`` is the observed information ``(..., K, 2, 2)``. Damped Newton steps (the
    log-likelihood is concave in ``(theta, beta)``).
    """
    ysum, xsum = y.sum(axis=-1), x.sum(axis=-1)
    safe = (ysum > 0) & (xsum > 0)
    theta = np.log(np.where(safe, ysum, 1.0) / np.where(safe, xsum, 1.0))
    beta = np.zeros_like(theta)
    ys = (y * cum).sum(axis=-1)

    def loglik(th: FloatArray, be: FloatArray) -> FloatArray:
        mu = np.exp(th[..., None] - be[..., None] * cum) * x
        return np.asarray(ysum * th - be * ys - mu.sum(axis=-1), dtype=np.float64)

    current = loglik(theta, beta)
    info = np.zeros((*theta.shape, 2, 2))
    for _ in range(n_iter):
        mu = np.exp(theta[..., None] - beta[..., None] * cum) * x
        m0, m1, m2 = mu.sum(axis=-1), (mu * cum).sum(axis=-1), (mu * cum**2).sum(axis=-1)
        g = np.stack([ysum - m0, m1 - ys], axis=-1)
        info = np.stack([np.stack([m0, -m1], -1), np.stack([-m1, m2], -1)], -2)
        det = m0 * m2 - m1**2
        ok = safe & (det > 1e-12 * np.maximum(m0 * m2, 1e-300))
        d_theta = np.where(ok, (m2 * g[..., 0] + m1 * g[..., 1]) / np.where(ok, det, 1.0), 0.0)
        d_beta = np.where(ok, (m1 * g[..., 0] + m0 * g[..., 1]) / np.where(ok, det, 1.0), 0.0)
        step = np.ones_like(theta)
        for _ in range(20):  # halve until the likelihood does not fall
            trial = loglik(theta + step * d_theta, beta + step * d_beta)
            worse = trial < current - 1e-10
            if not worse.any():
                break
            step = np.where(worse, step / 2.0, step)
        theta, beta = theta + step * d_theta, beta + step * d_beta
        new = loglik(theta, beta)
        done = np.all(np.abs(new - current) < 1e-9)
        current = new
        if done:
            break
    return theta, beta, current, info


def _shared_fatigue(
    y: FloatArray, x: FloatArray, cum: FloatArray, use: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One fatigue slope shared by the ``use`` arms of each batch row (arm intercepts free).

    The profile score in ``beta`` is decreasing, so bisection finds the MLE. Returns
    ``(beta, standard error, one-sided p-value of beta > 0)``, each ``(...)``.
    """
    w = use[..., None]
    ys, xs = np.where(w, y, 0.0), np.where(w, x, 0.0)
    ysum = ys.sum(axis=-1)
    target = (ys * cum).sum(axis=(-2, -1))

    def moments(beta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        decay = xs * np.exp(-beta[..., None, None] * cum)
        total = decay.sum(axis=-1)
        safe = np.where(total > 0, total, 1.0)
        m1 = (decay * cum).sum(axis=-1) / safe
        m2 = (decay * cum**2).sum(axis=-1) / safe
        return total, m1, m2

    lo = np.full(ysum.shape[:-1], -5.0)
    hi = np.full(ysum.shape[:-1], 5.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        score = (ysum * moments(mid)[1]).sum(axis=-1) - target
        lo, hi = np.where(score > 0, mid, lo), np.where(score > 0, hi, mid)
    beta = 0.5 * (lo + hi)
    total, m1, m2 = moments(beta)
    info = (ysum * (m2 - m1**2)).sum(axis=-1)
    total0 = moments(np.zeros_like(beta))[0]
    pos = ysum > 0
    gain = np.where(
        pos, ysum * (np.log(np.where(pos, total0, 1.0)) - np.log(np.where(pos, total, 1.0))), 0.0
    )
    lr = np.maximum(2.0 * (gain.sum(axis=-1) - beta * target), 0.0)
    se = 1.0 / np.sqrt(np.where(info > 0, info, np.inf))
    p = np.where((beta > 0) & (use.sum(axis=-1) > 0), 0.5 * stats.chi2.sf(lr, 1), 1.0)
    return beta, np.asarray(se), np.asarray(p)


def _holm(p: FloatArray, tested: BoolArray, alpha: float) -> BoolArray:
    """Holm's step-down rejections over the tested arms of each batch row."""
    pp = np.where(tested, p, np.inf)
    order = np.argsort(pp, axis=-1)
    sorted_p = np.take_along_axis(pp, order, axis=-1)
    m = tested.sum(axis=-1, keepdims=True)
    rank = np.arange(p.shape[-1])
    passes = sorted_p <= alpha / np.maximum(m - rank, 1)
    keep = np.cumprod(passes, axis=-1).astype(bool) & np.isfinite(sorted_p)
    out = np.zeros_like(keep)
    np.put_along_axis(out, order, keep, axis=-1)
    return np.asarray(out, dtype=np.bool_)


def _pooled_ratio(num: FloatArray, den: FloatArray, fallback: float) -> FloatArray:
    """Per-arm ``num / den``; arms with ``den = 0`` take the batch row's pooled ratio."""
    n_tot, d_tot = num.sum(axis=-1, keepdims=True), den.sum(axis=-1, keepdims=True)
    pooled = np.where(d_tot > 0, n_tot / np.where(d_tot > 0, d_tot, 1.0), fallback)
    own = num / np.where(den > 0, den, 1.0)
    return np.asarray(np.where(den > 0, own, pooled), dtype=np.float64)


def fit_scenario(
    spend: FloatArray,
    impressions: FloatArray,
    clicks: FloatArray,
    conversions: FloatArray,
    value: FloatArray,
    age_days: FloatArray,
    params: FitParams,
) -> ScenarioFit:
    """Fit the scenario of the module docstring to daily panels.

    Args:
        spend: ``(..., K, D)`` currency per day, oldest day first (0 where no row).
        impressions: ``(..., K, D)``.
        clicks: ``(..., K, D)``.
        conversions: ``(..., K, D)`` as reported on the export date.
        value: ``(..., K, D)`` conversion value reported, currency.
        age_days: ``(D,)`` days from each column to the export date (>= 1).
        params: fit settings.

    Returns:
        The :class:`ScenarioFit`, per-arm fields ``(..., K)``.
    """
    s = np.asarray(spend, dtype=np.float64)
    y = np.asarray(conversions, dtype=np.float64)
    h, h_fitted, h_sigma = _half_saturation(s, np.asarray(impressions, dtype=np.float64), params)
    budget = s / params.delivery_mean
    sat = 1.0 / (1.0 + budget / h[..., None, None])
    x = s * params.lag.reported_fraction(np.asarray(age_days)) * sat
    cum = (np.cumsum(s, axis=-1) - s) / _PER
    ysum, xsum = y.sum(axis=-1), x.sum(axis=-1)
    pooled = _pooled_ratio(ysum.sum(axis=-1, keepdims=True), xsum.sum(axis=-1, keepdims=True), 0.0)
    pooled = np.where(pooled > 0, pooled, 1.0 / np.maximum(xsum.sum(axis=-1, keepdims=True), 1.0))
    a0 = params.prior_conversions
    theta, beta, ll_alt, info = _fatigue_mle(y, x, cum)
    safe = (ysum > 0) & (xsum > 0)
    theta0 = np.log(np.where(safe, ysum, 1.0) / np.where(safe, xsum, 1.0))
    ll_null = np.where(safe, ysum * theta0 - xsum * np.exp(theta0), 0.0)
    lr = np.maximum(2.0 * (ll_alt - ll_null), 0.0)
    tested = (ysum >= params.min_conversions) & ((s > 0).sum(axis=-1) >= params.min_days) & safe
    p = np.where(tested, np.where(beta > 0, 0.5 * stats.chi2.sf(lr, 1), 1.0), np.nan)
    fatigued = _holm(p, tested, params.alpha) & (beta > 0)
    det = info[..., 0, 0] * info[..., 1, 1] - info[..., 0, 1] ** 2
    fatigued &= det > 0
    inv = (
        np.stack(
            [
                np.stack([info[..., 1, 1], -info[..., 0, 1]], -1),
                np.stack([-info[..., 1, 0], info[..., 0, 0]], -1),
            ],
            -2,
        )
        / np.where(det > 0, det, 1.0)[..., None, None]
    )
    shared_beta, shared_se, shared_p = _shared_fatigue(y, x, cum, tested & ~fatigued)
    shared = (shared_p < params.alpha)[..., None] & safe & ~fatigued
    decay = x * np.exp(-shared_beta[..., None, None] * cum)
    x_shared = decay.sum(axis=-1)
    mean_cum = (decay * cum).sum(axis=-1) / np.where(x_shared > 0, x_shared, 1.0)
    var_beta = (shared_se**2)[..., None]
    cov_shared = np.stack(
        [
            np.stack(
                [1.0 / np.where(safe, ysum, 1.0) + mean_cum**2 * var_beta, mean_cum * var_beta], -1
            ),
            np.stack([mean_cum * var_beta, np.broadcast_to(var_beta, mean_cum.shape)], -1),
        ],
        -2,
    )
    theta = np.where(
        shared, np.log(np.where(safe, ysum, 1.0) / np.where(shared, x_shared, 1.0)), theta
    )
    beta = np.where(shared, shared_beta[..., None], beta)
    inv = np.where(shared[..., None, None], cov_shared, inv)
    fatigued = fatigued | shared
    nan = np.full_like(theta, np.nan)
    imps = np.asarray(impressions, dtype=np.float64).sum(axis=-1)
    b_mean = _pooled_ratio((s * budget).sum(axis=-1), s.sum(axis=-1), 0.0)
    cpm_obs = _pooled_ratio(1000.0 * s.sum(axis=-1), imps, 9.0)
    return ScenarioFit(
        gamma_shape=a0 + ysum,
        gamma_rate=a0 / pooled + xsum,
        fatigued=fatigued,
        log_rate=np.where(fatigued, theta, nan),
        beta=np.where(fatigued, beta, nan),
        cov=np.where(fatigued[..., None, None], inv, np.nan),
        p_fatigue=p,
        fatigue_shared=shared,
        half_saturation=h,
        half_saturation_fitted=h_fitted,
        saturation_sigma=h_sigma,
        budget_mean=b_mean,
        cpm=cpm_obs / (1.0 + b_mean / h[..., None]),
        ctr=_pooled_ratio(np.asarray(clicks, dtype=np.float64).sum(axis=-1), imps, 0.01),
        value_per_conversion=_pooled_ratio(np.asarray(value).sum(axis=-1), ysum, 45.0),
        conversions=ysum,
        exposure=xsum,
        spend=s.sum(axis=-1),
        lag=params.lag,
    )


@dataclass(frozen=True)
class LagCheck:
    """Reported versus expected conversions on the export's incomplete days.

    Attributes:
        reported: conversions reported on days younger than the attribution window.
        expected: what the fitted rates and the lag model predict for them.
        ratio_low: lower end of a 90% interval of ``reported / expected``.
        ratio_high: upper end.
    """

    reported: float
    expected: float
    ratio_low: float
    ratio_high: float

    @property
    def ratio(self) -> float:
        """``reported / expected`` (1 = the lag model fits)."""
        return self.reported / self.expected if self.expected > 0 else float("nan")


def lag_check(
    fit: ScenarioFit, spend: FloatArray, conversions: FloatArray, age_days: FloatArray
) -> LagCheck:
    """Compare the incomplete days of one history ``(K, D)`` with the lag model.

    Each arm's rate is estimated from its complete days (age >= the window); the
    expectation of the incomplete days is that rate times their lag- and
    saturation-corrected spend. The interval is Garwood's exact 90% Poisson interval on
    the reported count, divided by the expectation (the rates' own noise is left out).
    """
    ages = np.asarray(age_days, dtype=np.float64)
    s = np.asarray(spend, dtype=np.float64)
    y = np.asarray(conversions, dtype=np.float64)
    recent = ages < fit.lag.window_days
    sat = 1.0 / (1.0 + (s / 0.97) / fit.half_saturation[..., None, None])
    x = s * fit.lag.reported_fraction(ages) * sat
    y_old, x_old = y[..., ~recent].sum(axis=-1), x[..., ~recent].sum(axis=-1)
    rate = np.divide(y_old, x_old, out=np.zeros_like(y_old), where=x_old > 0)
    expected = float((rate * x[..., recent].sum(axis=-1)).sum())
    reported = float(y[..., recent].sum())
    low = stats.chi2.ppf(0.05, 2.0 * reported) / 2.0 if reported > 0 else 0.0
    high = stats.chi2.ppf(0.95, 2.0 * reported + 2.0) / 2.0
    scale = expected if expected > 0 else float("nan")
    return LagCheck(reported, expected, float(low) / scale, float(high) / scale)
