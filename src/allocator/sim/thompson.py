"""The engine as a simulation policy (``thompson``): the job's decision path, batched.

:class:`ThompsonPolicy` calls :func:`allocator.core.engine.step` once per simulated day
on the whole ``(R, K)`` batch of replications: posterior, decisions, Thompson allocation
and guardrail projection are exactly the code the scheduled job runs; there is no second
implementation of the policy here. What the policy adds is what the job keeps between
runs in its store:

* **stage memory**: the engine's final stage of each arm (testing, scaling, resting, paused,
  blocked) is fed back as ``prev_stage`` the next day, as the job records it;
* **the budget frame**: total daily budget and target CPA from :class:`PolicyContext`,
  the platform minimum of the simulated platform.

Everything else comes from the environment's report as the job would read it from the
platform: budgets and statuses as set yesterday, ``days_since_edit`` (the environment
restarts it on a large budget edit, which is how the guardrails' learning-phase freeze
sees the engine's own edits), authorization days left, and not-yet-launched arms
(``days_since_launch < 0``), which the engine leaves unfunded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from allocator._types import IntArray
from allocator.core.arms import ArmState, History, Objective
from allocator.core.engine import EngineParams, EngineStep, step
from allocator.core.target import Target
from allocator.sim.policy import Action, PolicyContext

__all__ = ["ThompsonPolicy"]


def _window(history: History, lookback_days: int | None) -> History:
    """The last ``lookback_days`` columns of ``history`` (the job's data window)."""
    if lookback_days is None or history.n_days <= lookback_days:
        return history
    keep = slice(history.n_days - lookback_days, history.n_days)
    return History(
        spend=history.spend[..., keep],
        conversions=history.conversions[..., keep],
        value=history.value[..., keep],
        impressions=history.impressions[..., keep],
        observed=history.observed[..., keep],
        age_days=history.age_days[keep],
    )


class ThompsonPolicy:
    """The engine's Thompson-sampling policy over ``R`` replications (``thompson``).

    Args:
        params: the engine's settings (posterior, decisions, guardrails, draws).
        lookback_days: most recent days of history the engine reads (``None``: all),
            as the job's ``[engine] lookback_days``.
        name: the policy's label in results (default ``"thompson"``).
    """

    name = "thompson"

    def __init__(
        self,
        params: EngineParams | None = None,
        lookback_days: int | None = 60,
        name: str = "thompson",
    ) -> None:
        """Create the policy; call :meth:`reset` before use."""
        if lookback_days is not None and lookback_days < 1:
            raise ValueError(f"lookback_days must be >= 1, got {lookback_days}")
        self.params = EngineParams() if params is None else params
        self.lookback_days = lookback_days
        self.name = name
        self._ctx: PolicyContext | None = None
        self._params = self.params
        self._target = Target(Objective.CPA, target_cpa=1.0)
        self._stage: IntArray | None = None
        self._last: EngineStep | None = None

    def reset(self, context: PolicyContext) -> None:
        """Forget the stage memory and adopt the run's budget frame.

        The guardrails' platform minimum is raised to the simulated platform's minimum
        when configured lower (the platform would refuse a smaller budget).
        """
        self._ctx = context
        guard = self.params.guardrails
        if guard.platform_min_budget < context.platform_min_budget:
            guard = replace(guard, platform_min_budget=context.platform_min_budget)
        self._params = replace(self.params, guardrails=guard)
        self._target = Target(Objective.CPA, target_cpa=context.target_cpa)
        self._stage = None
        self._last = None

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """One engine step on the batch: budgets ``(R, K)`` (currency/day) and statuses.

        Args:
            arms: the reported arm state ``(R, K)``; its ``prev_stage`` is replaced by
                the stages of this policy's previous step.
            history: reported observations ``(R, K, D)``.
            day: the planning day (unused: the engine reads ages, not dates).
            rng: the policy's generator (posterior draws).

        Returns:
            The guardrailed budgets and statuses.
        """
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError("ThompsonPolicy.act called before reset")
        if self._stage is not None:
            arms = replace(arms, prev_stage=self._stage)
        result = step(
            arms,
            _window(history, self.lookback_days),
            self._target,
            ctx.daily_budget,
            self._params,
            rng,
        )
        self._stage = result.stage
        self._last = result
        return result.budget, result.enabled

    def stages(self) -> IntArray | None:
        """The engine's stage codes ``(R, K)`` after the last :meth:`act`."""
        return None if self._stage is None else self._stage.copy()

    @property
    def last_step(self) -> EngineStep | None:
        """The full :class:`EngineStep` of the last :meth:`act` (decisions, reasons)."""
        return self._last
