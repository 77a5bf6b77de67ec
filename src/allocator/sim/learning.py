"""The platform's learning phase in the simulator, arrays of shape ``(R, K)``.

TikTok puts an ad group in a *learning phase* while its delivery system explores; its
help article ("learning phase", see shared/reference/tiktok-marketing-api.md) says the
phase lasts about 7 days (3 for manual campaigns) or until about 50 conversions, and
that results are less stable meanwhile. The simulator models it as follows (scenario
keys ``learning_*``, see :class:`~allocator.sim.scenario.Scenario`):

* **entering**: an ad group starts learning on a day it is live (enabled, launched,
  budget > 0) and was not live the day before (its launch, or re-enabling a paused ad
  group), or when its budget differs from the previous day's by more than
  ``learning_edit_fraction`` of the previous budget (a significant edit). What exactly
  restarts learning is not stated officially; this is the usual practitioner reading.
* **leaving**: after ``learning_conversions`` conversions or ``learning_days`` live days
  in learning, whichever comes first.
* **cost**: each of a learning ad group's conversions is kept with probability
  ``q = min(1, (1 - learning_penalty) * g)``, where ``g ~ Gamma`` with mean 1 and
  coefficient of variation ``learning_noise`` is drawn per ad group and day: the rate is
  lower and noisier. The expectation of ``q`` (:func:`expected_keep_share`) multiplies
  the day's expected conversions in the metrics.

The thinning uses its own generators, and the binomial draw is an inverse-CDF draw from a
common uniform, so for a fixed budget path a larger penalty never yields more
conversions on any arm or day (the delivery of impressions and clicks does not depend on
the penalty at all). The oracle is not subject to the learning phase (the runner gives it
the scenario with ``learning_penalty = 0``), so it stays a ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from allocator._types import BoolArray, FloatArray, IntArray

__all__ = ["LearningPhase", "expected_keep_share"]


def expected_keep_share(penalty: float, noise: float) -> float:
    """``E[min(1, (1 - penalty) * g)]`` for ``g ~ Gamma(mean 1, cv noise)``.

    With shape ``k = 1 / noise**2`` and ``c = 1 - penalty``, ``x = 1 / c``:
    ``E = c * P_{k+1}(g < x) + P_k(g >= x)``, where ``P_a`` is the Gamma(a, 1/k) law
    (``E[g; g < x] = P_{k+1}(g < x)`` for a mean-1 Gamma).
    """
    c = 1.0 - penalty
    if penalty <= 0.0:
        return 1.0
    if noise <= 0.0:
        return c
    k = 1.0 / noise**2
    x = k / c
    return float(c * special.gammainc(k + 1.0, x) + 1.0 - special.gammainc(k, x))


@dataclass(slots=True)
class LearningPhase:
    """Learning state of ``R x K`` ad groups, advanced once per simulated day.

    Attributes:
        penalty: ``learning_penalty`` in [0, 1).
        conversions_to_exit: ``learning_conversions``.
        days_to_exit: ``learning_days``.
        edit_fraction: ``learning_edit_fraction``.
        noise: ``learning_noise`` (coefficient of variation).
        learning: ad groups in learning at the end of the last day ``(R, K)``.
        days: live days since the current learning phase started ``(R, K)``.
        conversions: conversions since it started ``(R, K)``.
        prev_live: live on the last day ``(R, K)``.
        prev_budget: budget on the last day, currency per day ``(R, K)``.
    """

    penalty: float
    conversions_to_exit: float
    days_to_exit: int
    edit_fraction: float
    noise: float
    learning: BoolArray
    days: FloatArray
    conversions: FloatArray
    prev_live: BoolArray
    prev_budget: FloatArray

    @classmethod
    def start(
        cls,
        shape: tuple[int, int],
        penalty: float,
        conversions_to_exit: float,
        days_to_exit: int,
        edit_fraction: float,
        noise: float,
    ) -> LearningPhase:
        """Nothing launched, nothing learning."""
        return cls(
            penalty=penalty,
            conversions_to_exit=conversions_to_exit,
            days_to_exit=days_to_exit,
            edit_fraction=edit_fraction,
            noise=noise,
            learning=np.zeros(shape, dtype=bool),
            days=np.zeros(shape),
            conversions=np.zeros(shape),
            prev_live=np.zeros(shape, dtype=bool),
            prev_budget=np.zeros(shape),
        )

    @property
    def active(self) -> bool:
        """Whether the learning phase costs anything (``penalty > 0``)."""
        return self.penalty > 0.0

    def today(self, live: FloatArray) -> tuple[BoolArray, BoolArray]:
        """Which ad groups learn today, given today's live budgets.

        Args:
            live: budgets that can deliver today ``(R, K)`` (0 where disabled or not
                launched), currency per day.

        Returns:
            ``(learning, entered)``: learning today, and those that (re)started today.
        """
        is_live = live > 0
        edit = np.abs(live - self.prev_budget) > self.edit_fraction * self.prev_budget
        entered: BoolArray = is_live & (~self.prev_live | edit)
        learning: BoolArray = is_live & (entered | self.learning)
        return learning, entered

    def thin(
        self, conversions: IntArray, learning: BoolArray, rngs: tuple[np.random.Generator, ...]
    ) -> IntArray:
        """Keep each learning ad group's conversions with probability ``q`` (see module).

        Args:
            conversions: the day's conversions without the learning phase ``(R, K)``.
            learning: ad groups learning today ``(R, K)``.
            rngs: the learning phase's own generators (uniforms, Gamma noise).

        Returns:
            Conversions after the learning phase, ``(R, K)``, never above the input.
        """
        uniform = rngs[0].random(conversions.shape)
        if self.noise > 0:
            k = 1.0 / self.noise**2
            g = rngs[1].standard_gamma(k, size=conversions.shape) / k
        else:
            g = np.ones(conversions.shape)
        keep = np.minimum(1.0, (1.0 - self.penalty) * g)
        thinned = stats.binom.ppf(uniform, conversions, keep)
        thinned = np.nan_to_num(thinned, nan=0.0)
        kept: IntArray = np.where(learning, np.minimum(thinned, conversions), conversions).astype(
            np.int64
        )
        return kept

    def end_day(
        self, live: FloatArray, entered: BoolArray, conversions: FloatArray | IntArray
    ) -> None:
        """Count the day's live days and conversions; leave learning at either threshold.

        Args:
            live: the day's live budgets ``(R, K)``.
            entered: ad groups that (re)started learning that day ``(R, K)``.
            conversions: the day's conversions after the learning phase ``(R, K)``.
        """
        is_live = live > 0
        learning = is_live & (entered | self.learning)
        self.days = np.where(entered, 0.0, self.days) + learning
        self.conversions = np.where(entered, 0.0, self.conversions) + np.where(
            learning, conversions, 0.0
        )
        done = (self.conversions >= self.conversions_to_exit) | (self.days >= self.days_to_exit)
        self.learning = np.where(is_live, learning & ~done, self.learning)
        self.prev_live = is_live
        self.prev_budget = np.where(is_live, live, 0.0)
