"""The account's half-saturation spend, learned from its own spend variation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.core.saturation import HALF_GRID, fit_half_saturation


def account(
    half: float, rng: np.random.Generator, *, k: int = 10, days: int = 28, wobble: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """Spend on a random walk around 50-400/day; conversions Poisson under ``half``."""
    rate = rng.lognormal(np.log(1.0 / 25.0), 0.3, k)
    level = rng.uniform(50.0, 400.0, k)
    spend = level[:, None] * np.exp(np.cumsum(rng.normal(0.0, wobble, (k, days)), axis=1))
    mean = rate[:, None] * spend / (1.0 + spend / half)
    return spend, rng.poisson(mean).astype(np.float64)


def fitted(half: float, seed: int) -> float:
    spend, conversions = account(half, np.random.default_rng(seed))
    weight = np.ones(spend.shape[-1])
    return float(fit_half_saturation(spend, conversions, weight, 1000.0, 1.0))


def test_strong_and_weak_saturation_are_told_apart() -> None:
    strong = np.median([fitted(300.0, seed) for seed in range(15)])
    weak = np.median([fitted(1e9, seed) for seed in range(15)])
    assert 150.0 <= strong <= 600.0
    assert weak >= 2500.0


def test_without_spend_variation_the_prior_decides() -> None:
    # every ad group spends the same every day: the profile likelihood is flat in h
    spend = np.full((5, 20), 300.0)
    conversions = np.full((5, 20), 12.0)
    out = fit_half_saturation(spend, conversions, np.ones(20), 1000.0, 1.0)
    assert float(out) == pytest.approx(HALF_GRID[np.argmin(np.abs(np.log(HALF_GRID / 1000.0)))])


def test_accounts_in_a_batch_are_fitted_independently() -> None:
    rng = np.random.default_rng(3)
    a, b = account(300.0, rng), account(1e9, rng)
    spend = np.stack([a[0], b[0]])
    conversions = np.stack([a[1], b[1]])
    together = fit_half_saturation(spend, conversions, np.ones(28), 1000.0, 1.0)
    alone = [float(fit_half_saturation(s, c, np.ones(28), 1000.0, 1.0)) for s, c in (a, b)]
    assert together.shape == (2,)
    assert together.tolist() == alone


def test_a_bad_prior_is_refused() -> None:
    with pytest.raises(ValueError, match="prior"):
        fit_half_saturation(np.ones((1, 2)), np.ones((1, 2)), np.ones(2), 1000.0, 0.0)


@given(st.integers(0, 2**32 - 1), st.floats(100.0, 10_000.0), st.floats(0.1, 3.0))
def test_the_fit_is_on_the_grid_and_ignores_the_order_of_ad_groups(
    seed: int, half: float, sd: float
) -> None:
    rng = np.random.default_rng(seed)
    spend, conversions = account(half, rng, k=4, days=10)
    weight = np.ones(10)
    out = float(fit_half_saturation(spend, conversions, weight, 1000.0, sd))
    assert out in HALF_GRID
    order = rng.permutation(4)
    moved = float(fit_half_saturation(spend[order], conversions[order], weight, 1000.0, sd))
    assert moved == out


def test_the_engine_plans_with_each_accounts_learned_half_saturation() -> None:
    import math

    from allocator.core.arms import ArmState, History, Objective, Stage
    from allocator.core.engine import EngineParams, account_half_saturation, step
    from allocator.core.target import Target

    rng = np.random.default_rng(5)
    pairs = [account(250.0, rng, k=10), account(1e9, rng, k=10)]
    spend = np.stack([p[0] for p in pairs])
    conversions = np.stack([p[1] for p in pairs])
    shape = spend.shape[:-1]
    arms = ArmState(
        is_spark=np.zeros(shape, dtype=np.bool_),
        creator=np.broadcast_to(np.arange(10, dtype=np.int64), shape).copy(),
        budget=spend[..., -1].round(2),
        enabled=np.ones(shape, dtype=np.bool_),
        auth_days_left=np.full(shape, math.inf),
        days_since_launch=np.full(shape, 60.0),
        days_since_edit=np.full(shape, math.inf),
        prev_stage=np.full(shape, int(Stage.TESTING)),
    )
    history = History(
        spend, conversions, conversions * 45.0, spend * 100.0,
        np.ones(spend.shape, dtype=np.bool_), np.arange(28, 0, -1, dtype=np.float64),
    )  # fmt: skip
    params = EngineParams(n_draws=200, learn_saturation=True)
    half = account_half_saturation(history, params)
    assert np.shape(half) == (2, 1)
    # strong vs weak saturation (the synthetic counts are not lagged, while the engine
    # weighs recent days as partly reported, so only the order is compared)
    assert float(half[0, 0]) < float(half[1, 0])
    out = step(arms, history, Target(Objective.CPA, 25.0), 1500.0, params, rng)
    assert np.allclose(out.budget.sum(axis=-1), 1500.0, atol=0.01 * 10)
    fixed = account_half_saturation(history, EngineParams())
    assert fixed == 1000.0
