"""Bandit baselines on reported conversions per spend: greedy, epsilon-greedy, UCB1.

They read the reported history as it is (lag and all, as a buyer reading the dashboard
would), count spend in units of the target CPA where they need pulls, and break ties
between equally scored arms at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, NamedTuple

import numpy as np
from annotated_types import Ge, Lt

from allocator._types import BoolArray, FloatArray
from allocator.core.arms import ArmState, History
from allocator.sim.policy import (
    Action,
    Baseline,
    PolicyContext,
    eligible_arms,
    one_hot,
    proportional_budgets,
    random_argmax,
    reported_totals,
    require_context,
)

__all__ = ["UCB1", "EpsilonGreedy", "Greedy"]


class _Reported(NamedTuple):
    """What a dashboard-reading baseline sees on a day, ``(R, K)`` arrays."""

    ctx: PolicyContext
    eligible: BoolArray
    spend: FloatArray
    conversions: FloatArray


class _Dashboard(Baseline):
    """Base of the baselines here, which read the reported totals as they are."""

    def _reported(self, arms: ArmState, history: History) -> _Reported:
        """The budget frame, today's eligible arms and the reported totals, as they are."""
        ctx = require_context(self, self._ctx)
        return _Reported(ctx, eligible_arms(arms), *reported_totals(history))


@dataclass(eq=False)
class Greedy(_Dashboard):
    """Greedy on observed CPA, after a minimum test spend per arm (``greedy``).

    Arms with less than ``min_test_multiple x target CPA`` of reported spend get the
    platform minimum (a test budget); the rest of the budget goes to the tested arm with
    the best reported conversions per spend. With ``epsilon > 0`` a share ``epsilon`` of
    that rest is spread over a random subset of the other tested arms
    (``epsilon_greedy``). The estimate uses reported conversions as they are, lag and all,
    as a buyer reading the dashboard would.

    Attributes:
        min_test_multiple: test spend per arm, in multiples of the target CPA.
        epsilon: share of the exploitable budget spent exploring, in [0, 1).
    """

    name = "greedy"
    min_test_multiple: Annotated[float, Ge(0.0)] = 2.0
    epsilon: Annotated[float, Ge(0.0), Lt(1.0)] = 0.0

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Test new arms at the minimum, give the rest to the best observed arm."""
        ctx, eligible, spend, conv = self._reported(arms, history)
        total, m = ctx.daily_budget, ctx.platform_min_budget
        untested = eligible & (spend < self.min_test_multiple * ctx.target_cpa)
        tested = eligible & ~untested
        rate = np.divide(conv, spend, out=np.zeros_like(spend), where=spend > 0)
        best = one_hot(random_argmax(np.where(tested, rate, -np.inf), rng), rate.shape[-1])
        rest = total - m * untested.sum(axis=-1, keepdims=True)
        exploit = tested.any(axis=-1, keepdims=True) & (rest >= m)
        budgets = np.where(untested, m, 0.0) + np.where(best & tested, rest, 0.0)
        if self.epsilon > 0:
            budgets = budgets + self._explore(best, tested, rest, m, rng)
        fallback, _ = proportional_budgets(1.0 + 1e-9 * rng.random(rate.shape), untested, total, m)
        budgets = np.where(exploit, budgets, fallback)
        return budgets, budgets > 0

    def _explore(
        self,
        best: BoolArray,
        tested: BoolArray,
        rest: FloatArray,
        m: float,
        rng: np.random.Generator,
    ) -> FloatArray:
        """Move ``epsilon x rest`` from the best arm to a random subset of the others."""
        others = tested & ~best
        pot = self.epsilon * rest  # (R, 1)
        n_explore = np.minimum(others.sum(axis=-1, keepdims=True), np.floor(pot / m))
        priority = np.where(others, rng.random(others.shape), -1.0)
        rank = np.argsort(np.argsort(-priority, axis=-1), axis=-1)
        chosen = others & (rank < n_explore)
        each = np.divide(pot, n_explore, out=np.zeros_like(pot), where=n_explore > 0)
        moved = np.where(n_explore > 0, pot, 0.0)
        return np.where(chosen, each, 0.0) - np.where(best & tested, moved, 0.0)


class EpsilonGreedy(Greedy):
    """:class:`Greedy` that keeps exploring with a share ``epsilon`` (``epsilon_greedy``)."""

    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.1, min_test_multiple: float = 2.0) -> None:
        """Create the policy (see :class:`Greedy`)."""
        super().__init__(min_test_multiple=min_test_multiple, epsilon=epsilon)


@dataclass(eq=False)
class UCB1(_Dashboard):
    """UCB1 on conversions per spend, with the budget cut into slots (``ucb1``).

    Spend is counted in "pulls" of one target CPA each, so the mean reward is conversions
    per target CPA of spend (about 1 for an arm at target). Each day the budget is cut
    into ``n_slots`` equal slots (each at least the platform minimum) assigned one by one
    to the arm with the highest index ``mean + c * sqrt(2 ln N / n)``, counting each
    assigned slot as pulls so the day's slots spread (batched UCB). Unspent arms have an
    infinite index.

    Attributes:
        n_slots: slots per day (fewer if the budget cannot give each the minimum).
        c: exploration constant (1 = UCB1).
    """

    name = "ucb1"
    n_slots: Annotated[int, Ge(1)] = 10
    c: Annotated[float, Ge(0.0)] = 1.0

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Assign slots to the highest upper confidence bounds."""
        ctx, eligible, spend, conv = self._reported(arms, history)
        total, unit = ctx.daily_budget, ctx.target_cpa
        pulls = spend / unit
        mean = np.divide(conv, pulls, out=np.zeros_like(pulls), where=pulls > 0)
        n_slots = int(min(self.n_slots, np.floor(total / ctx.platform_min_budget)))
        budgets = np.zeros_like(spend)
        if n_slots < 1:  # the budget cannot fund a single ad group
            return budgets, budgets > 0
        slot = total / n_slots
        any_eligible = eligible.any(axis=-1, keepdims=True)
        for _ in range(n_slots):
            n_total = np.maximum(pulls.sum(axis=-1, keepdims=True), np.e)
            bonus = self.c * np.sqrt(2.0 * np.log(n_total) / np.where(pulls > 0, pulls, 1.0))
            index = np.where(pulls > 0, mean + bonus, np.inf)
            pick = one_hot(random_argmax(np.where(eligible, index, -np.inf), rng), spend.shape[-1])
            pick &= any_eligible
            budgets += np.where(pick, slot, 0.0)
            pulls = pulls + np.where(pick, slot / unit, 0.0)
        return budgets, budgets > 0
