"""The saturating response curve, its exact water-filling solver and the Thompson average."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from allocator._types import FloatArray
from allocator.core.response import (
    expected_conversions,
    marginal_rate,
    rate_at_zero_multiplier,
    saturating_allocate,
    water_fill,
)

PROPERTY = settings(max_examples=150, deadline=None)


def _random_problem(
    rng: np.random.Generator, k: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    rate = rng.gamma(2.0, 0.02, k) * (rng.random(k) > 0.1)
    half = rng.uniform(50.0, 2000.0, k)
    cap = rng.uniform(0.0, 800.0, k) * (rng.random(k) > 0.15)
    floor = np.minimum(rng.uniform(0.0, 100.0, k) * (rng.random(k) > 0.5), cap)
    return rate, half, floor, cap, float(rng.uniform(10.0, 1500.0))


def _best_by_slsqp(
    rate: FloatArray, half: FloatArray, floor: FloatArray, cap: FloatArray, total: float
) -> float:
    """Best value SLSQP finds from several starts (an independent optimizer)."""
    rng = np.random.default_rng(0)

    def loss(x: FloatArray) -> float:
        return -float(expected_conversions(rate, half, x).sum())

    best = math.inf
    for _ in range(6):
        x0 = floor + (cap - floor) * rng.random(rate.size)
        x0 = np.clip(floor + (x0 - floor) * (total - floor.sum()) / max((x0 - floor).sum(), 1e-9),
                     floor, cap)  # fmt: skip
        res = minimize(
            loss, x0, method="SLSQP", bounds=list(zip(floor, cap, strict=True)),
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}],
            options={"ftol": 1e-13, "maxiter": 500},
        )  # fmt: skip
        if res.success and abs(res.x.sum() - total) < 1e-6:
            best = min(best, float(res.fun))
    return best


@pytest.mark.parametrize("seed", range(60))
def test_water_fill_is_at_least_as_good_as_a_general_optimizer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rate, half, floor, cap, total = _random_problem(rng, int(rng.integers(2, 7)))
    if cap.sum() <= total or floor.sum() >= total:
        total = 0.5 * (floor.sum() + cap.sum())  # an interior problem
    if cap.sum() <= total:
        pytest.skip("no interior problem for this draw")
    b = water_fill(rate, half, floor, cap, np.asarray(total))
    assert b.sum() == pytest.approx(total, rel=1e-12)
    assert np.all(b >= floor - 1e-9)
    assert np.all(b <= cap + 1e-9)
    ours = -float(expected_conversions(rate, half, b).sum())
    slsqp = _best_by_slsqp(rate, half, floor, cap, total)
    assert ours <= slsqp + 1e-9 * max(1.0, abs(slsqp))


def test_two_free_arms_match_the_closed_form() -> None:
    rate, half = np.array([0.04, 0.025]), np.array([1000.0, 500.0])
    total = 900.0
    b = water_fill(rate, half, np.zeros(2), np.full(2, 1e9), np.asarray(total))
    # sqrt(nu) = sum h sqrt(r) / (total + sum h); b = h (sqrt(r / nu) - 1)
    root_nu = (half * np.sqrt(rate)).sum() / (total + half.sum())
    expected = half * (np.sqrt(rate) / root_nu - 1.0)
    np.testing.assert_allclose(b, expected, rtol=1e-12)
    m = marginal_rate(rate, half, b)
    assert m[0] == pytest.approx(m[1], rel=1e-12)


def test_karush_kuhn_tucker_conditions_hold() -> None:
    rng = np.random.default_rng(7)
    rate = rng.gamma(2.0, 0.02, (400, 8))
    half = rng.uniform(50.0, 2000.0, (400, 8))
    floor = np.full((400, 8), 20.0)
    cap = np.full((400, 8), 400.0)
    b = water_fill(rate, half, floor, cap, np.full(400, 1000.0))
    m = marginal_rate(rate, half, b)
    interior = (b > floor + 1e-6) & (b < cap - 1e-6)
    nu = np.where(interior, m, np.nan)
    level = np.nanmean(nu, axis=-1, keepdims=True)
    has = interior.any(axis=-1)
    levels = np.broadcast_to(level, m.shape)
    np.testing.assert_allclose(np.where(interior, m, level)[has], levels[has], rtol=1e-9)
    at_floor = (b <= floor + 1e-6) & has[:, None]
    at_cap = (b >= cap - 1e-6) & has[:, None]
    assert np.all(m[at_floor] <= np.broadcast_to(level, m.shape)[at_floor] * (1 + 1e-9))
    assert np.all(m[at_cap] >= np.broadcast_to(level, m.shape)[at_cap] * (1 - 1e-9))


def test_edge_cases_scale_floors_fill_caps_and_skip_closed_arms() -> None:
    rate = np.array([0.05, 0.02, 0.01])
    half = np.full(3, 300.0)
    # floors above the total are scaled down to it
    b = water_fill(rate, half, np.array([100.0, 100.0, 0.0]), np.full(3, 500.0), np.asarray(50.0))
    np.testing.assert_allclose(b, [25.0, 25.0, 0.0])
    # caps below the total: every arm at its cap
    b = water_fill(rate, half, np.zeros(3), np.array([10.0, 20.0, 30.0]), np.asarray(100.0))
    np.testing.assert_allclose(b, [10.0, 20.0, 30.0])
    # a closed arm (cap 0) gets nothing even with the best rate
    b = water_fill(rate, half, np.zeros(3), np.array([0.0, 500.0, 500.0]), np.asarray(100.0))
    assert b[0] == 0.0
    assert b.sum() == pytest.approx(100.0)
    # arms without any rate keep their floor while another arm has room
    b = water_fill(np.array([0.0, 0.03]), np.full(2, 300.0), np.array([20.0, 20.0]),
                   np.full(2, 500.0), np.asarray(200.0))  # fmt: skip
    np.testing.assert_allclose(b, [20.0, 180.0])
    # all rates zero: the money is shared by room, never lost
    b = water_fill(np.zeros(2), np.full(2, 300.0), np.zeros(2), np.array([100.0, 300.0]),
                   np.asarray(200.0))  # fmt: skip
    np.testing.assert_allclose(b, [50.0, 150.0])


@pytest.mark.parametrize("bad", [0.0, -5.0, math.inf, math.nan])
def test_the_half_saturation_must_be_finite_and_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="half-saturation"):
        water_fill(np.ones(2), np.full(2, bad), np.zeros(2), np.ones(2), np.asarray(1.0))


_rates = st.lists(st.floats(0.0, 0.2, allow_subnormal=False), min_size=1, max_size=8)


@st.composite
def problems(draw: st.DrawFn) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    rate = np.array(draw(_rates))
    k = rate.size
    half = np.array(draw(st.lists(st.floats(1.0, 5000.0), min_size=k, max_size=k)))
    cap = np.array(draw(st.lists(st.sampled_from([0.0, 20.0, 150.0, 1000.0]), min_size=k,
                                 max_size=k)))  # fmt: skip
    floor = np.minimum(
        np.array(draw(st.lists(st.sampled_from([0.0, 20.01, 60.0]), min_size=k, max_size=k))), cap
    )
    return rate, half, floor, cap, draw(st.sampled_from([0.0, 30.0, 500.0, 1000.0, 5000.0]))


@PROPERTY
@given(problems())
def test_budgets_respect_bounds_and_add_up(
    problem: tuple[FloatArray, FloatArray, FloatArray, FloatArray, float],
) -> None:
    rate, half, floor, cap, total = problem
    b = water_fill(rate, half, floor, cap, np.asarray(total))
    assert np.all(b >= 0.0)
    assert np.all(b <= cap * (1 + 1e-12) + 1e-9)
    if floor.sum() <= total:
        assert np.all(b >= floor - 1e-9)
    assert b.sum() == pytest.approx(min(total, cap.sum()), rel=1e-9, abs=1e-9)


@PROPERTY
@given(problems(), st.floats(1e-3, 1e3), st.data())
def test_the_split_ignores_the_rates_scale_and_the_arms_order(
    problem: tuple[FloatArray, FloatArray, FloatArray, FloatArray, float],
    scale: float,
    data: st.DataObject,
) -> None:
    rate, half, floor, cap, total = problem
    b = water_fill(rate, half, floor, cap, np.asarray(total))
    np.testing.assert_allclose(water_fill(rate * scale, half, floor, cap, np.asarray(total)), b,
                               rtol=1e-9, atol=1e-7)  # fmt: skip
    perm = np.array(data.draw(st.permutations(range(rate.size))))
    permuted = water_fill(rate[perm], half[perm], floor[perm], cap[perm], np.asarray(total))
    np.testing.assert_allclose(permuted, b[perm], rtol=1e-9, atol=1e-7)


@PROPERTY
@given(problems(), st.data())
def test_a_better_rate_never_lowers_the_arms_budget(
    problem: tuple[FloatArray, FloatArray, FloatArray, FloatArray, float], data: st.DataObject
) -> None:
    rate, half, floor, cap, total = problem
    arm = data.draw(st.integers(0, rate.size - 1))
    better = rate.copy()
    better[arm] = rate[arm] * data.draw(st.floats(1.0, 10.0)) + data.draw(st.floats(0.0, 0.05))
    before = water_fill(rate, half, floor, cap, np.asarray(total))[arm]
    after = water_fill(better, half, floor, cap, np.asarray(total))[arm]
    assert after >= before - 1e-7 * max(1.0, before)


def test_rate_at_zero_multiplier_is_exact_for_steady_spend() -> None:
    spend = np.array([[[200.0, 200.0, 200.0], [0.0, 0.0, 0.0]]])
    weight = np.array([0.5, 0.8, 1.0])
    m = rate_at_zero_multiplier(spend, weight, 400.0)
    np.testing.assert_allclose(m, [[1.5, 1.0]])  # 1 + s / h; no spend: 1
    np.testing.assert_array_equal(rate_at_zero_multiplier(spend, weight, math.inf), [[1.0, 1.0]])
    with pytest.raises(ValueError, match="half-saturation"):
        rate_at_zero_multiplier(spend, weight, 0.0)


def test_rate_at_zero_multiplier_recovers_the_true_rate_from_simulated_days() -> None:
    rng = np.random.default_rng(3)
    rate, half = 0.05, 600.0
    spend = rng.uniform(50.0, 900.0, (2000, 1, 20))
    conversions = rng.poisson(expected_conversions(np.asarray(rate), half, spend))
    weight = np.ones(20)
    average = conversions.sum(axis=-1) / spend.sum(axis=-1)  # what a linear model measures
    recovered = average * rate_at_zero_multiplier(spend, weight, half)
    assert average.mean() < 0.8 * rate
    assert recovered.mean() == pytest.approx(rate, rel=0.01)


def test_saturating_allocate_averages_the_per_draw_optimum() -> None:
    rng = np.random.default_rng(11)
    draws = rng.gamma(3.0, 0.01, (2, 300, 5))
    floors, caps, total = np.full((2, 5), 20.0), np.full((2, 5), 600.0), np.array([400.0, 2000.0])
    out = saturating_allocate(draws, floors, caps, total, 800.0)
    per_draw = water_fill(draws, 800.0, floors[:, None], caps[:, None], total[:, None])
    np.testing.assert_allclose(out, per_draw.mean(axis=-2), rtol=1e-12)
    np.testing.assert_allclose(out.sum(axis=-1), total, rtol=1e-12)
    # identical draws for every arm and equal curves: an even split
    flat = saturating_allocate(np.full((1, 10, 4), 0.03), 0.0, 1e6, np.array([400.0]), 800.0)
    np.testing.assert_allclose(flat, [[100.0] * 4])


@pytest.mark.parametrize(
    ("draws", "message"),
    [(np.full((4, 3), -0.1), "finite and >= 0"), (np.full((4, 3), np.nan), "finite and >= 0"),
     (np.zeros((0, 3)), "S, K >= 1")],
)  # fmt: skip
def test_saturating_allocate_rejects_bad_draws(draws: FloatArray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        saturating_allocate(draws, 0.0, 100.0, 50.0, 300.0)
