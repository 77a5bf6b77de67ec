"""Learning-phase invariants: a larger penalty never yields more conversions; seeds decide."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.sim.environment import Environment
from allocator.sim.scenario import Scenario

SCENARIO = Scenario(n_arms=4, n_creators=2, n_initial_arms=3, arrival_interval_days=2.0)


def _run(penalty: float, seed: int, budgets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Daily conversions and expected conversions ``(T, R, K)`` on a fixed budget path."""
    scenario = dataclasses.replace(SCENARIO, learning_penalty=penalty, learning_days=3)
    env = Environment.reset(scenario, 2, np.random.default_rng(seed))
    conv, expected = [], []
    for day_budgets in budgets:
        report = env.advance_day(day_budgets, day_budgets > 0)
        conv.append(report.conversions)
        expected.append(report.expected_conversions)
    return np.array(conv), np.array(expected)


budget_paths = st.integers(0, 2**32 - 1).map(
    lambda s: np.random.default_rng(s).choice([0.0, 30.0, 80.0, 200.0, 400.0], size=(8, 2, 4))
)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    budgets=budget_paths,
    penalties=st.tuples(st.floats(0.0, 0.9), st.floats(0.0, 0.9)).map(sorted),
)
def test_more_penalty_never_more_conversions_on_a_fixed_budget_path(
    seed: int, budgets: np.ndarray, penalties: list[float]
) -> None:
    low, high = penalties
    conv_low, exp_low = _run(low, seed, budgets)
    conv_high, exp_high = _run(high, seed, budgets)
    assert (conv_high <= conv_low).all()
    assert (exp_high <= exp_low + 1e-12).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), budgets=budget_paths, penalty=st.floats(0.0, 0.9))
def test_the_same_seed_gives_the_same_days(seed: int, budgets: np.ndarray, penalty: float) -> None:
    first = _run(penalty, seed, budgets)
    second = _run(penalty, seed, budgets)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
