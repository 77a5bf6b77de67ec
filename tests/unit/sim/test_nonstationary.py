"""Non-stationary and rotting bandit baselines: budgets, posteriors and windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.core.arms import ArmState, History
from allocator.sim.environment import Environment
from allocator.sim.nonstationary import RawUCB, ThompsonShares, p_best, share_budgets
from allocator.sim.policy import PolicyContext
from allocator.sim.scenario import Scenario


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_eligible=st.integers(1, 8),
    total=st.floats(200.0, 5000.0),
)
def test_share_budgets_spend_the_whole_budget_above_the_floor(
    seed: int, n_eligible: int, total: float
) -> None:
    rng = np.random.default_rng(seed)
    eligible = np.zeros((3, 8), dtype=bool)
    eligible[:, :n_eligible] = True
    weights = np.where(eligible, rng.dirichlet(np.ones(8), size=3), 0.0)
    weights /= weights.sum(axis=-1, keepdims=True)
    previous = np.where(rng.random((3, 8)) < 0.5, rng.uniform(20, 600, (3, 8)), 0.0)
    budgets, enabled = share_budgets(weights, previous, eligible, total, 20.0, 0.5)
    np.testing.assert_allclose(budgets.sum(axis=-1), total)
    assert (budgets[enabled] >= 20.0 - 1e-9).all()
    assert (budgets[~eligible] == 0).all()


def test_share_budgets_fund_the_top_weights_when_the_floor_does_not_fit() -> None:
    weights = np.array([[0.5, 0.3, 0.2]])
    budgets, _ = share_budgets(weights, np.zeros((1, 3)), np.ones((1, 3), bool), 50.0, 20.0, 0.5)
    assert budgets[0, 2] == 0.0
    assert budgets.sum() == pytest.approx(50.0)


def test_p_best_sums_to_one_and_favours_the_better_arm() -> None:
    a = np.array([[50.0, 10.0, 10.0]])
    b = np.array([[500.0, 500.0, 500.0]])
    eligible = np.array([[True, True, False]])
    share = p_best(a, b, eligible, 2000, np.random.default_rng(0))
    assert share.sum() == pytest.approx(1.0)
    assert share[0, 0] > 0.99
    assert share[0, 2] == 0.0


def test_discounting_and_windows_weigh_old_days_less() -> None:
    history = History(
        spend=np.full((1, 1, 3), 100.0),
        conversions=np.array([[[10.0, 0.0, 0.0]]]),  # the old day converted
        value=np.zeros((1, 1, 3)),
        impressions=np.zeros((1, 1, 3)),
        observed=np.ones((1, 1, 3), bool),
        age_days=np.array([10.0, 2.0, 1.0]),
    )
    plain = ThompsonShares().posterior(history, 25.0)
    discounted = ThompsonShares(discount=0.5).posterior(history, 25.0)
    window = ThompsonShares(window_days=5).posterior(history, 25.0)
    assert plain[0][0, 0] == pytest.approx(11.0)
    assert plain[1][0, 0] == pytest.approx(325.0)
    assert discounted[0][0, 0] == pytest.approx(1.0 + 10 * 0.5**9)
    assert window[0][0, 0] == pytest.approx(1.0)


def test_raw_ucb_windows_run_over_the_arm_s_own_newest_funded_days() -> None:
    history = History(
        spend=np.array([[[25.0, 0.0, 50.0, 0.0]]]),
        conversions=np.array([[[3.0, 0.0, 1.0, 0.0]]]),
        value=np.zeros((1, 1, 4)),
        impressions=np.zeros((1, 1, 4)),
        observed=np.ones((1, 1, 4), bool),
        age_days=np.array([4.0, 3.0, 2.0, 1.0]),
    )
    conv, pulls = RawUCB.windows(history, 25.0, None)
    np.testing.assert_allclose(conv[0, 0], [1.0, 4.0, 4.0, 4.0])  # age 2 first, then age 4
    np.testing.assert_allclose(pulls[0, 0], [2.0, 3.0, 3.0, 3.0])


@pytest.mark.parametrize(
    "policy", [ThompsonShares(), ThompsonShares(discount=0.9, lag_correction=True), RawUCB()]
)
def test_baselines_spend_the_daily_budget_on_eligible_arms_only(policy: object) -> None:
    scenario = Scenario(n_arms=6, n_creators=3, n_initial_arms=4, daily_budget=600.0)
    env = Environment.reset(scenario, 3, np.random.default_rng(1))
    policy.reset(PolicyContext(3, 6, 600.0, 20.0, 25.0))  # type: ignore[attr-defined]
    rng = np.random.default_rng(2)
    for day in range(12):
        arms, history = env.observe()
        budgets, enabled = policy.act(arms, history, day, rng)  # type: ignore[attr-defined]
        eligible = (arms.days_since_launch >= 0) & (arms.auth_days_left > 0)
        np.testing.assert_allclose(budgets.sum(axis=-1), 600.0)
        assert (budgets[~eligible] == 0).all()
        assert (budgets[enabled] >= 20.0 - 1e-9).all()
        env.advance_day(budgets, enabled)
    assert isinstance(arms, ArmState)
