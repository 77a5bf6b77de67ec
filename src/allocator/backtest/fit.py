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

Inference is exact on grids (:mod:`allocator.backtest.fatigue`): ``f`` in
``fatigue_floors``, ``H`` and ``H_k`` in ``fatigue_halves`` (impressions), ``tau`` in
``fatigue_spreads``, uniform priors over each grid; the rate integrates out under a weak
Gamma prior worth ``a0 = prior_conversions`` conversions centred on the pooled rate ``r``
of the history (the engine's prior structure). The result, a
:class:`~allocator.backtest.scenario_fit.ScenarioFit`, draws worlds from the joint
posterior, carrying the fatigue's and each arm's ``h`` uncertainty into the rates.
CPM, CTR and value per conversion are per-arm ratios (pooled for arms without delivery).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from allocator._types import BoolArray, FloatArray
from allocator.backtest.fatigue import fatigue_grid, hyper_posterior
from allocator.backtest.scenario_fit import ScenarioFit
from allocator.core.lag import LagModel

__all__ = [
    "DEFAULT_HALF_SATURATION",
    "FitParams",
    "LagCheck",
    "fit_scenario",
    "lag_check",
]

DEFAULT_HALF_SATURATION = 1500.0
"""Half-saturation spend used when the data cannot show it, currency per day (the
simulator's :attr:`Scenario.saturation_spend <allocator.sim.scenario.Scenario>`)."""


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


def _exposure(
    spend: FloatArray, budget: FloatArray, reported: FloatArray, half_saturation: FloatArray
) -> FloatArray:
    """``x = c * s / (1 + b / h)``: lag- and saturation-corrected spend ``(..., K, D)``.

    ``reported`` is the lag model's reported fraction per day ``(D,)``, ``budget`` the
    spend-implied budget, ``half_saturation`` one ``h`` per batch row ``(...)``.
    """
    sat = 1.0 / (1.0 + budget / half_saturation[..., None, None])
    return np.asarray(spend * reported * sat, dtype=np.float64)


def _pooled_ratio(num: FloatArray, den: FloatArray, fallback: float) -> FloatArray:
    """Per-arm ``num / den``; arms with ``den = 0`` take the batch row's pooled ratio."""
    n_tot, d_tot = num.sum(axis=-1, keepdims=True), den.sum(axis=-1, keepdims=True)
    pooled = np.where(d_tot > 0, n_tot / np.where(d_tot > 0, d_tot, 1.0), fallback)
    own = num / np.where(den > 0, den, 1.0)
    return np.asarray(np.where(den > 0, own, pooled), dtype=np.float64)


def _prior_rate(ysum: FloatArray, xsum: FloatArray, prior_shape: float) -> FloatArray:
    """Rate ``a0 / r`` of the rates' Gamma prior ``(..., K)``, ``r`` the batch row's pooled rate.

    A history without conversions centres the prior on one conversion over its exposure.
    """
    pooled = _pooled_ratio(ysum.sum(axis=-1, keepdims=True), xsum.sum(axis=-1, keepdims=True), 0.0)
    pooled = np.where(pooled > 0, pooled, 1.0 / np.maximum(xsum.sum(axis=-1, keepdims=True), 1.0))
    return np.broadcast_to(prior_shape / pooled, ysum.shape).copy()


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
    imps = np.asarray(impressions, dtype=np.float64)
    h, h_fitted, h_sigma = _half_saturation(s, imps, params)
    budget = s / params.delivery_mean
    x = _exposure(s, budget, params.lag.reported_fraction(np.asarray(age_days)), h)
    ysum, xsum = y.sum(axis=-1), x.sum(axis=-1)
    a0 = params.prior_conversions
    prior_rate = _prior_rate(ysum, xsum, a0)
    floors = np.asarray(params.fatigue_floors, dtype=np.float64)
    halves = np.asarray(params.fatigue_halves, dtype=np.float64)
    spreads = np.asarray(params.fatigue_spreads, dtype=np.float64)
    cum_imps = np.cumsum(imps, axis=-1) - imps
    loglik, exposure = fatigue_grid(y, x, cum_imps, a0, prior_rate, floors, halves)
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
        hyper_logpost=hyper_posterior(loglik, halves, spreads),
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
    x = _exposure(s, s / 0.97, fit.lag.reported_fraction(ages), fit.half_saturation)
    y_old, x_old = y[..., ~recent].sum(axis=-1), x[..., ~recent].sum(axis=-1)
    rate = np.divide(y_old, x_old, out=np.zeros_like(y_old), where=x_old > 0)
    expected = float((rate * x[..., recent].sum(axis=-1)).sum())
    reported = float(y[..., recent].sum())
    low = stats.chi2.ppf(0.05, 2.0 * reported) / 2.0 if reported > 0 else 0.0
    high = stats.chi2.ppf(0.95, 2.0 * reported + 2.0) / 2.0
    scale = expected if expected > 0 else float("nan")
    return LagCheck(reported, expected, float(low) / scale, float(high) / scale)
