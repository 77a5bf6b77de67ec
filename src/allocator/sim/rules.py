"""Automated rules as ad managers offer them (``rules``): pause and step on CPA.

The rules act on metrics (CPA, spend) only. Ad managers' automated rules have no condition
on a Spark code's status, and a lapsed ad group spends nothing, so no CPA rule ever fires
on it: by default :class:`Rules` ignores authorizations and the budget left on a lapsed
arm stays stranded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from annotated_types import Ge, Gt, Lt

from allocator._types import BoolArray, FloatArray
from allocator.core.arms import ArmState, History
from allocator.sim.policy import (
    Action,
    Baseline,
    PolicyContext,
    eligible_arms,
    proportional_budgets,
    require_context,
)

__all__ = ["Rules"]


def _no_weights() -> FloatArray:
    return np.zeros((0, 0))


def _no_flags() -> BoolArray:
    return np.zeros((0, 0), dtype=bool)


@dataclass(eq=False)
class Rules(Baseline):
    """Automated rules as ad managers offer them (``rules``).

    Every day, over the last ``lookback_days`` of reported data (CPA = spend /
    conversions, infinite with spend and no conversion), for each running arm:

    * pause it if CPA > ``pause_cpa_multiple x target`` once its lifetime spend is at
      least ``min_spend_multiple x target`` (paused arms stay paused);
    * otherwise raise its budget by ``step`` when CPA < target, lower it by ``step``
      when CPA > target.

    New arms start at the average budget of the running ones. The budgets are then
    rescaled to the daily budget (the buyer moves freed budget to the running ad groups)
    with the platform minimum respected. Lapsed authorizations are ignored by default
    (see the module docstring); ``respect_authorization=True`` leaves such arms out.
    """

    name = "rules"
    pause_cpa_multiple: Annotated[float, Gt(0.0)] = 2.0
    min_spend_multiple: Annotated[float, Ge(0.0)] = 3.0
    step: Annotated[float, Ge(0.0), Lt(1.0)] = 0.2
    lookback_days: Annotated[int, Ge(1)] = 7
    respect_authorization: bool = False
    _weight: FloatArray = field(default_factory=_no_weights, init=False, repr=False)
    _paused: BoolArray = field(default_factory=_no_flags, init=False, repr=False)
    _started: BoolArray = field(default_factory=_no_flags, init=False, repr=False)

    def reset(self, context: PolicyContext) -> None:
        """Clear the rule state (budgets, paused arms)."""
        self._ctx = context
        shape = (context.n_runs, context.n_arms)
        self._weight = np.zeros(shape)
        self._paused = np.zeros(shape, dtype=bool)
        self._started = np.zeros(shape, dtype=bool)

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Apply the rules to yesterday's report, then rescale to the daily budget."""
        ctx = require_context(self, self._ctx)
        new = (arms.days_since_launch >= 0) & ~self._started
        self._apply_rules(history, ctx.target_cpa)
        self._start(new)
        eligible = eligible_arms(arms, self.respect_authorization) & ~self._paused
        budgets, enabled = proportional_budgets(
            self._weight, eligible & self._started, ctx.daily_budget, ctx.platform_min_budget
        )
        self._weight = np.where(enabled, budgets, self._weight)
        return budgets, enabled

    def _apply_rules(self, history: History, target: float) -> None:
        """Pause running arms over the CPA limit; step the others' weights up or down."""
        running = self._started & ~self._paused
        recent = history.age_days <= self.lookback_days
        spend_w = history.spend[..., recent].sum(axis=-1)
        conv_w = history.conversions[..., recent].sum(axis=-1)
        cpa = np.divide(spend_w, conv_w, out=np.full_like(spend_w, np.inf), where=conv_w > 0)
        judged = running & (spend_w > 0)
        lifetime = history.spend.sum(axis=-1)
        pause = judged & (lifetime >= self.min_spend_multiple * target)
        pause &= cpa > self.pause_cpa_multiple * target
        self._paused |= pause
        factor = np.where(cpa < target, 1.0 + self.step, np.where(cpa > target, 1 - self.step, 1))
        self._weight = np.where(judged & ~pause, self._weight * factor, self._weight)

    def _start(self, new: BoolArray) -> None:
        """Start ``new`` arms at the mean weight of the running ones (1 if none runs)."""
        running = self._started & ~self._paused
        n_running = running.sum(axis=-1, keepdims=True)
        mean_running = np.divide(
            (self._weight * running).sum(axis=-1, keepdims=True),
            n_running,
            out=np.ones((self._weight.shape[0], 1)),
            where=n_running > 0,
        )
        self._weight = np.where(new, mean_running, self._weight)
        self._started |= new
