"""Simulated worlds drawn from a fitted history, and policies run side by side on them.

A :class:`~allocator.backtest.scenario_fit.ScenarioFit` of one history (per-arm fields
``(K,)``) and the account's :class:`Layout` (launches, authorizations, the logged budgets)
map onto the simulator: each replication draws the arms' rates ``lambda`` and fatigue
(floor, half-life) from the fit's posterior and becomes a
:class:`~allocator.sim.world.World` with the fitted CPM and CTR and
``cvr = lambda * cpm / (1000 * ctr)`` (so the world's ``base_rate`` is exactly the drawn
``lambda``).

The environment's own fatigue curve is one scenario setting shared by all arms; the
fit's is drawn per world, with a half-life per arm. :class:`FittedEnvironment` is the
hook for that: a subclass that tracks each arm's impressions since the history start and
overrides the fatigue multiplier with ``f + (1 - f) * 0.5 ** (impressions / H_k)`` (the
simulator's form); everything else (delivery, auction noise, saturation, lag,
authorizations) is the simulator's.

:func:`run_policies` runs every policy on the same worlds with the same daily noise
(common random numbers), the oracle first, and returns the simulator's metrics; each
policy starts from the account's budgets on the history's first day (:class:`WarmStart`),
as the job would have taken over the account.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.backtest.fatigue import FatigueDraw
from allocator.backtest.scenario_fit import ScenarioFit
from allocator.core.arms import ArmState, History
from allocator.sim.day_loop import environment_context, named_rng, simulate_policy
from allocator.sim.environment import Environment
from allocator.sim.metrics import PolicyMetrics, compare_to_oracle
from allocator.sim.policy import Action, Policy, PolicyContext
from allocator.sim.scenario import Scenario
from allocator.sim.truth import DayReport
from allocator.sim.world import World

__all__ = [
    "FittedEnvironment",
    "Layout",
    "LoggedSchedule",
    "WarmStart",
    "draw_fitted_world",
    "fitted_scenario",
    "run_policies",
]


@dataclass(frozen=True)
class Layout:
    """What the history fixes about the account: arms ``(K,)`` and days ``(D,)``.

    Attributes:
        is_spark: Spark arm.
        creator: creator code ``0..n-1``.
        launch_day: first day index the arm can deliver (``D``: not within the history).
        expiry: authorization expiry, days from the history's first day (``inf``: none).
        revocation: revocation time, days from the first day (``inf``: never).
        logged_budget: ``(D, K)`` the logged allocation's daily budgets, currency per day.
        daily_budget: the account's total daily budget, currency per day.
        platform_min_budget: smallest ad group budget, currency per day.
        target_cpa: target cost per conversion, currency.
    """

    is_spark: BoolArray
    creator: IntArray
    launch_day: IntArray
    expiry: FloatArray
    revocation: FloatArray
    logged_budget: FloatArray
    daily_budget: float
    platform_min_budget: float
    target_cpa: float

    @property
    def n_arms(self) -> int:
        """Arms ``K``."""
        return int(self.is_spark.shape[0])

    @property
    def horizon_days(self) -> int:
        """Days ``D`` of the history (the simulated horizon)."""
        return int(self.logged_budget.shape[0])


class FittedEnvironment(Environment):
    """The simulator with per-world, per-arm fatigue (see the module docstring).

    Args:
        scenario: the fitted scenario (its own fatigue is disabled: ``fatigue_floor = 1``).
        world: the drawn worlds ``(R, K)``.
        noise_rng: generator of the daily noise.
        fatigue: floors and half-lives ``(R, K)`` (impressions since the history start).
    """

    def __init__(
        self,
        scenario: Scenario,
        world: World,
        noise_rng: np.random.Generator,
        fatigue: FatigueDraw,
    ) -> None:
        """Wrap a drawn world and its fatigue."""
        super().__init__(scenario, world, noise_rng)
        self._fatigue_draw = fatigue
        self._cum_impressions = np.zeros(fatigue.floor.shape)

    def _fatigue(self) -> FloatArray:
        return self._fatigue_draw.multiplier(self._cum_impressions)

    def advance_day(self, budgets: FloatArray, enabled: BoolArray) -> DayReport:
        """Deliver the day (see :meth:`Environment.advance_day`) and count its impressions."""
        report = super().advance_day(budgets, enabled)
        self._cum_impressions = self._cum_impressions + report.impressions
        return report


def fitted_scenario(fit: ScenarioFit, layout: Layout) -> Scenario:
    """The :class:`Scenario` frame of the fitted worlds (weekday effect and its fatigue off)."""
    return Scenario(
        n_arms=layout.n_arms,
        n_creators=int(layout.creator.max()) + 1,
        is_spark=tuple(bool(v) for v in layout.is_spark),
        creator=tuple(int(v) for v in layout.creator),
        launch_day=tuple(int(v) for v in layout.launch_day),
        daily_budget=layout.daily_budget,
        platform_min_budget=layout.platform_min_budget,
        target_cpa=layout.target_cpa,
        horizon_days=layout.horizon_days,
        saturation_spend=float(fit.half_saturation),
        fatigue_floor=1.0,
        weekday_multipliers=(1.0,) * 7,
        lag_pmf=tuple(float(p) for p in fit.lag.pmf),
    )


def draw_fitted_world(
    fit: ScenarioFit, layout: Layout, n_runs: int, rng: np.random.Generator
) -> tuple[World, FatigueDraw]:
    """Draw ``n_runs`` worlds from the fit's posterior.

    Args:
        fit: the fit of one history (per-arm fields ``(K,)``).
        layout: the account's arms and days.
        n_runs: replications ``R``.
        rng: generator of the posterior draws.

    Returns:
        ``(world, fatigue)``: the worlds ``(R, K)`` and their fatigue (floors and
        half-lives in impressions, ``(R, K)``).
    """
    rates, fatigue, half = fit.sample(rng, n_runs)
    shape = rates.shape

    def wide(values: FloatArray | IntArray | BoolArray) -> FloatArray:
        return np.asarray(np.broadcast_to(values, shape).copy())

    cpm = wide(fit.cpm)
    ctr = np.maximum(wide(fit.ctr), np.minimum(rates * cpm / 1000.0, 1.0))
    ctr = np.where(ctr > 0, ctr, 1e-6)
    world = World(
        is_spark=np.broadcast_to(layout.is_spark, shape).copy(),
        creator=np.broadcast_to(layout.creator, shape).copy(),
        launch_day=np.broadcast_to(layout.launch_day, shape).copy(),
        cpm=cpm,
        ctr=ctr,
        cvr=np.minimum(rates * cpm / (1000.0 * ctr), 1.0),
        half_saturation=half,
        value_per_conversion=wide(fit.value_per_conversion),
        expiry=wide(layout.expiry),
        revocation=wide(layout.revocation),
    )
    return world, fatigue


class LoggedSchedule:
    """The logged allocation replayed: day ``t`` gets the logged budgets of day ``t``."""

    name = "logged"

    def __init__(self, budgets: FloatArray) -> None:
        """Create the policy from the logged daily budgets ``(D, K)``, currency per day."""
        self.budgets = np.asarray(budgets, dtype=np.float64)
        self._shape: tuple[int, int] | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the batch shape; the budgets must have ``K`` columns."""
        if self.budgets.shape[1] != context.n_arms:
            raise ValueError(f"{self.budgets.shape[1]} logged arms for {context.n_arms} arms")
        self._shape = (context.n_runs, context.n_arms)

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """The logged budgets of ``day`` (0 after the logged days)."""
        if self._shape is None:
            raise RuntimeError("LoggedSchedule.act called before reset")
        row = self.budgets[day] if day < self.budgets.shape[0] else np.zeros(self._shape[1])
        budgets = np.broadcast_to(row, self._shape).copy()
        return budgets, budgets > 0

    def stages(self) -> IntArray | None:
        """The logged allocation has no stages."""
        return None


class WarmStart:
    """A policy that takes over an account running at given budgets on day 0.

    On the first :meth:`act` the environment reports nothing enabled (a fresh world);
    the wrapped policy is shown the account's budgets and statuses of the day before
    instead, so the engine's step caps start from the account's actual levels.
    """

    def __init__(self, policy: Policy, budget: FloatArray) -> None:
        """Wrap ``policy``; ``budget`` ``(K,)`` is the account's budget the day before."""
        self.policy = policy
        self.name = policy.name
        self.budget = np.asarray(budget, dtype=np.float64)

    def reset(self, context: PolicyContext) -> None:
        """Reset the wrapped policy."""
        self.policy.reset(context)

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Act, with the starting budgets shown on day 0."""
        if day == 0:
            launched = arms.days_since_launch >= 0
            budget = np.where(launched, np.broadcast_to(self.budget, arms.budget.shape), 0.0)
            arms = ArmState(
                is_spark=arms.is_spark,
                creator=arms.creator,
                budget=budget,
                enabled=budget > 0,
                auth_days_left=arms.auth_days_left,
                days_since_launch=arms.days_since_launch,
                days_since_edit=arms.days_since_edit,
                prev_stage=arms.prev_stage,
            )
        return self.policy.act(arms, history, day, rng)

    def stages(self) -> IntArray | None:
        """The wrapped policy's stages."""
        return self.policy.stages()


def run_policies(
    make_env: Callable[[], Environment],
    policies: Sequence[Policy],
    *,
    daily_budget: float,
    platform_min_budget: float,
    target_cpa: float,
    seed: int,
) -> dict[str, PolicyMetrics]:
    """Run each policy on a fresh environment from ``make_env`` (same worlds, same noise).

    Args:
        make_env: builds the environment afresh, identically each call (the caller seeds
            its noise generator the same way each time).
        policies: the policies; one named ``oracle`` (if any) is run first and every
            policy's regret is measured against it.
        daily_budget: currency per day.
        platform_min_budget: currency per day.
        target_cpa: currency per conversion.
        seed: seed of the policies' own randomness (one stream per policy name).

    Returns:
        Metrics per policy name, arrays ``(R,)`` (see :mod:`allocator.sim.metrics`).
    """
    ordered = sorted(policies, key=lambda p: p.name != "oracle")
    results: dict[str, PolicyMetrics] = {}
    oracle: PolicyMetrics | None = None
    for policy in ordered:
        env = make_env()
        context = replace(
            environment_context(env),
            daily_budget=daily_budget,
            platform_min_budget=platform_min_budget,
            target_cpa=target_cpa,
        )
        rng = named_rng(seed, policy.name)
        metrics = simulate_policy(env, policy, rng, context=context)
        if policy.name == "oracle" and oracle is None:
            oracle = metrics
        results[policy.name] = metrics if oracle is None else compare_to_oracle(metrics, oracle)
    return results
