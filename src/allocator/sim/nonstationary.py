"""Bandit baselines a specialist would put beside the engine (issue 11).

* :class:`ThompsonShares`: Thompson sampling on a Gamma-Poisson posterior of
  conversions per spend, each arm's daily budget a share of the total proportional to its
  probability of being the best arm (``P(best)``), with the platform minimum as a floor,
  budget steps within ``+-step`` of yesterday's and the whole budget spent every day.
  Three variants:

  - ``plain_ts``: every reported day counts fully, read as reported (lag and all): the
    "20-line" sampler of issue 11 (Thompson 1933; Chapelle & Li, "An empirical
    evaluation of Thompson sampling", NeurIPS 2011, for the Bernoulli case).
  - ``discounted_ts``: each day's conversions and lag-corrected spend weighted by
    ``discount ** age`` (Raj & Kalyani, "Taming non-stationary bandits: a Bayesian
    approach", 2017).
  - ``sliding_ts``: only the last ``window_days`` days, lag-corrected (the Thompson
    analogue of SW-UCB, Garivier & Moulines, ALT 2011).

* :class:`RawUCB`: RAW-UCB (Seznec et al., "A single algorithm for both restless and
  rested rotting bandits", AISTATS 2020) adapted to daily budgets. Creative fatigue is a
  *rested* rotting bandit (the rate decays with the arm's own delivery), so the windows
  run over each arm's own most recent funded days: for ``h = 1, 2, ...`` funded days the
  index is the mean conversions per pull over those ``h`` days plus a confidence width
  ``c * sqrt(2 log N / n_h)``, and the arm's index is the minimum over ``h``. A "pull"
  is one target CPA of lag-corrected spend (so an arm at target earns 1 per pull). The
  budget is cut into slots, assigned one by one to the highest index, each assignment
  counting as pulls (batched UCB, as :class:`~allocator.sim.bandits.UCB1`).

All read only what the platform reports (:class:`History`), fund only eligible arms
(launched, authorization not lapsed) and keep every funded arm at or above the platform
minimum. The lag correction uses the engine's default lag pmf (a specialist's
reasonable guess, not the world's truth).
"""

from __future__ import annotations

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState, History
from allocator.core.lag import LagModel
from allocator.sim.policy import (
    Action,
    FramedPolicy,
    eligible_arms,
    one_hot,
    proportional_budgets,
    random_argmax,
    require_context,
)

__all__ = ["RawUCB", "ThompsonShares", "p_best", "share_budgets"]


def p_best(
    a: FloatArray, b: FloatArray, eligible: BoolArray, n_draws: int, rng: np.random.Generator
) -> FloatArray:
    """Probability that each eligible arm has the highest rate under Gamma(a, b) posteriors.

    Args:
        a: shape ``(R, K)``.
        b: rate parameters ``(R, K)``, currency.
        eligible: ``(R, K)``; ineligible arms get 0.
        n_draws: Monte Carlo draws.
        rng: the policy's generator.

    Returns:
        ``(R, K)``, rows summing to 1 where any arm is eligible.
    """
    draws = rng.gamma(a, 1.0 / b, size=(n_draws, *a.shape))
    draws = np.where(eligible, draws, -1.0)
    best = np.argmax(draws, axis=-1)  # (n_draws, R)
    counts = (best[..., None] == np.arange(a.shape[-1])).sum(axis=0)
    share: FloatArray = np.where(eligible, counts / n_draws, 0.0)
    return share


def share_budgets(
    weights: FloatArray,
    previous: FloatArray,
    eligible: BoolArray,
    total: float,
    floor: float,
    step: float,
) -> Action:
    """Budgets ``floor + share of the rest`` by ``weights``, steps within ``+-step``.

    Each eligible arm's target is ``floor + (total - n floor) * weight``; an arm funded
    yesterday is clipped to ``[(1 - step) prev, (1 + step) prev]``; the result is rescaled
    above the floor so the row spends exactly ``total`` (the whole budget every day).
    Rows whose eligible arms cannot all get the floor fund the largest prefix by weight
    (:func:`~allocator.sim.policy.proportional_budgets`).

    Args:
        weights: ``(R, K)`` non-negative, summing to 1 over eligible arms.
        previous: yesterday's budgets ``(R, K)`` (0 if not funded), currency per day.
        eligible: ``(R, K)``.
        total: daily budget, currency per day.
        floor: platform minimum, currency per day.
        step: relative step bound, e.g. 0.5.

    Returns:
        ``(budgets, enabled)``.
    """
    n = eligible.sum(axis=-1, keepdims=True)
    rest = total - n * floor
    target = floor + np.maximum(rest, 0.0) * weights
    funded = eligible & (previous > 0)
    clipped = np.where(
        funded, np.clip(target, (1 - step) * previous, (1 + step) * previous), target
    )
    above = np.where(eligible, np.maximum(clipped - floor, 0.0), 0.0)
    mass = above.sum(axis=-1, keepdims=True)
    even = np.where(eligible, 1.0, 0.0) / np.maximum(n, 1)
    spread = np.divide(above, mass, out=even.copy(), where=mass > 0)
    budgets = np.where(eligible, floor + np.maximum(rest, 0.0) * spread, 0.0)
    crowded, _ = proportional_budgets(weights + 1e-12 * eligible, eligible, total, floor)
    budgets = np.where(rest >= 0, budgets, crowded)
    return budgets, budgets > 0


def _lag_corrected_spend(history: History, lag: LagModel | None) -> FloatArray:
    if lag is None:
        return history.spend
    spend: FloatArray = history.spend * lag.reported_fraction(history.age_days)
    return spend


class ThompsonShares(FramedPolicy):
    """P(best) shares of the daily budget (``plain_ts``, ``discounted_ts``, ``sliding_ts``).

    See the module docstring. The prior is Gamma(1, target CPA): one conversion's worth
    of evidence at the target.
    """

    def __init__(
        self,
        name: str = "plain_ts",
        discount: float = 1.0,
        window_days: int | None = None,
        lag_correction: bool = False,
        step: float = 0.5,
        n_draws: int = 500,
    ) -> None:
        """Create the policy.

        Args:
            name: label in results.
            discount: per-day weight ``gamma`` in (0, 1]; 1 = no discount.
            window_days: only the last ``window_days`` days count (None = all).
            lag_correction: divide spend by the engine's default reported fraction.
            step: budget step bound relative to yesterday's budget.
            n_draws: posterior draws for ``P(best)``.
        """
        if not 0 < discount <= 1 or not step > 0 or n_draws < 1:
            raise ValueError("need 0 < discount <= 1, step > 0, n_draws >= 1")
        if window_days is not None and window_days < 1:
            raise ValueError("window_days must be >= 1")
        self.name = name
        self.discount = discount
        self.window_days = window_days
        self.lag = LagModel.default() if lag_correction else None
        self.step = step
        self.n_draws = n_draws

    def posterior(self, history: History, target_cpa: float) -> tuple[FloatArray, FloatArray]:
        """Gamma ``(a, b)`` per arm ``(R, K)`` from the weighted reported history."""
        weight = self.discount ** (history.age_days - 1.0)
        if self.window_days is not None:
            weight = np.where(history.age_days <= self.window_days, weight, 0.0)
        spend = _lag_corrected_spend(history, self.lag)
        a = 1.0 + (history.conversions * weight).sum(axis=-1)
        b = target_cpa + (spend * weight).sum(axis=-1)
        return a, b

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """P(best) shares, floor, step bound, whole budget."""
        ctx = require_context(self, self._ctx)
        eligible = eligible_arms(arms)
        a, b = self.posterior(history, ctx.target_cpa)
        weights = p_best(a, b, eligible, self.n_draws, rng)
        previous = np.where(arms.enabled, arms.budget, 0.0)
        return share_budgets(
            weights, previous, eligible, ctx.daily_budget, ctx.platform_min_budget, self.step
        )

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


class RawUCB(FramedPolicy):
    """RAW-UCB over each arm's own recent funded days, budgets by slots (``raw_ucb``)."""

    name = "raw_ucb"

    def __init__(self, n_slots: int = 10, c: float = 1.0, lag_correction: bool = True) -> None:
        """Create the policy.

        Args:
            n_slots: slots per day (fewer if the budget cannot give each the minimum).
            c: confidence width multiplier.
            lag_correction: count pulls on the engine's default lag-corrected spend.
        """
        if n_slots < 1 or c < 0:
            raise ValueError("need n_slots >= 1 and c >= 0")
        self.n_slots = n_slots
        self.c = c
        self.lag = LagModel.default() if lag_correction else None

    @staticmethod
    def windows(
        history: History, unit: float, lag: LagModel | None
    ) -> tuple[FloatArray, FloatArray]:
        """Conversions and pulls over each arm's ``h`` most recent funded days.

        Returns:
            ``(conversions, pulls)``, each ``(R, K, D)``: entry ``h - 1`` sums the arm's
            ``h`` most recent days with spend (pulls = lag-corrected spend / ``unit``);
            entries beyond the arm's funded days repeat the full sum.
        """
        pulls = _lag_corrected_spend(history, lag) / unit
        newest_first = np.argsort(history.age_days, kind="stable")
        funded = history.spend[..., newest_first] > 0
        rank = np.where(funded, 0, 1) * history.n_days + np.arange(history.n_days)
        order = newest_first[np.argsort(rank, axis=-1, kind="stable")]
        conv = np.take_along_axis(history.conversions, order, axis=-1)
        pull = np.take_along_axis(pulls, order, axis=-1)
        return np.cumsum(conv, axis=-1), np.cumsum(pull, axis=-1)

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Assign slots to the highest RAW-UCB indexes."""
        ctx = require_context(self, self._ctx)
        total = ctx.daily_budget
        eligible = eligible_arms(arms)
        budgets = np.zeros(eligible.shape)
        n_slots = int(min(self.n_slots, np.floor(total / ctx.platform_min_budget)))
        if n_slots < 1 or history.n_days == 0:
            even, _ = proportional_budgets(
                1.0 + 1e-9 * rng.random(eligible.shape), eligible, total, ctx.platform_min_budget
            )
            return even, even > 0
        conv, pulls = self.windows(history, ctx.target_cpa, self.lag)
        valid = pulls > 0
        mean = np.divide(conv, pulls, out=np.zeros_like(conv), where=valid)
        n_total = np.maximum(pulls[..., -1].sum(axis=-1), np.e)[:, None, None]
        slot = total / n_slots
        added = np.zeros(eligible.shape)
        any_eligible = eligible.any(axis=-1, keepdims=True)
        for _ in range(n_slots):  # a loop over slots, not arms: each is one batched step
            n = pulls + added[..., None] + 1e-12
            width = self.c * np.sqrt(2.0 * np.log(n_total) / n)
            index = np.where(valid, mean + width, np.inf).min(axis=-1)
            pick = one_hot(random_argmax(np.where(eligible, index, -np.inf), rng), index.shape[-1])
            pick &= any_eligible
            budgets += np.where(pick, slot, 0.0)
            added += np.where(pick, slot / ctx.target_cpa, 0.0)
        return budgets, budgets > 0

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None
