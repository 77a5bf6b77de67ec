"""Unit and property tests of the array-level estimators in allocator.backtest.ope."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from allocator.backtest.ope import (
    AlignedLogs,
    bootstrap_means,
    doubly_robust,
    evaluate,
    ips,
    snips,
)
from allocator.errors import InsufficientDataError


def _logs(
    rng: np.random.Generator, n: int, n_actions: int = 4, n_positions: int = 2
) -> AlignedLogs:
    target = rng.dirichlet(np.ones(n_actions), size=n_positions).T
    return AlignedLogs(
        action=rng.integers(0, n_actions, n),
        position=rng.integers(0, n_positions, n),
        reward=(rng.random(n) < 0.3).astype(float),
        propensity=np.full(n, 1.0 / n_actions),
        target=target,
    )


def test_ips_snips_dr_by_hand_on_three_rows() -> None:
    reward = np.array([1.0, 0.0, 1.0])
    weight = np.array([2.0, 1.0, 0.5])
    assert float(ips(reward, weight).estimate) == pytest.approx((2.0 + 0.5) / 3)
    assert float(snips(reward, weight).estimate) == pytest.approx(2.5 / 3.5)
    q_logged = np.array([0.5, 0.5, 0.5])
    q_target = np.array([0.4, 0.4, 0.4])
    expected = np.mean(q_target + weight * (reward - q_logged))
    assert float(doubly_robust(reward, weight, q_logged, q_target).estimate) == pytest.approx(
        expected
    )


def test_clt_interval_is_estimate_plus_minus_1_96_standard_errors() -> None:
    rng = np.random.default_rng(1)
    reward = rng.random(500)
    weight = rng.random(500) * 2
    result = ips(reward, weight)
    se = np.std(weight * reward, ddof=1) / np.sqrt(500)
    assert float(result.std_error) == pytest.approx(se)
    assert float(result.ci_high - result.estimate) == pytest.approx(1.959964 * se, rel=1e-5)
    assert float(result.estimate - result.ci_low) == pytest.approx(1.959964 * se, rel=1e-5)


def test_snips_is_nan_when_no_weight_is_positive() -> None:
    assert np.isnan(snips(np.ones(4), np.zeros(4)).estimate)


def test_estimators_accept_leading_batch_axes() -> None:
    rng = np.random.default_rng(2)
    reward = (rng.random((3, 5, 200)) < 0.2).astype(float)
    weight = rng.random((3, 5, 200)) * 3
    batch = ips(reward, weight)
    assert batch.estimate.shape == (3, 5)
    one = ips(reward[1, 2], weight[1, 2])
    assert float(batch.estimate[1, 2]) == pytest.approx(float(one.estimate))
    assert float(batch.ci_low[1, 2]) == pytest.approx(float(one.ci_low))


@settings(max_examples=50, deadline=None)
@given(
    rewards=arrays(np.float64, 30, elements=st.floats(0.0, 1.0)),
    weights=arrays(np.float64, 30, elements=st.floats(0.0, 50.0)),
)
def test_snips_lies_within_the_rewards_of_rows_with_positive_weight(
    rewards: np.ndarray, weights: np.ndarray
) -> None:
    value = float(snips(rewards, weights).estimate)
    if not np.any(weights > 0):
        assert np.isnan(value)
        return
    kept = rewards[weights > 0]
    assert kept.min() - 1e-9 <= value <= kept.max() + 1e-9


@settings(max_examples=50, deadline=None)
@given(
    rewards=arrays(np.float64, 25, elements=st.floats(0.0, 1.0)),
    weights=arrays(np.float64, 25, elements=st.floats(0.0, 20.0)),
)
def test_dr_with_a_zero_reward_model_is_ips(rewards: np.ndarray, weights: np.ndarray) -> None:
    zero = np.zeros(25)
    dr = doubly_robust(rewards, weights, zero, zero)
    base = ips(rewards, weights)
    assert float(dr.estimate) == pytest.approx(float(base.estimate), abs=1e-12)
    assert float(dr.std_error) == pytest.approx(float(base.std_error), abs=1e-12)


def test_when_target_equals_logging_ips_and_snips_are_the_observed_mean() -> None:
    rng = np.random.default_rng(6)
    logs = _logs(rng, 300)
    uniform = AlignedLogs(
        logs.action, logs.position, logs.reward, logs.propensity, np.full((4, 2), 0.25)
    )
    out = evaluate(uniform, rng=rng)
    assert out["ips"].estimate == pytest.approx(logs.reward.mean())
    assert out["snips"].estimate == pytest.approx(logs.reward.mean())
    assert out["dr"].estimate == pytest.approx(logs.reward.mean(), abs=0.01)


def test_bootstrap_means_match_the_sampling_distribution_of_the_mean() -> None:
    rng = np.random.default_rng(7)
    values = np.column_stack([(rng.random(2000) < 0.1).astype(float), rng.random(2000)])
    boot = bootstrap_means(values, np.random.default_rng(8), 4000)
    assert boot.shape == (4000, 2)
    np.testing.assert_allclose(boot.mean(axis=0), values.mean(axis=0), rtol=0.01)
    np.testing.assert_allclose(boot.std(axis=0), values.std(axis=0) / np.sqrt(2000), rtol=0.06)


def test_bootstrap_is_reproducible_from_the_seed() -> None:
    logs = _logs(np.random.default_rng(9), 400)
    first = evaluate(logs, rng=np.random.default_rng(11), interval="bootstrap", n_boot=500)
    again = evaluate(logs, rng=np.random.default_rng(11), interval="bootstrap", n_boot=500)
    assert first == again
    assert all(r.method == "bootstrap" for r in first.values())
    for r in first.values():
        assert r.ci_low <= r.estimate <= r.ci_high


def test_evaluate_refuses_logs_the_target_can_never_show() -> None:
    logs = _logs(np.random.default_rng(10), 50)
    never = np.zeros((4, 2))
    never[0, :] = 1.0
    blind = AlignedLogs(
        np.full(50, 1, np.int64), logs.position, logs.reward, logs.propensity, never
    )
    with pytest.raises(InsufficientDataError, match="probability 0"):
        evaluate(blind, rng=np.random.default_rng(0))


def test_evaluate_needs_two_rows() -> None:
    logs = _logs(np.random.default_rng(12), 1)
    with pytest.raises(InsufficientDataError, match="at least 2"):
        evaluate(logs, rng=np.random.default_rng(0))


def test_snips_of_subnormal_weights_is_the_weighted_mean() -> None:
    # a case hypothesis found: weights so small their mean underflowed to zero
    weights = np.array([5e-324, 1e-323, 0.0])
    rewards = np.array([1.0, 0.5, 0.0])
    value = float(snips(rewards, weights).estimate)
    assert value == pytest.approx((1.0 * 1 + 0.5 * 2) / 3)
