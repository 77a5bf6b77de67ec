"""The simulated learning phase: entering, leaving, its cost, and the oracle's exemption."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from allocator.sim.environment import Environment
from allocator.sim.experiment import ExperimentConfig
from allocator.sim.learning import LearningPhase, expected_keep_share
from allocator.sim.runner import run_experiment
from allocator.sim.scenario import Scenario


def phase(**kw: float) -> LearningPhase:
    keys = {"penalty": 0.3, "conversions_to_exit": 50.0, "days_to_exit": 7, "edit_fraction": 0.5}
    keys.update(kw)
    return LearningPhase.start(
        (1, 3),
        keys["penalty"],
        keys["conversions_to_exit"],
        int(keys["days_to_exit"]),
        keys["edit_fraction"],
        noise=0.0,
    )


def day(lp: LearningPhase, budgets: list[float], conversions: list[float]) -> np.ndarray:
    live = np.array([budgets], dtype=float)
    learning, entered = lp.today(live)
    lp.end_day(live, entered, np.array([conversions], dtype=float))
    return learning[0]


def test_an_ad_group_learns_from_launch_and_leaves_after_the_days() -> None:
    lp = phase(days_to_exit=3)
    assert day(lp, [100, 100, 0], [1, 1, 0]).tolist() == [True, True, False]
    assert day(lp, [100, 100, 0], [1, 1, 0]).tolist() == [True, True, False]
    assert day(lp, [100, 100, 0], [1, 1, 0]).tolist() == [True, True, False]
    assert day(lp, [100, 100, 0], [1, 1, 0]).tolist() == [False, False, False]


def test_an_ad_group_leaves_learning_after_the_conversions() -> None:
    lp = phase(conversions_to_exit=10)
    assert day(lp, [100, 100, 100], [6, 2, 0]).tolist() == [True, True, True]
    assert day(lp, [100, 100, 100], [6, 2, 0]).tolist() == [True, True, True]
    assert day(lp, [100, 100, 100], [0, 0, 0]).tolist() == [False, True, True]


def test_a_large_edit_restarts_learning_and_a_small_one_does_not() -> None:
    lp = phase(days_to_exit=1)
    day(lp, [100, 100, 100], [0, 0, 0])
    assert day(lp, [100, 100, 100], [0, 0, 0]).tolist() == [False, False, False]
    # +49 % is within the 50 % edit fraction; +51 % and -60 % restart learning
    assert day(lp, [149, 151, 40], [0, 0, 0]).tolist() == [False, True, True]


def test_re_enabling_a_paused_ad_group_restarts_learning() -> None:
    lp = phase(days_to_exit=1)
    day(lp, [100, 100, 100], [0, 0, 0])
    day(lp, [100, 0, 100], [0, 0, 0])
    assert day(lp, [100, 100, 100], [0, 0, 0]).tolist() == [False, True, False]


def test_the_penalty_scales_expected_conversions_of_learning_ad_groups_only() -> None:
    base = Scenario(n_arms=4, n_creators=2, learning_days=2, learning_noise=0.0)
    costly = dataclasses.replace(base, learning_penalty=0.3)
    budgets = np.full((3, 4), 250.0)
    on = np.ones((3, 4), dtype=bool)
    free_env = Environment.reset(base, 3, np.random.default_rng(5))
    paid_env = Environment.reset(costly, 3, np.random.default_rng(5))
    for d in range(3):
        free = free_env.advance_day(budgets, on)
        paid = paid_env.advance_day(budgets, on)
        factor = 0.7 if d < 2 else 1.0
        np.testing.assert_allclose(paid.expected_conversions, factor * free.expected_conversions)
        assert bool(paid.learning.all()) == (d < 2)
        assert (paid.conversions <= free.conversions).all()
    assert paid_env.truth().rate == pytest.approx(free_env.truth().rate)


def test_expected_keep_share_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    k = 1 / 0.3**2
    g = rng.gamma(k, 1 / k, size=400_000)
    assert expected_keep_share(0.15, 0.3) == pytest.approx(np.minimum(1, 0.85 * g).mean(), abs=2e-3)
    assert expected_keep_share(0.3, 0.0) == pytest.approx(0.7)
    assert expected_keep_share(0.0, 0.3) == 1.0


def test_the_oracle_does_not_pay_the_penalty() -> None:
    def frame(penalty: float) -> object:
        exp = ExperimentConfig.model_validate(
            {
                "name": "t",
                "seeds": 3,
                "horizon_days": 8,
                "scenario": {"n_arms": 4, "n_creators": 2, "learning_penalty": penalty},
                "policies": [{"kind": "even"}],
            }
        )
        return run_experiment(exp).frame.set_index(["policy", "seed"])

    free, paid = frame(0.0), frame(0.3)
    oracle = ("oracle", slice(None))
    np.testing.assert_allclose(
        paid.loc[oracle, "expected_conversions"], free.loc[oracle, "expected_conversions"]
    )
    even = ("even", slice(None))
    assert (paid.loc[even, "oracle_ratio"] < free.loc[even, "oracle_ratio"]).all()


@pytest.mark.parametrize(
    ("key", "value"),
    [("learning_penalty", 1.0), ("learning_penalty", -0.1), ("learning_days", 0)],
)
def test_bad_learning_keys_are_named(key: str, value: float) -> None:
    from allocator.errors import ConfigError

    with pytest.raises(ConfigError, match=key):
        Scenario(**{key: value})  # type: ignore[arg-type]
