"""One simulated-day loop: state the world, ask a policy for budgets, deliver the day, record.

Four places run days one after another: the experiment runner
(:mod:`allocator.sim.runner`), the backtest's fitted worlds
(:mod:`allocator.backtest.worlds`), the simulator benchmark
(:mod:`allocator.bench.sim_throughput`) and the sandbox demo
(:mod:`allocator.job.sandbox_demo`). They share one shape, written once here as
:func:`run_days`: each day a policy decides from what it can see, the world delivers
the decision, and the outcome is recorded.

The first three drive the simulator itself, a batched
:class:`~allocator.sim.environment.Environment` ``(R, K)`` and a
:class:`~allocator.sim.policy.Policy`; for them :func:`simulate_policy` is the whole
run: reset the policy, loop the days (observe, act, advance), accumulate the metrics.
Their differences are hooks, not copies of the loop: the runner keeps each day's
budgets (``on_day``), the benchmark draws its sampling floor right before each day
(``before_day``), and the backtest passes its account's context and a warm start.
A hook that must act on the world between days (a learning phase, say) slots into
``before_day`` or ``on_day``; the loop itself stays as it is.

The demo drives the real job against two sandboxes over HTTP: its "policy" is the
scheduled job (which reads the sandbox through the TikTok API by itself) and an even
split, its "delivery" is the sandbox's ``/_sandbox/advance``, and its record is the
job's plan. There is no ``(R, K)`` state to observe in-process, so the demo uses
:func:`run_days` with its own steps rather than :func:`simulate_policy`; the loop (the
order of decide, deliver, record) is the same one.

Every random draw of a policy comes from the generator it is given; :func:`named_rng`
makes one per policy name so that adding or removing a policy never changes another's
numbers.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from allocator.sim.environment import Environment
from allocator.sim.metrics import MetricsAccumulator, PolicyMetrics
from allocator.sim.policy import Action, Policy, PolicyContext
from allocator.sim.truth import DayReport

__all__ = ["DayHook", "environment_context", "named_rng", "run_days", "simulate_policy"]

ActionT = TypeVar("ActionT")
ReportT = TypeVar("ReportT")

DayHook = Callable[[int, DayReport], None]
"""Called with ``(day, report)`` after each simulated day is delivered and recorded."""


def run_days(
    n_days: int,
    decide: Callable[[int], ActionT],
    deliver: Callable[[ActionT], ReportT],
    record: Callable[[int, ActionT, ReportT], None],
) -> None:
    """Run ``n_days`` days: ``decide(day)``, then ``deliver(action)``, then ``record``.

    Args:
        n_days: days to run, numbered ``0 .. n_days - 1``.
        decide: the policy's decision for a day, made from what it can see before it.
        deliver: delivers one decided day; returns what happened.
        record: called with ``(day, action, delivered)`` once the day is delivered.
    """
    for day in range(n_days):
        action = decide(day)
        record(day, action, deliver(action))


def environment_context(env: Environment) -> PolicyContext:
    """The :class:`PolicyContext` of a run on ``env``: its shape and its scenario's money."""
    money = env.scenario.daily_budget, env.scenario.platform_min_budget, env.scenario.target_cpa
    return PolicyContext(env.n_runs, env.n_arms, *money, truth=env.truth)


def simulate_policy(
    env: Environment,
    policy: Policy,
    rng: np.random.Generator,
    *,
    context: PolicyContext | None = None,
    before_day: Callable[[int], None] | None = None,
    on_day: DayHook | None = None,
) -> PolicyMetrics:
    """Reset ``policy`` and run it on ``env`` for the scenario's horizon.

    Args:
        env: a fresh environment at day 0, ``R`` replications of ``K`` arms.
        policy: the policy; it is reset with ``context`` first.
        rng: the policy's own generator (exploration, posterior draws).
        context: what the policy is told; default :func:`environment_context`.
        before_day: called with the day's number before the policy observes it.
        on_day: called with ``(day, report)`` after the day is delivered.

    Returns:
        The run's metrics, arrays ``(R,)`` (regret not filled; see
        :func:`~allocator.sim.metrics.compare_to_oracle`).
    """
    policy.reset(environment_context(env) if context is None else context)
    acc = MetricsAccumulator(env.n_runs, env.n_arms, env.scenario.daily_budget)

    def decide(day: int) -> Action:
        if before_day is not None:
            before_day(day)
        arms, history = env.observe()
        return policy.act(arms, history, day, rng)

    def deliver(action: Action) -> DayReport:
        budgets, enabled = action
        return env.advance_day(budgets, enabled)

    def record(day: int, action: Action, report: DayReport) -> None:
        acc.update(report, policy.stages())
        if on_day is not None:
            on_day(day, report)

    run_days(env.scenario.horizon_days, decide, deliver, record)
    return acc.finalize()


def named_rng(seed: int, name: str, *prefix: int) -> np.random.Generator:
    """The generator of policy ``name``'s own randomness.

    Seeded from ``SeedSequence(seed, spawn_key=(*prefix, 1, crc32(name)))``: independent
    of the other policies and of their order (``prefix``: e.g. the block's index).
    """
    key = (*prefix, 1, zlib.crc32(name.encode("utf-8")))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
