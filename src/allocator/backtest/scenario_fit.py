"""The scenario fitted to a history (:func:`~allocator.backtest.fit.fit_scenario`) and its draws.

:meth:`ScenarioFit.sample` draws ``(f, H, tau)`` per world from the fatigue posterior
(:mod:`allocator.backtest.fatigue`), then each arm's ``H_k`` from its conditional, then
``lambda``: the fatigue's uncertainty is carried into the rates and the sampled worlds.
One history cannot tell each arm's half-saturation spend ``h``: it is drawn per arm around
the account's with log-sd ``saturation_sigma`` and ``lambda`` rescaled to it, so rate
intervals (:meth:`ScenarioFit.rate_summary`) carry that uncertainty too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator._types import BoolArray, FloatArray
from allocator.backtest.fatigue import FatigueDraw, draw_arm_halves, draw_hyper
from allocator.core.lag import LagModel

__all__ = ["ScenarioFit"]


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
        hyper = draw_hyper(self.hyper_logpost, rng, n)
        arm_g, x_g = draw_arm_halves(
            self.arm_loglik,
            self.arm_exposure,
            self.fatigue_halves,
            self.fatigue_spreads,
            hyper,
            rng,
        )
        shape = (n, *self.conversions.shape)
        rates = rng.gamma(self.prior_shape + self.conversions, 1.0 / (self.prior_rate + x_g))
        fatigue = FatigueDraw(
            floor=np.broadcast_to(self.fatigue_floors[hyper[0]][..., None], shape).copy(),
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
