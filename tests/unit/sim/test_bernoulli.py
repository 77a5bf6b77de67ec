from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allocator.sim.bernoulli as bern
from allocator.core.families import BetaPosterior, thompson_choice
from allocator.sim.bernoulli import (
    BernoulliBandit,
    Method,
    bernoulli_kl,
    checkpoints,
    lai_robbins_constant,
    reward_stream,
    simulate,
)

HAS_MABWISER = importlib.util.find_spec("mabwiser") is not None
needs_mabwiser = pytest.mark.skipif(
    not HAS_MABWISER, reason="mabwiser not installed (optional 'bench' extra)"
)


@pytest.mark.parametrize(("gap", "expected"), [(0.1, 102.9), (0.02, 517.9)])
def test_lai_robbins_constant_times_ln10_matches_the_literature(
    gap: float, expected: float
) -> None:
    value = lai_robbins_constant(BernoulliBandit(gap)) * np.log(10.0)
    assert round(value, 1) == expected


def test_kl_of_the_paper_arms_by_hand() -> None:
    # KL(0.4 || 0.5) = 0.4 ln 0.8 + 0.6 ln 1.2
    assert float(bernoulli_kl(0.4, 0.5)) == pytest.approx(0.4 * np.log(0.8) + 0.6 * np.log(1.2))


@settings(max_examples=50, deadline=None)
@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99))
def test_kl_is_nonnegative_and_zero_only_at_equality(p: float, q: float) -> None:
    kl = float(bernoulli_kl(p, q))
    assert kl >= -1e-15
    if abs(p - q) > 1e-3:
        assert kl > 0


def test_bandit_has_one_best_arm_and_nine_equal_others() -> None:
    bandit = BernoulliBandit(0.1)
    assert bandit.means.tolist() == pytest.approx([0.5] + [0.4] * 9)
    assert bandit.gaps.tolist() == pytest.approx([0.0] + [0.1] * 9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gap": 0.0}, "gap"),
        ({"gap": 0.6}, "gap"),
        ({"gap": 0.1, "n_arms": 1}, "n_arms"),
    ],
    ids=["zero-gap", "gap-above-best", "one-arm"],
)
def test_invalid_bandits_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BernoulliBandit(**kwargs)  # type: ignore[arg-type]


def test_checkpoints_hold_every_decade_and_the_horizon() -> None:
    steps = checkpoints(25_000)
    assert {1, 10, 100, 1000, 10_000, 25_000} <= set(steps.tolist())
    assert np.all(np.diff(steps) > 0)
    assert steps.max() == 25_000


@settings(max_examples=12, deadline=None)
@given(
    st.sampled_from(list(Method)),
    st.sampled_from([0.1, 0.02, 0.3]),
    st.integers(2, 6),
    st.integers(11, 400),
    st.integers(0, 2**31),
)
def test_regret_is_nonnegative_and_nondecreasing(
    method: Method, gap: float, n_seeds: int, horizon: int, base_seed: int
) -> None:
    curves = simulate(method, BernoulliBandit(gap), n_seeds, horizon, base_seed=base_seed,
                      block_size=4)  # fmt: skip
    assert curves.regret.shape == (n_seeds, curves.steps.size)
    assert np.all(curves.regret >= 0)
    assert np.all(np.diff(curves.regret, axis=1) >= 0)
    # one pull costs at most the gap
    assert np.all(curves.regret <= gap * curves.steps[None, :] + 1e-9)


def test_thompson_beats_ucb1_at_moderate_horizon() -> None:
    bandit = BernoulliBandit(0.1)
    ts = simulate(Method.THOMPSON, bandit, 8, 3000, base_seed=7, block_size=8)
    ucb = simulate(Method.UCB1, bandit, 8, 3000, base_seed=7, block_size=8)
    assert ts.at(3000).mean() < 0.7 * ucb.at(3000).mean()


def test_engine_thompson_runs_the_core_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []

    def spy(post: BetaPosterior, rng: np.random.Generator) -> np.ndarray:
        calls.append(post.alpha.shape)
        return thompson_choice(post, rng)

    monkeypatch.setattr(bern, "thompson_choice", spy)
    simulate(Method.THOMPSON, BernoulliBandit(0.1), 3, 50, block_size=3)
    assert calls == [(3, 10)] * 50


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    bandit = BernoulliBandit(0.02)
    a = simulate(Method.THOMPSON, bandit, 4, 500, base_seed=3)
    b = simulate(Method.THOMPSON, bandit, 4, 500, base_seed=3)
    c = simulate(Method.THOMPSON, bandit, 4, 500, base_seed=4)
    np.testing.assert_array_equal(a.regret, b.regret)
    assert not np.array_equal(a.regret, c.regret)


def test_a_seed_does_not_depend_on_how_many_seeds_run(monkeypatch: pytest.MonkeyPatch) -> None:
    bandit = BernoulliBandit(0.1)
    few = simulate(Method.THOMPSON, bandit, 3, 300, base_seed=1, block_size=5)
    many = simulate(Method.THOMPSON, bandit, 9, 300, base_seed=1, block_size=5)
    np.testing.assert_array_equal(few.regret, many.regret[:3])
    monkeypatch.setattr(bern, "CHUNK", 7)  # reward uniforms drawn in other pieces
    chunked = simulate(Method.THOMPSON, bandit, 3, 300, base_seed=1, block_size=5)
    np.testing.assert_array_equal(few.regret, chunked.regret)


def test_ucb1_depends_only_on_the_seed_reward_stream() -> None:
    bandit = BernoulliBandit(0.1)
    alone = simulate(Method.UCB1, bandit, 6, 400, base_seed=2, block_size=1)
    together = simulate(Method.UCB1, bandit, 6, 400, base_seed=2, block_size=6)
    np.testing.assert_array_equal(alone.regret, together.regret)


def test_reward_stream_is_the_same_in_one_piece_or_several() -> None:
    whole = reward_stream(5, 3).random(1000)
    g = reward_stream(5, 3)
    parts = np.concatenate([g.random(1), g.random(333), g.random(666)])
    np.testing.assert_array_equal(whole, parts)


@needs_mabwiser
def test_ucb1_follows_mabwiser_ucb1_pull_for_pull() -> None:
    from allocator.sim.bernoulli_study import mabwiser_regret

    bandit = BernoulliBandit(0.1)
    ours = simulate(Method.UCB1, bandit, 2, 1500, base_seed=0, block_size=2)
    for seed in (0, 1):
        theirs = mabwiser_regret(Method.UCB1, bandit, seed, 1500, 0, ours.steps)
        np.testing.assert_allclose(ours.regret[seed], theirs, rtol=0, atol=1e-9)


@needs_mabwiser
def test_mabwiser_thompson_is_seeded_and_learns() -> None:
    from allocator.sim.bernoulli_study import mabwiser_regret

    bandit = BernoulliBandit(0.1)
    steps = checkpoints(2000)
    a = mabwiser_regret(Method.THOMPSON, bandit, 0, 2000, 0, steps)
    b = mabwiser_regret(Method.THOMPSON, bandit, 0, 2000, 0, steps)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.diff(a) >= 0)
    assert a[-1] < 0.5 * 0.1 * 0.9 * 2000  # far below uniform play's regret
