from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.core.engine import EngineParams
from allocator.sim.day_loop import environment_context, named_rng, run_days, simulate_policy
from allocator.sim.environment import Environment
from allocator.sim.metrics import PolicyMetrics
from allocator.sim.scenario import Scenario
from allocator.sim.splits import EvenSplit
from allocator.sim.thompson import ThompsonPolicy
from allocator.sim.truth import DayReport

SCENARIO = Scenario(n_arms=4, n_creators=2, daily_budget=300.0, horizon_days=6)


def fresh_env(seed: int = 3, n_runs: int = 5) -> Environment:
    return Environment.reset(SCENARIO, n_runs, np.random.default_rng(seed))


@settings(max_examples=30, deadline=None)
@given(n_days=st.integers(min_value=0, max_value=40))
def test_each_day_is_decided_then_delivered_then_recorded_in_order(n_days: int) -> None:
    events: list[tuple[str, int]] = []

    def decide(day: int) -> int:
        events.append(("decide", day))
        return day * 10

    def deliver(action: int) -> int:
        events.append(("deliver", action))
        return action + 1

    def record(day: int, action: int, delivered: int) -> None:
        assert (action, delivered) == (day * 10, day * 10 + 1)
        events.append(("record", day))

    run_days(n_days, decide, deliver, record)
    expected = [(e, v) for d in range(n_days) for e, v in
                (("decide", d), ("deliver", d * 10), ("record", d))]  # fmt: skip
    assert events == expected


def test_the_hooks_see_every_day_before_it_is_observed_and_after_it_is_delivered() -> None:
    env = fresh_env()
    before: list[tuple[int, int]] = []
    after: list[tuple[int, int, float]] = []

    def before_day(day: int) -> None:
        before.append((day, env.day))

    def on_day(day: int, report: DayReport) -> None:
        after.append((day, env.day, float(report.budget.sum())))

    metrics = simulate_policy(
        env, EvenSplit(), np.random.default_rng(0), before_day=before_day, on_day=on_day
    )
    days = range(SCENARIO.horizon_days)
    assert before == [(d, d) for d in days]  # the world has not delivered the day yet
    assert [(d, t) for d, t, _ in after] == [(d, d + 1) for d in days]
    # R = 5 replications, each splitting its whole daily budget every day
    assert [b for _, _, b in after] == pytest.approx([SCENARIO.daily_budget * 5] * len(days))
    assert 0 < metrics.spend.sum() <= SCENARIO.daily_budget * 5 * len(days) + 1e-6
    assert metrics.daily_spend.shape == (SCENARIO.horizon_days, 5)


def test_the_same_seeds_give_the_same_metrics_and_other_seeds_do_not() -> None:
    def run(policy_seed: int) -> PolicyMetrics:
        policy = ThompsonPolicy(EngineParams(n_draws=50))
        return simulate_policy(fresh_env(), policy, named_rng(policy_seed, "thompson"))

    first, again, other = run(1), run(1), run(2)
    np.testing.assert_array_equal(first.conversions, again.conversions)
    np.testing.assert_array_equal(first.daily_spend, again.daily_spend)
    assert not np.array_equal(first.daily_spend, other.daily_spend)


def test_the_default_context_is_the_environments_shape_and_money() -> None:
    env = fresh_env(n_runs=7)
    context = environment_context(env)
    assert (context.n_runs, context.n_arms) == (7, SCENARIO.n_arms)
    assert context.daily_budget == SCENARIO.daily_budget
    assert context.platform_min_budget == SCENARIO.platform_min_budget
    assert context.target_cpa == SCENARIO.target_cpa
    assert context.truth is not None
    np.testing.assert_array_equal(context.truth().rate, env.truth().rate)


def test_a_policys_stream_depends_on_its_name_seed_and_prefix_only() -> None:
    def first_draw(seed: int, name: str, *prefix: int) -> float:
        return float(named_rng(seed, name, *prefix).random())

    assert first_draw(5, "a") == first_draw(5, "a")
    assert first_draw(5, "a", 2) == first_draw(5, "a", 2)
    draws = {first_draw(5, "a"), first_draw(5, "b"), first_draw(6, "a"), first_draw(5, "a", 2)}
    assert len(draws) == 4
