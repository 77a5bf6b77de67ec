"""The engine's faster kernels against the plain versions they replaced.

Issue 11 holds the engine step and the simulator within 2x their sampling floors; the
kernels rewritten for it must return the numbers of the code before them (same seed, same
plan). Each plain version is written out here as it was. Where the fast one does the same
arithmetic in another layout (order statistic, reserve search) it must match to the last
bit; the compiled water-filling (:mod:`allocator._jit`) brackets the crossing by selection
instead of a sort and sums in another order, so it must match to 1e-6 currency (a
ten-thousandth of a cent) and its compiled code must match its own Python source bit for
bit. Inputs carry exact ties, zeros, infinities and degenerate bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator._types import BoolArray, FloatArray
from allocator.core import draw_stats as draw_stats_module
from allocator.core import response
from allocator.core.response import expected_conversions, saturating_allocate, water_fill
from allocator.core.spend import fill_reserve


def plain_water_fill(
    rate: FloatArray, half: FloatArray, floor: FloatArray, cap: FloatArray, total: FloatArray
) -> FloatArray:
    """Water-filling over all ``2K`` sorted breakpoints in full-size passes."""
    rate, half, floor, cap = np.broadcast_arrays(
        np.maximum(np.asarray(rate, dtype=np.float64), 0.0),
        np.asarray(half, dtype=np.float64),
        np.asarray(floor, dtype=np.float64),
        np.asarray(cap, dtype=np.float64),
    )
    total_k = np.asarray(total, dtype=np.float64)[..., None]
    floor = np.minimum(floor, cap)
    floor_sum = floor.sum(axis=-1, keepdims=True)
    over = floor_sum > total_k
    floor = floor * np.where(over, total_k / np.where(over, floor_sum, 1.0), 1.0)
    top = rate.max(axis=-1, keepdims=True)
    rel = rate / np.where(top > 0.0, top, 1.0)
    rel = np.where(rate > 0.0, np.maximum(rel, 1e-9), 0.0)
    slope = half * np.sqrt(rel)
    moving = (slope > 0.0) & (cap > floor)
    safe = np.where(moving, slope, 1.0)
    t_floor = np.where(moving, (floor + half) / safe, np.inf)
    t_cap = np.where(moving, (cap + half) / safe, np.inf)
    times = np.concatenate([t_floor, t_cap], axis=-1)
    order = np.argsort(times, axis=-1)
    times = np.take_along_axis(times, order, axis=-1)
    moved = np.where(moving, slope, 0.0)
    change = np.take_along_axis(np.concatenate([moved, -moved], axis=-1), order, axis=-1)
    rising = np.cumsum(change, axis=-1)
    tol = 1e-12 * moved.sum(axis=-1, keepdims=True)
    rising = np.where(rising > tol, rising, 0.0)
    finite = np.isfinite(times)
    gaps = np.where(finite[..., 1:], np.diff(np.where(finite, times, 0.0), axis=-1), 0.0)
    at_break = floor_sum + np.concatenate(
        [np.zeros_like(floor_sum), np.cumsum(rising[..., :-1] * gaps, axis=-1)], axis=-1
    )
    before = ((at_break < total_k) & finite).sum(axis=-1, keepdims=True)
    last = np.maximum(before - 1, 0)
    t_last = np.take_along_axis(np.where(finite, times, 0.0), last, axis=-1)
    s_last = np.take_along_axis(at_break, last, axis=-1)
    k_last = np.take_along_axis(rising, last, axis=-1)
    step = np.where(k_last > 0.0, (total_k - s_last) / np.where(k_last > 0.0, k_last, 1.0), 0.0)
    t_star = t_last + np.maximum(step, 0.0)
    b = np.where(cap > 0.0, np.clip(slope * t_star - half, floor, cap), 0.0)
    gap = total_k - b.sum(axis=-1, keepdims=True)
    room = np.where(gap > 0.0, cap - b, b - floor)
    room_sum = room.sum(axis=-1, keepdims=True)
    fill = np.where(room_sum > 0.0, gap / np.where(room_sum > 0.0, room_sum, 1.0), 0.0)
    b = b + np.clip(fill, -1.0, 1.0) * room
    saturated = cap.sum(axis=-1, keepdims=True) <= total_k
    out: FloatArray = np.where(saturated, cap, np.where(over, floor, b))
    return out


def _bits(a: FloatArray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float64).tobytes()


def _rates(rng: np.random.Generator, shape: tuple[int, ...], kind: int) -> FloatArray:
    """Rates with the hard cases: zeros, exact ties, rates far below the best, all zero."""
    rate = rng.gamma(2.0, 1.0, shape)
    if kind == 1:
        rate[rng.random(shape) < 0.3] = 0.0
    elif kind == 2:
        rate[:] = rate[..., :1]  # every arm tied in each row
    elif kind == 3:
        rate *= np.where(rng.random(shape) < 0.3, 1e-12, 1.0)
    elif kind == 4:
        rate[:] = 0.0
    elif kind == 5:
        rate = np.round(rate, 1)  # ties between some arms
    return rate


_CURRENCY_ATOL = 1e-6
"""Largest difference from the plain pass, currency per day (a ten-thousandth of a cent)."""


def _water_fill_case(
    rng: np.random.Generator, shape: tuple[int, int, int], kind: int, cap_scale: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Rates, half-saturation, floors, caps and totals, bounds shared by a row's draws."""
    rows, _, arms = shape
    rate = _rates(rng, shape, kind)
    floor = np.where(rng.random((rows, 1, arms)) < 0.5, rng.uniform(0, 50, (rows, 1, arms)), 0.0)
    cap = np.where(
        rng.random((rows, 1, arms)) < 0.8, rng.uniform(0, cap_scale, (rows, 1, arms)), 0.0
    )
    if kind % 2:
        cap = np.where(rng.random((rows, 1, arms)) < 0.3, floor, cap)  # no room
    total = rng.uniform(0, 0.3 * cap_scale * arms, (rows, 1)) if kind != 5 else np.zeros((rows, 1))
    half = np.asarray(rng.uniform(50, 2000, () if rng.random() < 0.5 else (rows, 1, arms)))
    return rate, half, floor, cap, total


def _assert_plain(rate: FloatArray, *bounds: FloatArray) -> FloatArray:
    """The compiled split is the plain pass's to 1e-6 currency, or earns at least as much.

    Where rates ~1e-12 of the row's best share money with large totals, the plain pass's
    running sums lose a few 1e-6 in rounding (its slopes below 1e-12 of their sum count as
    0); there the compiled split must be at least as good by the objective itself.
    """
    fast = water_fill(rate, *bounds)
    plain = plain_water_fill(rate, *bounds)
    assert fast.shape == plain.shape
    far = np.abs(fast - plain).max(axis=-1, initial=0.0) > _CURRENCY_ATOL
    np.testing.assert_allclose(fast[~far], plain[~far], rtol=0.0, atol=_CURRENCY_ATOL)
    rates, half = np.broadcast_to(rate, fast.shape), np.broadcast_to(bounds[0], fast.shape)
    earned = expected_conversions(rates, half, fast).sum(axis=-1)
    plain_earned = expected_conversions(rates, half, plain).sum(axis=-1)
    assert np.all(earned[far] >= plain_earned[far] * (1.0 - 1e-12))
    return fast


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 3),
    draws=st.integers(1, 9),
    arms=st.sampled_from([1, 2, 3, 7, 40, 100, 129, 400]),
    kind=st.integers(0, 5),
    cap_scale=st.sampled_from([5.0, 50.0, 400.0, 2000.0]),
)
def test_water_fill_is_the_plain_breakpoint_pass(
    seed: int, rows: int, draws: int, arms: int, kind: int, cap_scale: float
) -> None:
    rng = np.random.default_rng(seed)
    _assert_plain(*_water_fill_case(rng, (rows, draws, arms), kind, cap_scale))


@pytest.mark.parametrize("seed", range(12))
def test_water_fill_with_rates_smaller_than_the_bounds_is_the_plain_pass(seed: int) -> None:
    """The oracle's call: one rate row for many candidate bound sets, per-arm ``h``."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 1.0, (2, 15)) * (rng.random((2, 15)) < 0.8)
    half = rng.uniform(50, 2000, 15)
    funded = rng.random((4, 2, 15)) < 0.6
    floor, cap = np.where(funded, 20.0, 0.0), np.where(funded, rng.uniform(50, 900), 0.0)
    total = np.full((4, 2), rng.uniform(0, 3000))
    assert _assert_plain(rate, half, floor, cap, total).shape == (4, 2, 15)
    bounds = (np.asarray(300.0), np.asarray(10.0), np.asarray(400.0), total[0])
    _assert_plain(rate, *bounds)


def test_water_fill_with_breakpoints_in_order_is_the_plain_pass() -> None:
    """Rates sorted along the row: the bracketing's pivots fall at one end every round."""
    rate = np.geomspace(1e-3, 1.0, 300)[None, :]
    for total in (0.0, 10.0, 5_000.0, 60_000.0, 119_999.0, 10**6):
        bounds = (np.asarray(500.0), np.full(300, 5.0), np.full(300, 400.0), np.asarray(total))
        _assert_plain(rate, *bounds)
        _assert_plain(rate[:, ::-1].copy(), *bounds)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.integers(0, 5), arms=st.integers(1, 30))
def test_the_compiled_fill_is_its_python_source_bit_for_bit(
    seed: int, kind: int, arms: int
) -> None:
    """numba compiles the kernel without fastmath: every operation rounds as written."""
    rng = np.random.default_rng(seed)
    rate, half, floor, cap, total = _water_fill_case(rng, (2, 3, arms), kind, 400.0)
    args = (
        rate.reshape(-1, arms),
        np.repeat(np.arange(2), 3),
        np.ascontiguousarray(np.broadcast_to(half, (2, 1, arms))).reshape(2, arms),
        floor.reshape(2, arms),
        cap.reshape(2, arms),
        total.reshape(2),
    )
    compiled = response._fill_rows(*args)
    source = response._fill_rows.py_func(*args)  # type: ignore[attr-defined]
    assert _bits(compiled) == _bits(source)


def test_saturating_allocate_at_engine_scale_is_the_plain_mean() -> None:
    rng = np.random.default_rng(7)
    draws = rng.gamma(20.0, 1 / 500, (2, 64, 1500))
    floors, caps = np.full((2, 1500), 5.0), np.full((2, 1500), 0.3 * 50 * 1500)
    total = np.full(2, 50.0 * 1500)
    fast = saturating_allocate(draws, floors, caps, total, 1000.0)
    half = np.asarray(1000.0)
    plain = plain_water_fill(draws, half, floors[:, None], caps[:, None], total[:, None])
    np.testing.assert_allclose(fast, plain.mean(axis=-2), rtol=0.0, atol=_CURRENCY_ATOL)
    np.testing.assert_allclose(fast.sum(axis=-1), total, rtol=1e-12)


@st.composite
def draw_cases(draw: st.DrawFn) -> tuple[FloatArray, BoolArray, float]:
    """Reward draws with ties, zeros, infinities and NaN; eligible arms; a quantile."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_draws = draw(st.sampled_from([1, 7, 100, 255, 256, 1000, 1337]))
    shape = (draw(st.integers(1, 3)), n_draws, draw(st.integers(1, 40)))
    draws = rng.gamma(2.0, 1.0, shape)
    kind = draw(st.integers(0, 6))
    if kind == 1:
        draws = np.round(draws, 1)  # many ties
    elif kind == 2:
        draws[rng.random(shape) < 0.5] = 0.0
    elif kind == 3:
        draws[rng.random(shape) < 0.05] = np.inf
    elif kind == 4:
        draws[..., 0] = 2.0 * draws.max(axis=-1)  # one arm best in every draw: ties at 0
        draws[..., : n_draws // 40, 0] = 0.0
    elif kind == 5:
        draws[rng.random(shape) < 0.01] = np.nan
    elif kind == 6:
        draws[:] = 3.0  # one value everywhere
    eligible = rng.random((shape[0], shape[2])) < 0.8
    quantile = draw(st.sampled_from([0.01, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]))
    return draws, eligible, quantile


@settings(max_examples=60, deadline=None)
@given(case=draw_cases())
def test_the_compiled_gap_pass_is_its_python_source_bit_for_bit(
    case: tuple[FloatArray, BoolArray, float],
) -> None:
    draws, _, quantile = case
    n_draws = draws.shape[1]
    best = draws.max(axis=-1)
    n_top = n_draws - min(max(math.ceil(quantile * n_draws) - 1, 0), n_draws - 1)
    skip_zero = not bool((best > 0.0).all())  # as draw_stats chooses
    compiled = draw_stats_module._gap_rows(draws, best, n_top, skip_zero)
    with np.errstate(all="ignore"):
        source = draw_stats_module._gap_rows.py_func(draws, best, n_top, skip_zero)  # type: ignore[attr-defined]
    for got, expected in zip(compiled[:2], source[:2], strict=True):
        np.testing.assert_array_equal(got, expected)  # NaN where NaN, whatever its sign bit
    assert compiled[2] == source[2]


def plain_fill_reserve(
    active: BoolArray, reserve: BoolArray, rank: FloatArray, capacity: FloatArray, total: FloatArray
) -> BoolArray:
    """The reserve's prefix search over every row, as it was before the covered-rows exit."""
    reserve = reserve & ~active
    gap = total - np.where(active, capacity, 0.0).sum(axis=-1)
    key = np.where(reserve, -rank, np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    cap_sorted = np.take_along_axis(np.where(reserve, capacity, 0.0), order, axis=-1)
    before = np.cumsum(cap_sorted, axis=-1) - cap_sorted
    chosen = np.zeros_like(reserve)
    np.put_along_axis(chosen, order, before < gap[..., None], axis=-1)
    chosen &= reserve
    last = np.where(chosen, rank, np.inf).min(axis=-1, keepdims=True)
    out: BoolArray = reserve & (rank >= last)
    return out


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 4),
    arms=st.integers(1, 30),
    covered=st.booleans(),
    infinite_rank=st.booleans(),
)
def test_fill_reserve_is_the_plain_prefix_search(
    seed: int, rows: int, arms: int, covered: bool, infinite_rank: bool
) -> None:
    """Rows the running arms already cover (the early exit) and rows they do not."""
    rng = np.random.default_rng(seed)
    active = rng.random((rows, arms)) < 0.5
    reserve = rng.random((rows, arms)) < 0.5
    rank = np.round(rng.gamma(2.0, 1.0, (rows, arms)), 1)  # ties
    if infinite_rank:
        rank[rng.random((rows, arms)) < 0.2] = np.inf
    capacity = rng.uniform(0.0, 100.0, (rows, arms))
    running = np.where(active, capacity, 0.0).sum(axis=-1)
    total = running * rng.uniform(0.2, 1.0, rows) if covered else rng.uniform(0, 100 * arms, rows)
    fast = fill_reserve(active, reserve, rank, capacity, total)
    assert np.array_equal(fast, plain_fill_reserve(active, reserve, rank, capacity, total))
