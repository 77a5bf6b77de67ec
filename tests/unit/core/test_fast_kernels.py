"""The engine's faster kernels against the plain versions they replaced, bit for bit.

Issue 11 holds the engine step and the simulator within 2x their sampling floors; the
kernels rewritten for it must return exactly the numbers of the code before them (same
seed, same plan). Each plain version is written out here as it was, and the fast one must
match it to the last bit on random inputs with exact ties, zeros, infinities and
degenerate bounds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator._types import BoolArray, FloatArray
from allocator.core import response
from allocator.core.draw_stats import order_statistic
from allocator.core.response import saturating_allocate, water_fill
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


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 3),
    draws=st.integers(1, 9),
    arms=st.integers(1, 40),
    kind=st.integers(0, 5),
    shared_half=st.booleans(),
)
def test_water_fill_is_the_plain_breakpoint_pass_bit_for_bit(
    seed: int, rows: int, draws: int, arms: int, kind: int, shared_half: bool
) -> None:
    rng = np.random.default_rng(seed)
    rate = _rates(rng, (rows, draws, arms), kind)
    floor = np.where(rng.random((rows, 1, arms)) < 0.5, rng.uniform(0, 50, (rows, 1, arms)), 0.0)
    cap = np.where(rng.random((rows, 1, arms)) < 0.8, rng.uniform(0, 400, (rows, 1, arms)), 0.0)
    if seed % 3 == 0:
        cap = np.where(rng.random((rows, 1, arms)) < 0.5, floor, cap)  # no room
    total = rng.uniform(0, 300 * arms, (rows, 1)) if seed % 5 else np.zeros((rows, 1))
    shape = () if shared_half else (rows, 1, arms)
    half = np.asarray(rng.uniform(50, 2000, shape))
    fast = water_fill(rate, half, floor, cap, total)
    assert _bits(fast) == _bits(plain_water_fill(rate, half, floor, cap, total))


@pytest.mark.parametrize("seed", range(12))
def test_water_fill_with_rates_smaller_than_the_bounds_is_the_plain_pass(seed: int) -> None:
    """The oracle's call: one rate row for many candidate bound sets, per-arm ``h``."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 1.0, (2, 15)) * (rng.random((2, 15)) < 0.8)
    half = rng.uniform(50, 2000, 15)
    funded = rng.random((4, 2, 15)) < 0.6
    floor, cap = np.where(funded, 20.0, 0.0), np.where(funded, rng.uniform(50, 900), 0.0)
    total = np.full((4, 2), rng.uniform(0, 3000))
    fast = water_fill(rate, half, floor, cap, total)
    assert fast.shape == (4, 2, 15)
    assert _bits(fast) == _bits(plain_water_fill(rate, half, floor, cap, total))
    scalar = water_fill(rate, np.asarray(300.0), np.asarray(10.0), np.asarray(400.0), total[0])
    plain = plain_water_fill(rate, np.asarray(300.0), np.asarray(10.0), np.asarray(400.0), total[0])
    assert _bits(scalar) == _bits(plain)


def test_saturating_allocate_at_engine_scale_is_the_plain_mean() -> None:
    rng = np.random.default_rng(7)
    draws = rng.gamma(20.0, 1 / 500, (2, 64, 1500))
    floors, caps = np.full((2, 1500), 5.0), np.full((2, 1500), 0.3 * 50 * 1500)
    total = np.full(2, 50.0 * 1500)
    fast = saturating_allocate(draws, floors, caps, total, 1000.0)
    half = np.asarray(1000.0)
    plain = plain_water_fill(draws, half, floors[:, None], caps[:, None], total[:, None])
    assert _bits(fast) == _bits(plain.mean(axis=-2))
    assert np.allclose(fast.sum(axis=-1), total)


@st.composite
def order_rows(draw: st.DrawFn) -> tuple[FloatArray, int]:
    """Rows of draws-like values with ties, zeros, infinities and NaN; a kth near the top."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.sampled_from([1, 7, 255, 256, 300, 400, 1000, 1337]))
    n_rows = draw(st.integers(1, 6))
    rng = np.random.default_rng(seed)
    rows = rng.gamma(2.0, 1.0, (n_rows, n))
    kind = draw(st.integers(0, 6))
    if kind == 1:
        rows = np.round(rows, 1)  # many ties
    elif kind == 2:
        rows[rng.random(rows.shape) < 0.5] = 0.0
    elif kind == 3:
        rows[rng.random(rows.shape) < 0.2] = np.inf
    elif kind == 4:
        rows[rng.random(rows.shape) < 0.9] = -np.inf
    elif kind == 5:
        rows[rng.random(rows.shape) < 0.01] = np.nan
    elif kind == 6:
        rows[:] = 3.0  # one value everywhere
    quantile = draw(st.sampled_from([0.0, 0.05, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]))
    kth = min(max(math.ceil(quantile * n) - 1, 0), n - 1)
    return rows, kth


@settings(max_examples=300, deadline=None)
@given(case=order_rows())
def test_order_statistic_is_the_partition_value(case: tuple[FloatArray, int]) -> None:
    rows, kth = case
    expected = np.partition(rows, kth, axis=-1)[:, kth]
    got = order_statistic(rows.copy(), kth)
    assert got.shape == (rows.shape[0],)
    assert _bits(got) == _bits(expected)


def test_order_statistic_preselects_a_few_percent_of_each_row() -> None:
    """The 0.95 quantile of 1000 draws keeps the answer among the values above tau."""
    rng = np.random.default_rng(3)
    rows = rng.gamma(20.0, 1.0, (50, 1000))
    assert _bits(order_statistic(rows.copy(), 949)) == _bits(np.sort(rows, axis=-1)[:, 949])
    # an adversarial row: the top 51 values sit in one group stride, the rest tie below
    rows = np.zeros((1, 1000))
    rows[0, ::19][:51] = np.arange(51) + 1.0
    assert order_statistic(rows.copy(), 949)[0] == np.sort(rows[0])[949] == 1.0
    # an arm best in 975 of 1000 draws: its gaps are mostly 0, most of the row ties at tau
    rows = rng.gamma(2.0, 1.0, (5, 1000))
    rows[1:3, :975] = 0.0
    assert _bits(order_statistic(rows.copy(), 949)) == _bits(np.sort(rows, axis=-1)[:, 949])


@pytest.mark.parametrize("seed", range(40))
def test_water_fill_past_the_sorting_network_is_the_plain_pass(seed: int) -> None:
    """More than 128 arms: only the breakpoints up to the crossing are sorted."""
    rng = np.random.default_rng(1000 + seed)
    rows, draws, arms = (
        int(rng.integers(1, 3)),
        int(rng.integers(1, 6)),
        int(rng.integers(129, 900)),
    )
    rate = _rates(rng, (rows, draws, arms), seed % 6)
    floor = np.where(rng.random((rows, 1, arms)) < 0.5, rng.uniform(0, 50, (rows, 1, arms)), 0.0)
    cap_scale = (5.0, 50.0, 400.0)[seed % 3]  # caps that bind, or not
    cap = np.where(
        rng.random((rows, 1, arms)) < 0.8, rng.uniform(0, cap_scale, (rows, 1, arms)), 0.0
    )
    total = rng.uniform(0, 60 * arms, (rows, 1))
    half = np.asarray(rng.uniform(50, 2000, () if seed % 2 else (rows, 1, arms)))
    fast = water_fill(rate, half, floor, cap, total)
    assert _bits(fast) == _bits(plain_water_fill(rate, half, floor, cap, total))


def _sorted_widths(
    monkeypatch: pytest.MonkeyPatch,
    draws: FloatArray,
    floors: FloatArray,
    caps: FloatArray,
    total: FloatArray,
) -> tuple[list[int], FloatArray]:
    """The engine's saturating split at h = 1,000, and the widths of every sort it ran."""
    widths: list[int] = []
    real = response._sort

    def spy(times: FloatArray, change: FloatArray, tol: FloatArray) -> Any:
        widths.append(times.shape[1])
        return real(times, change, tol)

    monkeypatch.setattr(response, "_sort", spy)
    return widths, saturating_allocate(draws, floors, caps, total, 1000.0)


def test_water_fill_sorts_only_the_prefix_at_engine_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's split of 1,500 arms sorts about half of the 3,000 breakpoints."""
    rng = np.random.default_rng(11)
    draws = rng.gamma(20.0, 1 / 500, (1, 64, 1500))
    floors, caps, total = np.full((1, 1500), 5.0), np.full((1, 1500), 22500.0), np.full(1, 75000.0)
    widths, _ = _sorted_widths(monkeypatch, draws, floors, caps, total)
    assert len(widths) == 1  # no fallback to the full sort
    assert widths[0] < 0.6 * 3000


@pytest.mark.parametrize("seed", range(40))
def test_water_fill_packed_within_the_network_is_the_plain_pass(seed: int) -> None:
    """65-128 arms over many draws: a short prefix is packed into a half-length network."""
    rng = np.random.default_rng(2000 + seed)
    draws, arms = int(rng.integers(16, 80)), int(rng.integers(65, 129))
    rate = _rates(rng, (1, draws, arms), seed % 6)
    floor = np.where(rng.random((1, 1, arms)) < 0.5, rng.uniform(0, 50, (1, 1, arms)), 0.0)
    cap_scale = (5.0, 50.0, 400.0, 2000.0)[seed % 4]  # caps that bind, or not
    cap = np.where(rng.random((1, 1, arms)) < 0.8, rng.uniform(0, cap_scale, (1, 1, arms)), 0.0)
    total = rng.uniform(0, 60 * arms, (1, 1))
    half = np.asarray(rng.uniform(50, 2000, () if seed % 2 else (1, 1, arms)))
    fast = water_fill(rate, half, floor, cap, total)
    assert _bits(fast) == _bits(plain_water_fill(rate, half, floor, cap, total))


def test_water_fill_packs_the_prefix_at_the_engine_s_hundred_arms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine's split of 100 arms over 64 draws sorts at most 128 of the 200 breakpoints."""
    rng = np.random.default_rng(12)
    draws = rng.gamma(20.0, 1 / 500, (1, 64, 100))
    floors, caps, total = np.full((1, 100), 5.0), np.full((1, 100), 1250.0), np.full(1, 5000.0)
    widths, fast = _sorted_widths(monkeypatch, draws, floors, caps, total)
    assert len(widths) == 1  # no fallback to the full sort
    assert widths[0] <= 128  # packed into the half-length network
    plain = plain_water_fill(draws, np.asarray(1000.0), floors[:, None], caps[:, None], total)
    assert _bits(fast) == _bits(plain.mean(axis=-2))


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
