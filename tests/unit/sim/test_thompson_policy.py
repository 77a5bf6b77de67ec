from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import allocator.sim.thompson as thompson_module
from allocator.core.arms import Objective, Stage
from allocator.core.engine import EngineParams, step
from allocator.core.guardrail_params import GuardrailParams
from allocator.core.target import Target
from allocator.sim.environment import Environment
from allocator.sim.metrics import MetricsAccumulator, compare_to_oracle
from allocator.sim.oracle import Oracle
from allocator.sim.policy import Policy, PolicyContext
from allocator.sim.scenario import Scenario
from allocator.sim.thompson import ThompsonPolicy

PARAMS = EngineParams(n_draws=100)


def scenario(**kw: object) -> Scenario:
    base: dict[str, object] = {
        "n_arms": 5,
        "n_creators": 2,
        "daily_budget": 400.0,
        "horizon_days": 12,
    }
    base.update(kw)
    return Scenario(**base)  # type: ignore[arg-type]


def start(s: Scenario, policy: Policy, n_runs: int = 8, seed: int = 1) -> Environment:
    env = Environment.reset(s, n_runs, np.random.default_rng(seed))
    policy.reset(
        PolicyContext(
            n_runs, s.n_arms, s.daily_budget, s.platform_min_budget, s.target_cpa, truth=env.truth
        )
    )
    return env


def test_it_is_a_policy_named_thompson_with_stages() -> None:
    policy = ThompsonPolicy(PARAMS)
    assert isinstance(policy, Policy)
    assert policy.name == "thompson"
    assert ThompsonPolicy(PARAMS, name="ts_fast").name == "ts_fast"
    start(scenario(), policy)
    assert policy.stages() is None  # nothing decided yet


def test_act_before_reset_is_an_error() -> None:
    s = scenario()
    env = Environment.reset(s, 2, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="before reset"):
        ThompsonPolicy(PARAMS).act(*env.observe(), 0, np.random.default_rng(0))


def test_lookback_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lookback_days"):
        ThompsonPolicy(PARAMS, lookback_days=0)


def test_one_day_is_exactly_one_engine_step() -> None:
    s = scenario()
    policy = ThompsonPolicy(PARAMS, lookback_days=None)
    env = start(s, policy)
    for day in range(4):  # some history and stage memory first
        env.advance_day(*policy.act(*env.observe(), day, np.random.default_rng(day)))
    memory = policy.stages()
    assert memory is not None
    arms, history = env.observe()
    budgets, enabled = policy.act(arms, history, 4, np.random.default_rng(99))
    expected = step(
        replace(arms, prev_stage=memory),
        history,
        Target(Objective.CPA, target_cpa=s.target_cpa),
        s.daily_budget,
        PARAMS,
        np.random.default_rng(99),
    )
    np.testing.assert_array_equal(budgets, expected.budget)
    np.testing.assert_array_equal(enabled, expected.enabled)
    np.testing.assert_array_equal(policy.stages(), expected.stage)
    assert policy.last_step is not None
    np.testing.assert_array_equal(policy.last_step.decisions.p_best, expected.decisions.p_best)


def test_stage_memory_is_fed_back_as_prev_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[np.ndarray] = []
    results: list[np.ndarray] = []

    def spy(arms, history, target, total, params, rng):  # type: ignore[no-untyped-def]
        seen.append(arms.prev_stage.copy())
        out = step(arms, history, target, total, params, rng)
        results.append(out.stage.copy())
        return out

    monkeypatch.setattr(thompson_module, "step", spy)
    s = scenario()
    policy = ThompsonPolicy(PARAMS)
    env = start(s, policy)
    rng = np.random.default_rng(5)
    for day in range(6):
        env.advance_day(*policy.act(*env.observe(), day, rng))
    assert np.all(seen[0] == Stage.TESTING)
    for before, after in zip(results[:-1], seen[1:], strict=True):
        np.testing.assert_array_equal(after, before)
    # a reset forgets the memory
    policy.reset(PolicyContext(8, s.n_arms, s.daily_budget, 20.0, 25.0))
    policy.act(*env.observe(), 6, rng)
    assert np.all(seen[-1] == Stage.TESTING)


def test_the_engine_reads_only_its_lookback_window(monkeypatch: pytest.MonkeyPatch) -> None:
    days: list[int] = []

    def spy(arms, history, target, total, params, rng):  # type: ignore[no-untyped-def]
        days.append(history.n_days)
        assert history.n_days == 0 or history.age_days[-1] == 1.0
        return step(arms, history, target, total, params, rng)

    monkeypatch.setattr(thompson_module, "step", spy)
    policy = ThompsonPolicy(PARAMS, lookback_days=3)
    env = start(scenario(), policy)
    rng = np.random.default_rng(0)
    for day in range(6):
        env.advance_day(*policy.act(*env.observe(), day, rng))
    assert days == [0, 1, 2, 3, 3, 3]


def test_budgets_respect_total_minimum_and_unlaunched_arms() -> None:
    s = scenario(
        launch_day=(0, 0, 0, 4, 8), auth_duration_days=(7, 365), auth_duration_probs=(0.5, 0.5)
    )
    policy = ThompsonPolicy(PARAMS)
    env = start(s, policy, n_runs=16)
    rng = np.random.default_rng(2)
    for day in range(s.horizon_days):
        arms, history = env.observe()
        budgets, enabled = policy.act(arms, history, day, rng)
        assert np.all(budgets.sum(axis=-1) <= s.daily_budget + 1e-6)
        assert np.all(budgets[enabled] >= s.platform_min_budget - 1e-9)
        assert np.all(budgets[~enabled] == 0.0)
        unlaunched = arms.days_since_launch < 0
        assert not np.any(enabled & unlaunched)
        lapsed = arms.auth_days_left <= 0
        assert not np.any(enabled & lapsed)  # never funds a lapsed authorization
        env.advance_day(budgets, enabled)


def test_platform_minimum_is_raised_to_the_scenarios() -> None:
    s = scenario(platform_min_budget=50.0)
    params = EngineParams(n_draws=100, guardrails=GuardrailParams(platform_min_budget=20.0))
    policy = ThompsonPolicy(params)
    env = start(s, policy)
    budgets, enabled = policy.act(*env.observe(), 0, np.random.default_rng(0))
    assert np.all(budgets[enabled] >= 50.0)
    assert policy.params.guardrails.platform_min_budget == 20.0  # its own config untouched


def test_same_generator_same_decisions() -> None:
    def run(seed: int) -> np.ndarray:
        policy = ThompsonPolicy(PARAMS)
        env = start(scenario(), policy)
        rng = np.random.default_rng(seed)
        out = []
        for day in range(5):
            b, e = policy.act(*env.observe(), day, rng)
            env.advance_day(b, e)
            assert policy.last_step is not None
            # the draws show in the Thompson allocation before the guardrails (early
            # budgets may all sit on exploration floors and step caps)
            out.append(np.concatenate([b, policy.last_step.desired], axis=-1))
        return np.asarray(out)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


@pytest.mark.slow
def test_the_oracle_earns_more_than_the_engine_in_expectation() -> None:
    s = scenario(horizon_days=20)
    results = {}
    for policy in (Oracle(), ThompsonPolicy(PARAMS)):
        env = start(s, policy, n_runs=40, seed=11)
        acc = MetricsAccumulator(40, s.n_arms)
        rng = np.random.default_rng(12)
        for day in range(s.horizon_days):
            report = env.advance_day(*policy.act(*env.observe(), day, rng))
            acc.update(report, policy.stages())
        results[policy.name] = acc.finalize()
    engine = compare_to_oracle(results["thompson"], results["oracle"])
    assert engine.regret.mean() > 0
    assert 0 < engine.oracle_ratio.mean() < 1
    scaled = engine.days_to_scale_best[~np.isnan(engine.days_to_scale_best)]
    assert np.all((scaled >= 0) & (scaled < s.horizon_days))
