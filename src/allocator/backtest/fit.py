"""Fit a simulation scenario to a daily ad-group history: rates, fatigue, lag, CPM.

The history is a daily panel per arm (arrays ``(..., K, D)``, oldest day first) exported
on ``export_date``: day ``t`` has age ``a_t = export_date - t`` days and its conversions
are counted as reported by then (the last days of an export are incomplete). The model is
the simulator's (:mod:`allocator.sim.environment`) with the weekday effect left out::

    y_t ~ Poisson(lambda * x_t * g_t)
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
* fatigue, the simulator's form (:meth:`Environment._fatigue
  <allocator.sim.environment.Environment>`): the rate is multiplied by
  ``g_t = f + (1 - f) * 0.5 ** (I_t / H_k)`` with ``I_t`` the arm's impressions before
  day ``t`` within the history, ``f`` the floor (share that never fatigues) and ``H_k``
  the arm's half-life in impressions. Partial pooling across the arms, no test: the
  floor ``f`` and the portfolio's half-life ``H`` are shared; each arm's
  ``log H_k ~ Normal(log H, tau^2)``, so an arm's fatigue is shrunk toward the
  portfolio's and one strongly fatiguing creative does not drag the others along.
  ``f = 1`` (no fatigue) is one point of the prior, so a fresh account fits as one.

Inference is exact on grids (no asymptotics): ``f`` in ``fatigue_floors``, ``H`` and
``H_k`` in ``fatigue_halves`` (impressions), ``tau`` in ``fatigue_spreads``, uniform
priors over each grid. Given ``(f, H_k)`` the rate integrates out in closed form under a
weak Gamma prior worth ``a0 = prior_conversions`` conversions centred on the pooled rate
``r`` of the history (the engine's prior structure): ``lambda ~ Gamma(a0 + Y, a0 / r +
X_g)`` with ``Y = sum y`` and ``X_g = sum x g``, and the arm's marginal likelihood is
``sum y log g - (a0 + Y) log(a0 / r + X_g)`` up to a constant. Summing over ``H_k``
under its Normal and over the arms gives the posterior of ``(f, H, tau)``.
:meth:`ScenarioFit.sample` draws ``(f, H, tau)`` per world from that posterior, then each
arm's ``H_k`` from its conditional, then ``lambda``: the fatigue's uncertainty is carried
into the rates and the sampled worlds.
One history cannot tell each arm's ``h``: it is drawn per arm around the account's with
log-sd ``saturation_sigma`` and ``lambda`` rescaled to it (:meth:`ScenarioFit.sample`),
so rate intervals (:meth:`ScenarioFit.rate_summary`) carry that uncertainty too.
CPM, CTR and value per conversion are per-arm ratios (pooled for arms without delivery).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from allocator._types import BoolArray, FloatArray
from allocator.core.lag import LagModel

__all__ = [
    "DEFAULT_HALF_SATURATION",
    "FatigueDraw",
    "FitParams",
    "LagCheck",
    "ScenarioFit",
    "fit_scenario",
    "lag_check",
]

DEFAULT_HALF_SATURATION = 1500.0
"""Half-saturation spend used when the data cannot show it, currency per day (the
simulator's :attr:`Scenario.saturation_spend <allocator.sim.scenario.Scenario>`)."""

_LN2 = float(np.log(2.0))
_CHUNK = 4_000_000  # elements per block when sampling arm half-lives


def _default_floors() -> tuple[float, ...]:
    return tuple(float(v) for v in np.linspace(0.0, 1.0, 11))


def _default_halves() -> tuple[float, ...]:
    return tuple(float(v) for v in np.geomspace(1e4, 1e8, 29))


@dataclass(frozen=True)
class FitParams:
    """Settings of :func:`fit_scenario`.

    Attributes:
        lag: conversion-lag model of the reports.
        delivery_mean: assumed spend / budget ratio (spend-implied budget ``s / delivery``).
        prior_conversions: weight of the pooled rate prior, conversions.
        default_half_saturation: ``h`` when the CPM slope is not significant, currency/day.
        saturation_sigma: log-sd of an arm's ``h`` around the account's (the simulator's
            ``saturation_sigma``): ``h`` per arm is not identified by one history, so this
            prior spread is carried into the rate intervals and the sampled worlds.
        fatigue_floors: grid of the fatigue floor ``f`` in [0, 1] (uniform prior; include
            1 so that no fatigue is a possible fit).
        fatigue_halves: grid of the fatigue half-lives ``H`` and ``H_k``, impressions,
            increasing, evenly spaced in log (uniform prior in ``log H``).
        fatigue_spreads: grid of ``tau``, the log-sd of an arm's half-life around the
            portfolio's (uniform prior; 0 = one half-life for every arm).
    """

    lag: LagModel
    delivery_mean: float = 0.97
    prior_conversions: float = 1.0
    default_half_saturation: float = DEFAULT_HALF_SATURATION
    saturation_sigma: float = 0.3
    fatigue_floors: tuple[float, ...] = field(default_factory=_default_floors)
    fatigue_halves: tuple[float, ...] = field(default_factory=_default_halves)
    fatigue_spreads: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)

    def __post_init__(self) -> None:
        if not 0 < self.delivery_mean <= 1:
            raise ValueError(f"delivery_mean must be in (0, 1], got {self.delivery_mean}")
        if not self.prior_conversions > 0:
            raise ValueError(f"prior_conversions must be > 0, got {self.prior_conversions}")
        if not self.default_half_saturation > 0:
            raise ValueError("default_half_saturation must be > 0")
        if not self.saturation_sigma >= 0:
            raise ValueError(f"saturation_sigma must be >= 0, got {self.saturation_sigma}")
        floors = np.asarray(self.fatigue_floors, dtype=np.float64)
        if floors.size == 0 or not ((floors >= 0) & (floors <= 1)).all():
            raise ValueError(f"fatigue_floors must be non-empty, in [0, 1]: {floors}")
        halves = np.asarray(self.fatigue_halves, dtype=np.float64)
        if halves.size == 0 or not (halves > 0).all() or (np.diff(halves) <= 0).any():
            raise ValueError(f"fatigue_halves must be positive and increasing: {halves}")
        spreads = np.asarray(self.fatigue_spreads, dtype=np.float64)
        if spreads.size == 0 or not (spreads >= 0).all():
            raise ValueError(f"fatigue_spreads must be non-empty, >= 0: {spreads}")


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


@dataclass(frozen=True)
class ScenarioFit:
    """The fitted scenario; per-arm fields ``(..., K)``, one batch row per history.

    ``F``, ``G`` and ``T`` are the sizes of the floor, half-life and spread grids.

    Attributes:
        prior_shape: shape ``a0`` of the rates' Gamma prior, conversions.
        prior_rate: rate ``a0 / r`` of the rates' Gamma prior ``(..., K)``, currency.
        fatigue_floors: ``(F,)`` floor grid.
        fatigue_halves: ``(G,)`` half-life grid, impressions.
        fatigue_spreads: ``(T,)`` spread grid (log-sd of ``H_k`` around ``H``).
        arm_loglik: ``(..., K, F, G)`` each arm's log marginal likelihood given its
            floor and half-life (the rate integrated out), up to a per-arm constant.
        arm_exposure: ``(..., K, F, G)`` ``X_g = sum x g``, currency.
        hyper_logpost: ``(..., F, T, G)`` normalized log posterior of the floor, the
            spread and the portfolio's half-life.
        impressions: impressions within the history per arm.
        half_saturation: ``h`` per batch row ``(...)``, currency per day.
        half_saturation_fitted: whether ``h`` came from the data ``(...)``.
        saturation_sigma: log-sd of each arm's ``h`` around ``half_saturation`` ``(...)``.
        budget_mean: spend-weighted mean logged budget per arm, currency per day.
        cpm: CPM at vanishing spend, currency per 1,000 impressions.
        ctr: clicks per impression.
        value_per_conversion: currency per conversion.
        conversions: reported conversions ``Y``.
        exposure: ``X``, currency (lag- and saturation-corrected spend, before fatigue).
        spend: total spend, currency.
        lag: the lag model used.
    """

    prior_shape: float
    prior_rate: FloatArray
    fatigue_floors: FloatArray
    fatigue_halves: FloatArray
    fatigue_spreads: FloatArray
    arm_loglik: FloatArray
    arm_exposure: FloatArray
    hyper_logpost: FloatArray
    impressions: FloatArray
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

    def sample(
        self, rng: np.random.Generator, n: int
    ) -> tuple[FloatArray, FatigueDraw, FloatArray]:
        """Joint posterior draws ``(lambda, fatigue, h)``, each ``(n, ..., K)``.

        Per draw: ``(f, tau, H)`` from :attr:`hyper_logpost`, each arm's ``H_k`` from its
        conditional given them, ``lambda ~ Gamma(a0 + Y, a0 / r + X_g)``. ``h`` (currency
        per day) is drawn per arm, log-normal around the fitted ``half_saturation`` with
        log-sd ``saturation_sigma``; ``lambda`` is rescaled to it by
        ``(1 + b / h) / (1 + b / h_fit)`` with ``b`` the arm's mean logged budget (the
        data pin down the rate at the logged budgets, not at vanishing spend).
        """
        batch = self.hyper_logpost.shape[:-3]
        n_f, n_t, n_g = self.hyper_logpost.shape[-3:]
        n_k = self.conversions.shape[-1]
        flat = np.exp(self.hyper_logpost.reshape(*batch, -1))
        cdf = np.cumsum(flat / flat.sum(axis=-1, keepdims=True), axis=-1)
        u = rng.random((n, *batch, 1))
        idx = np.minimum((u > cdf).sum(axis=-1), cdf.shape[-1] - 1)  # (n, ...)
        f_idx, rest = np.divmod(idx, n_t * n_g)
        t_idx, g_idx = np.divmod(rest, n_g)
        log_half = np.log(self.fatigue_halves)
        # conditional of each arm's H_k: likelihood x Normal(log H, tau^2) on the grid
        n_b = int(np.prod(batch, dtype=np.int64))
        like = np.moveaxis(self.arm_loglik.reshape(n_b, n_k, n_f, n_g), 2, 1)  # (B, F, K, G)
        like = like - like.max(axis=-1, keepdims=True)
        expo = np.moveaxis(self.arm_exposure.reshape(n_b, n_k, n_f, n_g), 2, 1)
        rows = np.arange(n_b)
        f_flat = f_idx.reshape(n, n_b)
        arm_g = np.empty((n, n_b, n_k), dtype=np.int64)
        x_g = np.empty((n, n_b, n_k))
        block = max(1, _CHUNK // max(1, n_b * n_k * n_g))
        for start in range(0, n, block):  # bounded memory: blocks of draws, not one per draw
            sl = slice(start, min(n, start + block))
            log_prior = _log_kernel(
                log_half,
                log_half[g_idx[sl].reshape(-1, n_b)][..., None, None],
                self.fatigue_spreads[t_idx[sl].reshape(-1, n_b)][..., None],
            )
            logw = like[rows, f_flat[sl]] + log_prior  # (m, B, K, G)
            w = np.exp(logw - logw.max(axis=-1, keepdims=True))
            c = np.cumsum(w, axis=-1)
            u_arm = rng.random((*c.shape[:-1], 1)) * c[..., -1:]
            arm_g[sl] = np.minimum((u_arm > c).sum(axis=-1), n_g - 1)
            x_g[sl] = np.take_along_axis(expo[rows, f_flat[sl]], arm_g[sl][..., None], -1)[..., 0]
        arm_g = arm_g.reshape(n, *batch, n_k)
        x_g = x_g.reshape(n, *batch, n_k)
        shape = (n, *self.conversions.shape)
        rates = rng.gamma(self.prior_shape + self.conversions, 1.0 / (self.prior_rate + x_g))
        fatigue = FatigueDraw(
            floor=np.broadcast_to(self.fatigue_floors[f_idx][..., None], shape).copy(),
            half_impressions=np.asarray(self.fatigue_halves[arm_g], dtype=np.float64),
        )
        h_fit = self.half_saturation[..., None]
        h = h_fit * np.exp(self.saturation_sigma[..., None] * rng.standard_normal(shape))
        rates = rates * (1.0 + self.budget_mean / h) / (1.0 + self.budget_mean / h_fit)
        return np.asarray(rates, dtype=np.float64), fatigue, h

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

    def fatigue_summary(
        self, level: float = 0.9, n_draws: int = 4000, seed: int = 0
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Share of the starting rate left at the end of the history, by Monte Carlo.

        The fatigue multiplier ``g`` at each arm's impressions within the history: 1 = no
        fatigue. Returns ``(mean, low, high)`` of its posterior, each ``(..., K)``.
        """
        _, fatigue, _ = self.sample(np.random.default_rng(seed), n_draws)
        left = fatigue.multiplier(self.impressions)
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(left, [tail, 1.0 - tail], axis=0)
        return left.mean(axis=0), np.asarray(low), np.asarray(high)

    @property
    def fatigued(self) -> BoolArray:
        """Arms whose 90% interval of the rate left at the end lies below 0.99 ``(..., K)``."""
        _, _, high = self.fatigue_summary(0.9, n_draws=2000)
        return np.asarray(high < 0.99)


def _log_kernel(log_half: FloatArray, centre: FloatArray, spread: FloatArray) -> FloatArray:
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


def _fatigue_grid(
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


def _hyper_posterior(loglik: FloatArray, halves: FloatArray, spreads: FloatArray) -> FloatArray:
    """Normalized log posterior ``(..., F, T, G)`` of ``(f, tau, H)`` (uniform priors).

    Each arm's ``H_k`` is summed out under ``Normal(log H, tau^2)`` on the grid, then the
    arms' log marginals add up.
    """
    log_half = np.log(halves)
    kernel = np.exp(_log_kernel(log_half, log_half[:, None], spreads[:, None]))  # (T, G, G)
    top = loglik.max(axis=-1, keepdims=True)  # (..., K, F, 1)
    mixed = np.einsum("...kfh,tgh->...kftg", np.exp(loglik - top), kernel)
    with np.errstate(divide="ignore"):
        per_arm = np.log(mixed) + top[..., None]
    total = per_arm.sum(axis=-4)  # (..., F, T, G)
    peak = total.max(axis=(-3, -2, -1), keepdims=True)
    norm = np.log(np.exp(total - peak).sum(axis=(-3, -2, -1), keepdims=True)) + peak
    return np.asarray(total - norm, dtype=np.float64)


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
    ysum, xsum = y.sum(axis=-1), x.sum(axis=-1)
    pooled = _pooled_ratio(ysum.sum(axis=-1, keepdims=True), xsum.sum(axis=-1, keepdims=True), 0.0)
    pooled = np.where(pooled > 0, pooled, 1.0 / np.maximum(xsum.sum(axis=-1, keepdims=True), 1.0))
    a0 = params.prior_conversions
    prior_rate = np.broadcast_to(a0 / pooled, ysum.shape).copy()
    imps = np.asarray(impressions, dtype=np.float64)
    cum_imps = np.cumsum(imps, axis=-1) - imps
    floors = np.asarray(params.fatigue_floors, dtype=np.float64)
    halves = np.asarray(params.fatigue_halves, dtype=np.float64)
    spreads = np.asarray(params.fatigue_spreads, dtype=np.float64)
    loglik, exposure = _fatigue_grid(y, x, cum_imps, a0, prior_rate, floors, halves)
    imps_total = imps.sum(axis=-1)
    b_mean = _pooled_ratio((s * budget).sum(axis=-1), s.sum(axis=-1), 0.0)
    cpm_obs = _pooled_ratio(1000.0 * s.sum(axis=-1), imps_total, 9.0)
    return ScenarioFit(
        prior_shape=a0,
        prior_rate=prior_rate,
        fatigue_floors=floors,
        fatigue_halves=halves,
        fatigue_spreads=spreads,
        arm_loglik=loglik,
        arm_exposure=exposure,
        hyper_logpost=_hyper_posterior(loglik, halves, spreads),
        impressions=imps_total,
        half_saturation=h,
        half_saturation_fitted=h_fitted,
        saturation_sigma=h_sigma,
        budget_mean=b_mean,
        cpm=cpm_obs / (1.0 + b_mean / h[..., None]),
        ctr=_pooled_ratio(np.asarray(clicks, dtype=np.float64).sum(axis=-1), imps_total, 0.01),
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
