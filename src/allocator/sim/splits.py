"""Fixed-share baselines: the daily budget split evenly or in set proportions.

Both fund the arms eligible today (:func:`~allocator.sim.policy.eligible_arms`) through
:func:`~allocator.sim.policy.proportional_budgets`, so the total is the daily budget and
every funded arm gets at least the platform minimum (currency per day).
"""

from __future__ import annotations

import numpy as np

from allocator._types import FloatArray, IntArray
from allocator.core.arms import ArmState, History
from allocator.sim.policy import (
    Action,
    FramedPolicy,
    PolicyContext,
    eligible_arms,
    proportional_budgets,
    require_context,
)

__all__ = ["EvenSplit", "FixedSplit"]


class EvenSplit(FramedPolicy):
    """The daily budget split evenly over eligible arms (``even``)."""

    name = "even"

    def __init__(self) -> None:
        """Create the policy; call :meth:`reset` before use."""

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Equal shares; with too many arms for the minimum, a random subset is funded."""
        ctx = require_context(self, self._ctx)
        eligible = eligible_arms(arms)
        weights = 1.0 + 1e-9 * rng.random(eligible.shape)  # random choice among equals
        return proportional_budgets(weights, eligible, ctx.daily_budget, ctx.platform_min_budget)

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


class FixedSplit(FramedPolicy):
    """The daily budget split in fixed proportions over eligible arms (``fixed``)."""

    name = "fixed"

    def __init__(self, weights: FloatArray) -> None:
        """Create the policy.

        Args:
            weights: ``(K,)`` non-negative relative shares; renormalized over the arms
                eligible each day.
        """
        w = np.asarray(weights, dtype=float)
        if w.ndim != 1 or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
            raise ValueError("weights must be a finite, non-negative (K,) vector, not all 0")
        self.weights = w

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame; the weights must match ``K``."""
        if self.weights.shape[0] != context.n_arms:
            raise ValueError(f"{self.weights.shape[0]} weights for {context.n_arms} arms")
        self._ctx = context

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Fixed shares over today's eligible arms."""
        ctx = require_context(self, self._ctx)
        weights = np.broadcast_to(self.weights, arms.budget.shape)
        return proportional_budgets(
            weights, eligible_arms(arms), ctx.daily_budget, ctx.platform_min_budget
        )

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None
