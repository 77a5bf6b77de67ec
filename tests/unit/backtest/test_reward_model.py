"""Unit and property tests of the cross-fitted reward model in allocator.backtest.reward_model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from allocator.backtest.reward_model import assign_folds, dr_reward_terms, fit_reward_model


def test_assign_folds_is_balanced_on_the_last_axis() -> None:
    fold = assign_folds((7, 103), 5, np.random.default_rng(3))
    counts = np.stack([(fold == k).sum(axis=-1) for k in range(5)])
    assert counts.min() >= 20
    assert counts.max() <= 21


def test_reward_model_pools_to_the_position_mean_when_actions_do_not_differ() -> None:
    rng = np.random.default_rng(4)
    n = 20_000
    action, position = rng.integers(0, 10, n), rng.integers(0, 2, n)
    reward = (rng.random(n) < np.where(position == 0, 0.1, 0.3)).astype(float)
    fold = assign_folds((n,), 2, rng)
    q = fit_reward_model(action, position, reward, fold, n_actions=10, n_positions=2, n_folds=2)
    assert q.shape == (2, 10, 2)
    np.testing.assert_allclose(q[..., 0], 0.1, atol=0.015)
    np.testing.assert_allclose(q[..., 1], 0.3, atol=0.02)


def test_reward_model_follows_actions_that_clearly_differ() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    action = rng.integers(0, 4, n)
    truth = np.array([0.05, 0.1, 0.4, 0.8])
    reward = (rng.random(n) < truth[action]).astype(float)
    fold = assign_folds((n,), 3, rng)
    q = fit_reward_model(
        action, np.zeros(n, np.int64), reward, fold, n_actions=4, n_positions=1, n_folds=3
    )
    np.testing.assert_allclose(q[:, :, 0], np.broadcast_to(truth, (3, 4)), atol=0.02)


def test_unseen_cells_get_the_position_mean() -> None:
    action = np.array([0, 0, 1, 1, 0, 1])
    reward = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    fold = np.array([0, 1, 0, 1, 0, 1])
    q = fit_reward_model(
        action, np.zeros(6, np.int64), reward, fold, n_actions=3, n_positions=1, n_folds=2
    )
    # fold 0 is fitted on rows 1, 3, 5: mean 2/3; action 2 never seen
    assert q[0, 2, 0] == pytest.approx(2 / 3)


@settings(max_examples=40, deadline=None)
@given(
    rewards=arrays(np.float64, 60, elements=st.sampled_from([0.0, 1.0])),
    seed=st.integers(0, 2**32 - 1),
    changed=st.integers(0, 59),
)
def test_a_row_reward_never_enters_its_own_folds_prediction(
    rewards: np.ndarray, seed: int, changed: int
) -> None:
    rng = np.random.default_rng(seed)
    action, position = rng.integers(0, 3, 60), rng.integers(0, 2, 60)
    fold = assign_folds((60,), 3, rng)
    kwargs = {"n_actions": 3, "n_positions": 2, "n_folds": 3}
    before = fit_reward_model(action, position, rewards, fold, **kwargs)
    flipped = rewards.copy()
    flipped[changed] = 1.0 - flipped[changed]
    after = fit_reward_model(action, position, flipped, fold, **kwargs)
    np.testing.assert_array_equal(before[fold[changed]], after[fold[changed]])


@settings(max_examples=40, deadline=None)
@given(
    rewards=arrays(np.float64, (3, 40), elements=st.floats(0.0, 1.0)),
    seed=st.integers(0, 2**32 - 1),
)
def test_reward_model_stays_within_the_reward_range_and_batches_like_single_fits(
    rewards: np.ndarray, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    action, position = rng.integers(0, 4, (3, 40)), rng.integers(0, 2, (3, 40))
    fold = assign_folds((3, 40), 2, rng)
    kwargs = {"n_actions": 4, "n_positions": 2, "n_folds": 2}
    batch = fit_reward_model(action, position, rewards, fold, **kwargs)
    assert batch.shape == (3, 2, 4, 2)
    for b in range(3):
        single = fit_reward_model(action[b], position[b], rewards[b], fold[b], **kwargs)
        np.testing.assert_allclose(batch[b], single, atol=1e-12)
        assert single.min() >= rewards[b].min() - 1e-12
        assert single.max() <= rewards[b].max() + 1e-12


def test_dr_terms_pick_the_logged_cell_and_the_target_mean() -> None:
    model = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    target = np.array([[0.5, 0.0], [0.5, 0.0], [0.0, 1.0]])
    action, position, fold = np.array([2, 0]), np.array([1, 0]), np.array([1, 0])
    q_logged, q_target = dr_reward_terms(model, target, action, position, fold)
    np.testing.assert_allclose(q_logged, [model[1, 2, 1], model[0, 0, 0]])
    np.testing.assert_allclose(
        q_target, [model[1, 2, 1], 0.5 * model[0, 0, 0] + 0.5 * model[0, 1, 0]]
    )
