from __future__ import annotations

import numpy as np
import pytest

from allocator._types import FloatArray
from allocator.core.allocation import thompson_allocate


def greedy_reference(
    draws: FloatArray, floors: FloatArray, caps: FloatArray, total: float
) -> FloatArray:
    """Per-draw greedy fill written as plain loops (ties split by room), for checking."""
    floors = np.minimum(floors, caps)
    if floors.sum() > total:
        floors = floors * (total / floors.sum())
    room = caps - floors
    result: FloatArray = np.zeros_like(floors)
    for draw in draws:
        left = total - floors.sum()
        alloc = floors.copy()
        for value in sorted(set(draw[room > 0]), reverse=True):
            group = np.flatnonzero((draw == value) & (room > 0))
            group_room = room[group].sum()
            money = min(left, group_room)
            alloc[group] += room[group] * money / group_room
            left -= money
        result += alloc
    return result / len(draws)


def test_each_draw_gives_the_rest_to_its_best_arm_when_caps_are_loose() -> None:
    draws = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    out = thompson_allocate(draws, floors=np.array([10.0, 10.0, 0.0]), caps=100.0, total=100.0)
    # draw 1: arm 2 gets the 80 left; draw 2: arm 0 gets it
    np.testing.assert_allclose(out, [50.0, 10.0, 40.0])


def test_caps_spill_money_to_the_next_best_arm() -> None:
    draws = np.array([[3.0, 2.0, 1.0]])
    out = thompson_allocate(draws, floors=0.0, caps=np.array([50.0, 30.0, 100.0]), total=100.0)
    np.testing.assert_allclose(out, [50.0, 30.0, 20.0])


def test_arms_with_cap_zero_get_nothing_even_with_a_floor() -> None:
    draws = np.array([[9.0, 1.0, 2.0]])
    out = thompson_allocate(
        draws, floors=np.array([20.0, 20.0, 0.0]), caps=np.array([0.0, 100.0, 100.0]), total=100.0
    )
    np.testing.assert_allclose(out, [0.0, 20.0, 80.0])


def test_exact_ties_split_the_money_by_room() -> None:
    draws = np.array([[5.0, 5.0, 1.0]])
    out = thompson_allocate(draws, floors=0.0, caps=np.array([60.0, 20.0, 100.0]), total=40.0)
    np.testing.assert_allclose(out, [30.0, 10.0, 0.0])


def test_floors_above_the_total_are_scaled_down() -> None:
    draws = np.array([[1.0, 2.0]])
    out = thompson_allocate(draws, floors=np.array([60.0, 40.0]), caps=100.0, total=50.0)
    np.testing.assert_allclose(out, [30.0, 20.0])


def test_caps_below_the_total_leave_every_arm_at_its_cap() -> None:
    draws = np.array([[1.0, 2.0]])
    out = thompson_allocate(draws, floors=10.0, caps=np.array([30.0, 40.0]), total=100.0)
    np.testing.assert_allclose(out, [30.0, 40.0])


@pytest.mark.parametrize(
    ("n_arms", "cap_share"),
    [(5, 1.0), (40, 1.0), (40, 0.05), (40, 0.02), (300, 0.01), (300, 0.5)],
    ids=["few-arms", "loose-caps", "tight-caps", "very-tight-caps", "many-arms-tight", "half"],
)
def test_matches_the_loop_reference_on_random_portfolios(n_arms: int, cap_share: float) -> None:
    rng = np.random.default_rng(n_arms)
    draws = rng.gamma(2.0, 1.0, size=(200, n_arms))
    floors = np.where(rng.random(n_arms) < 0.3, 20.0, 0.0)
    caps = rng.uniform(0.5, 1.5, n_arms) * cap_share * 1000.0
    caps[rng.random(n_arms) < 0.1] = 0.0
    out = thompson_allocate(draws, floors, caps, 1000.0)
    np.testing.assert_allclose(out, greedy_reference(draws, floors, caps, 1000.0), atol=1e-9)


def test_ties_at_the_cut_with_partial_selection_match_the_reference() -> None:
    rng = np.random.default_rng(3)
    draws = rng.integers(0, 4, size=(50, 60)).astype(float)  # many exact ties
    caps = rng.uniform(10.0, 30.0, 60)
    out = thompson_allocate(draws, floors=0.0, caps=caps, total=25.0)
    np.testing.assert_allclose(out, greedy_reference(draws, np.zeros(60), caps, 25.0), atol=1e-9)


def test_batch_rows_are_independent_portfolios() -> None:
    rng = np.random.default_rng(7)
    draws = rng.gamma(2.0, 1.0, size=(2, 3, 100, 8))
    floors = rng.choice([0.0, 20.0], size=(2, 3, 8))
    caps = rng.uniform(50.0, 400.0, size=(2, 3, 8))
    total = np.array([[300.0, 500.0, 900.0], [100.0, 1000.0, 0.0]])
    out = thompson_allocate(draws, floors, caps, total)
    assert out.shape == (2, 3, 8)
    for i in range(2):
        for j in range(3):
            expected = thompson_allocate(draws[i, j], floors[i, j], caps[i, j], total[i, j])
            np.testing.assert_allclose(out[i, j], expected, atol=1e-9)


def test_probability_matching_without_floors_or_caps() -> None:
    rng = np.random.default_rng(11)
    draws = rng.gamma([[30.0, 20.0, 10.0]], 1.0, size=(4000, 3))
    out = thompson_allocate(draws, floors=0.0, caps=1.0, total=1.0)
    p_best = np.bincount(draws.argmax(axis=1), minlength=3) / 4000
    np.testing.assert_allclose(out, p_best, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"draws": np.ones(3)}, "shape"),
        ({"draws": np.array([[1.0, np.nan]])}, "finite"),
        ({"floors": -1.0}, "floors"),
        ({"caps": np.array([1.0, np.inf])}, "caps"),
        ({"total": -5.0}, "total"),
        ({"caps": np.ones(3)}, "broadcast"),
    ],
    ids=["no-draw-axis", "nan-draw", "negative-floor", "infinite-cap", "negative-total", "shape"],
)
def test_invalid_inputs_are_rejected(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "draws": np.ones((2, 2)),
        "floors": 0.0,
        "caps": 10.0,
        "total": 10.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        thompson_allocate(**args)  # type: ignore[arg-type]


def test_a_tie_ranked_before_the_marginal_arm_is_split_with_partial_selection() -> None:
    draws = np.concatenate([[5.0, 5.0], np.linspace(0.1, 1.0, 18)])[None, :]
    caps = np.concatenate([[60.0, 20.0], np.full(18, 100.0)])
    out = thompson_allocate(draws, floors=0.0, caps=caps, total=40.0)
    np.testing.assert_allclose(out[:2], [30.0, 10.0])
    np.testing.assert_allclose(out[2:], 0.0)
