"""Statistical checks on synthetic logs with a known value: bias and interval coverage.

Every replication (seed) is drawn at once as arrays of shape ``(n_seeds, n_rows)`` and the
estimators run over the leading seed axis, so 400 replications take a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from allocator.backtest.ope import (
    AlignedLogs,
    BatchEstimate,
    doubly_robust,
    evaluate,
    importance_weights,
    ips,
    snips,
)
from allocator.backtest.replay import replay
from allocator.backtest.reward_model import assign_folds, dr_reward_terms, fit_reward_model

N_SEEDS = 400


@dataclass(frozen=True)
class World:
    """Known truth: CTR per (action, position), logging and target probabilities."""

    ctr: np.ndarray  # (A, P)
    logging: np.ndarray  # (A, P), columns sum to 1
    target: np.ndarray  # (A, P), columns sum to 1

    @property
    def value(self) -> float:
        """Target's expected reward per row, positions equally likely."""
        return float((self.target * self.ctr).sum(axis=0).mean())


def make_world(rng: np.random.Generator, n_actions: int, n_positions: int, base: float) -> World:
    ctr = (
        base * rng.uniform(0.3, 2.0, (n_actions, n_positions)) * np.linspace(1.0, 0.6, n_positions)
    )
    logging = 0.5 * rng.dirichlet(np.full(n_actions, 2.0), n_positions).T + 0.5 / n_actions
    target = rng.dirichlet(np.full(n_actions, 0.7), n_positions).T
    return World(ctr, logging, target)


def draw_logs(
    world: World, rng: np.random.Generator, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Action, position, reward, propensity arrays of shape ``shape`` (seeds, rows)."""
    n_actions, n_positions = world.ctr.shape
    position = rng.integers(0, n_positions, shape)
    cdf = np.cumsum(world.logging, axis=0).T  # (P, A)
    u = rng.random(shape)
    action = np.minimum((u[..., None] > cdf[position]).sum(axis=-1), n_actions - 1)
    reward = (rng.random(shape) < world.ctr[action, position]).astype(float)
    return action, position, reward, world.logging[action, position]


def batch_estimates(
    world: World, rng: np.random.Generator, n_rows: int
) -> dict[str, BatchEstimate]:
    action, position, reward, propensity = draw_logs(world, rng, (N_SEEDS, n_rows))
    weight = importance_weights(world.target[action, position], propensity)
    n_actions, n_positions = world.ctr.shape
    fold = assign_folds(action.shape, 5, rng)
    model = fit_reward_model(
        action, position, reward, fold, n_actions=n_actions, n_positions=n_positions, n_folds=5
    )
    q_logged, q_target = dr_reward_terms(model, world.target, action, position, fold)
    return {
        "ips": ips(reward, weight),
        "snips": snips(reward, weight),
        "dr": doubly_robust(reward, weight, q_logged, q_target),
    }


def assert_unbiased_and_covering(
    result: BatchEstimate, truth: float, lowest_coverage: float = 0.92
) -> None:
    spread = result.estimate.std(ddof=1)
    mean_error = result.estimate.mean() - truth
    assert abs(mean_error) < 3.0 * spread / np.sqrt(N_SEEDS), (mean_error, spread)
    covered = (result.ci_low <= truth) & (truth <= result.ci_high)
    assert lowest_coverage <= covered.mean() <= 0.98, covered.mean()
    # the reported standard error matches the spread across replications
    assert np.median(result.std_error) == pytest.approx(spread, rel=0.15)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ips", "snips", "dr"])
def test_estimators_are_unbiased_and_cover_at_the_nominal_rate(name: str) -> None:
    rng = np.random.default_rng(20240601)
    world = make_world(rng, n_actions=8, n_positions=3, base=0.1)
    results = batch_estimates(world, rng, n_rows=3000)
    assert_unbiased_and_covering(results[name], world.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ips", "snips", "dr"])
def test_rare_clicks_like_the_open_bandit_sample_still_cover(name: str) -> None:
    rng = np.random.default_rng(777)
    world = make_world(rng, n_actions=30, n_positions=3, base=0.02)
    results = batch_estimates(world, rng, n_rows=5000)
    # About 85 clicks per replication: the per-row terms are skewed, and the normal interval
    # loses 1 to 2 points of coverage (measured 0.90 to 0.97 across worlds, mean 0.94).
    assert_unbiased_and_covering(results[name], world.value, lowest_coverage=0.90)


@pytest.mark.slow
def test_dr_is_at_least_as_precise_as_ips_when_actions_differ() -> None:
    rng = np.random.default_rng(99)
    world = make_world(rng, n_actions=8, n_positions=3, base=0.2)
    results = batch_estimates(world, rng, n_rows=3000)
    assert results["dr"].estimate.std() <= results["ips"].estimate.std()


@pytest.mark.slow
def test_bootstrap_intervals_cover_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(4242)
    world = make_world(rng, n_actions=6, n_positions=2, base=0.1)
    action, position, reward, propensity = draw_logs(world, rng, (200, 1500))
    covered = {"ips": 0, "snips": 0, "dr": 0}
    for s in range(200):  # one bootstrap per replication; each is vectorized over resamples
        logs = AlignedLogs(action[s], position[s], reward[s], propensity[s], world.target)
        out = evaluate(logs, rng=rng, interval="bootstrap", n_boot=1000)
        for name, r in out.items():
            covered[name] += r.ci_low <= world.value <= r.ci_high
    for name, hits in covered.items():
        assert 0.91 <= hits / 200 <= 0.985, (name, hits)


@pytest.mark.slow
def test_replay_of_a_fixed_policy_on_uniform_logs_is_unbiased_and_covers() -> None:
    rng = np.random.default_rng(5)
    n_actions, n_rows = 5, 4000
    ctr = rng.uniform(0.05, 0.3, n_actions)
    choice_by_segment = rng.integers(0, n_actions, 4)
    segment = rng.integers(0, 4, n_rows)
    truth = ctr[choice_by_segment].mean()
    estimates, covered = [], 0
    for _ in range(N_SEEDS):
        logged = rng.integers(0, n_actions, n_rows)
        reward = (rng.random(n_rows) < ctr[logged]).astype(float)
        result = replay(
            logged,
            reward,
            lambda rows: choice_by_segment[segment[rows]],
            propensity=np.full(n_rows, 1.0 / n_actions),
        )
        estimates.append(result.estimate)
        covered += result.ci_low <= truth <= result.ci_high
    spread = np.std(estimates, ddof=1)
    assert abs(np.mean(estimates) - truth) < 3 * spread / np.sqrt(N_SEEDS)
    assert 0.92 <= covered / N_SEEDS <= 0.98
