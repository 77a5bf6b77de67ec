"""Invariants of the simulated environment over random scenarios, budgets and seeds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.sim.environment import Environment
from allocator.sim.oracle import optimal_allocation
from allocator.sim.scenario import Scenario

scenarios = st.builds(
    Scenario,
    n_arms=st.integers(1, 6),
    n_initial_arms=st.none() | st.integers(0, 1),
    n_creators=st.just(1),
    spark_share=st.floats(0, 1),
    daily_budget=st.floats(100, 3000),
    spark_cpa_multiplier=st.sampled_from([0.5, 0.7, 1.0, 1.3]),
    saturation_spend=st.floats(50, 3000),
    fatigue_half_impressions=st.floats(1e4, 1e6),
    fatigue_floor=st.floats(0, 1),
    lag_pmf=st.sampled_from([(1.0,), (0.5, 0.5), (0.62, 0.16, 0.08, 0.05, 0.04, 0.03, 0.02)]),
    auth_duration_days=st.sampled_from([(2, 30), (7, 365)]),
    auth_duration_probs=st.just((0.5, 0.5)),
    revocation_rate_per_day=st.sampled_from([0.0, 0.05]),
    arrival_interval_days=st.floats(1, 5),
    delivery_mean=st.floats(0.5, 1.0),
)


@settings(max_examples=40, deadline=None)
@given(s=scenarios, seed=st.integers(0, 2**32 - 1), days=st.integers(1, 10))
def test_delivery_invariants_hold_for_any_scenario_and_budgets(
    s: Scenario, seed: int, days: int
) -> None:
    rng = np.random.default_rng(seed)
    env = Environment.reset(s, 3, np.random.default_rng(seed))
    fatigue = env.truth().fatigue
    true_days = []
    for day in range(days):
        arms_before, _ = env.observe()
        budgets = rng.uniform(0, 400, size=(3, s.n_arms)) * (rng.random((3, s.n_arms)) < 0.8)
        enabled = rng.random((3, s.n_arms)) < 0.8
        r = env.advance_day(budgets, enabled)
        true_days.append(r.conversions)
        live = enabled & (budgets > 0)
        # no delivery without budget, before launch, or after the authorization lapsed
        assert np.all(r.spend[~live] == 0)
        assert np.all(r.conversions[~live] == 0)
        assert np.all(r.spend[env.world.launch_day > day] == 0)
        assert np.all(r.spend[arms_before.auth_days_left <= 0] == 0)
        assert np.all(r.spend <= np.where(enabled, budgets, 0) + 1e-9)
        assert np.all(r.conversions <= r.clicks)
        assert np.all(r.clicks <= r.impressions)
        assert np.all(r.stranded >= 0)
        assert np.all(r.stranded <= budgets + 1e-9)
        assert np.all(r.expected_conversions[~live] == 0)
        now = env.truth().fatigue
        assert np.all(now <= fatigue)
        assert np.all(now >= s.fatigue_floor - 1e-12)
        fatigue = now
    _, hist = env.observe()
    true = np.stack(true_days, axis=-1)
    assert np.all(hist.conversions <= true)
    assert np.all(hist.conversions >= 0)
    # the lag conserves totals: run the attribution window out with no budget
    zeros = np.zeros((3, s.n_arms))
    for _ in range(s.attribution_window_days):
        env.advance_day(zeros, zeros > 0)
    _, hist = env.observe()
    assert np.array_equal(hist.conversions[..., :days], true)


@settings(max_examples=25, deadline=None)
@given(s=scenarios, seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_numbers(s: Scenario, seed: int) -> None:
    def run() -> np.ndarray:
        env = Environment.reset(s, 2, np.random.default_rng(seed))
        b = np.full((2, s.n_arms), s.daily_budget / s.n_arms)
        return np.stack([env.advance_day(b, b > 0).conversions for _ in range(3)])

    assert np.array_equal(run(), run())


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_arms=st.integers(1, 8),
    total=st.floats(20, 2000),
    min_budget=st.floats(1, 40),
)
def test_oracle_allocation_is_feasible_and_beats_an_even_split(
    seed: int, n_arms: int, total: float, min_budget: float
) -> None:
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0, 0.1, size=(4, n_arms)) * (rng.random((4, n_arms)) < 0.8)
    half = rng.uniform(10, 2000, size=(4, n_arms))
    b = optimal_allocation(rate, half, total, min_budget)
    assert np.all(b.sum(axis=-1) <= total * (1 + 1e-9))
    assert np.all((b == 0) | (b >= min_budget * (1 - 1e-9)))
    assert np.all(b[rate == 0] == 0)
    value = (rate * b / (1 + b / half)).sum(axis=-1)
    n_fund = min(n_arms, int(total // min_budget))
    even = np.zeros_like(rate)
    even[:, :n_fund] = total / n_fund if n_fund else 0.0
    even_value = (rate * even / (1 + even / half)).sum(axis=-1)
    assert np.all(value >= even_value * (1 - 1e-6) - 1e-12)
