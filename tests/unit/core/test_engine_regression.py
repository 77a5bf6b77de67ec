"""The engine's fast paths against straightforward reference implementations.

Each optimized piece of the engine step (the breakpoint level of the projection, the
blocked Monte Carlo statistics of the decisions, the one-arm-per-draw Thompson fill, the
first-rule stage table, the integer binding codes, the shared argmax, the tied-share
fill without temporaries, the one-count tie check of Thompson choice, the in-place
Beta update) is checked against the plain version
it replaced, written out here, on random inputs that include exact ties and degenerate
bounds: the budgets must agree to the cent and the summaries to rounding.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core import allocation, box_projection, decisions, draw_stats, guardrails
from allocator.core.allocation import thompson_allocate
from allocator.core.families import BetaPosterior, Posterior, thompson_choice
from allocator.core.guardrails import Binding, Infeasibility
from allocator.sim import bernoulli
from allocator.sim.bernoulli import BernoulliBandit, Method, reward_stream


def bisection_level(
    des: FloatArray, lo: FloatArray, hi: FloatArray, total: FloatArray
) -> FloatArray:
    """The projection level by 64 bisection steps, then one exact step on the free arms."""
    left = (des - hi).min(axis=-1)
    right = (des - lo).max(axis=-1)
    for _ in range(64):
        mid = 0.5 * (left + right)
        enough = np.clip(des - mid[:, None], lo, hi).sum(axis=-1) >= total
        left = np.where(enough, mid, left)
        right = np.where(enough, right, mid)
    mid = 0.5 * (left + right)
    raw = des - mid[:, None]
    free = (raw > lo) & (raw < hi)
    n_free = free.sum(axis=-1)
    pinned = np.where(free, 0.0, np.clip(raw, lo, hi)).sum(axis=-1)
    free_des = np.where(free, des, 0.0).sum(axis=-1)
    exact = (free_des - (total - pinned)) / np.maximum(n_free, 1)
    level: FloatArray = np.where(n_free > 0, exact, mid)
    return level


def plain_draw_stats(
    draws: FloatArray, eligible: BoolArray, quantile: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """P(best), expected loss and value remaining in full-size passes over the draws."""
    n_draws = draws.shape[-2]
    eligible = eligible | ~eligible.any(axis=-1, keepdims=True)
    contest = np.where(eligible[..., None, :], draws, -np.inf)
    best = contest.max(axis=-1, keepdims=True)
    gap = best - draws
    is_max = (gap == 0.0) & eligible[..., None, :]
    n_max = np.count_nonzero(is_max, axis=-1)
    wins = (is_max / np.maximum(n_max, 1)[..., None]).sum(axis=-2)
    expected_loss = gap.mean(axis=-2)
    with np.errstate(divide="ignore", over="ignore"):
        relative = np.divide(gap, draws, out=np.zeros_like(gap), where=gap != 0.0)
    kth = min(max(math.ceil(quantile * n_draws) - 1, 0), n_draws - 1)
    value_remaining = np.sort(relative, axis=-2)[..., kth, :]
    return wins / n_draws, expected_loss, value_remaining


def solve(des: FloatArray, lo: FloatArray, hi: FloatArray, total: FloatArray) -> FloatArray:
    enabled = hi > 0.0
    cents, _, _ = box_projection.solve_cents(des, lo, hi, enabled, total)
    return cents


@st.composite
def projection_rows(draw: st.DrawFn) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Desired budgets and whole-cent bounds ``(B, K)``, totals ``(B,)``; ties are common."""
    n_rows = draw(st.integers(1, 4))
    n_arms = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = (n_rows, n_arms)
    lo = rng.choice([0.0, 2001.0, 2500.0], size=shape) + rng.integers(0, 3, shape) * 1000.0
    hi = lo + rng.choice([0.0, 1.0, 1500.0, 9000.0], size=shape)
    if draw(st.booleans()):  # whole-cent wishes, often exactly on a bound
        des = rng.choice(np.concatenate([lo.ravel(), hi.ravel()]), size=shape)
    else:
        des = rng.uniform(0.0, 15000.0, shape)
    hi = np.where(rng.random(shape) < 0.15, 0.0, hi)  # disabled arms
    lo = np.minimum(lo, hi)
    share = draw(st.sampled_from([0.0, 0.5, 1.0, 1.7, None]))
    total = (lo.sum(axis=-1) + hi.sum(axis=-1)) / 2 if share is None else share * hi.sum(axis=-1)
    return des, lo, hi, np.floor(total)


@settings(max_examples=300, deadline=None)
@given(projection_rows())
def test_breakpoint_level_gives_the_bisection_budgets(
    rows: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    des, lo, hi, total = rows
    fast = solve(des, lo, hi, total)
    with mock.patch.object(box_projection, "_level", bisection_level):
        reference = solve(des, lo, hi, total)
    np.testing.assert_array_equal(fast, reference)


@settings(max_examples=200, deadline=None)
@given(projection_rows())
def test_breakpoint_level_spends_the_total_exactly(
    rows: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    des, lo, hi, total = rows
    level = box_projection._level(des, lo, hi, total)
    spent = np.clip(des - level[:, None], lo, hi).sum(axis=-1)
    reachable = (lo.sum(axis=-1) <= total) & (total <= hi.sum(axis=-1))
    scale = np.abs(des).sum(axis=-1) + hi.sum(axis=-1) + 1.0
    assert np.all(np.abs(spent - total)[reachable] <= 1e-9 * scale[reachable])
    reference = bisection_level(des, lo, hi, total)
    raw = des - reference[:, None]
    unique = reachable & ((raw > lo) & (raw < hi)).any(axis=-1)  # f is strictly decreasing
    np.testing.assert_allclose(level[unique], reference[unique], rtol=0, atol=1e-6)


@st.composite
def draw_sets(draw: st.DrawFn) -> tuple[FloatArray, BoolArray]:
    """Reward draws ``(..., S, K)`` with batch axes, ties and ineligible arms."""
    batch = draw(st.sampled_from([(), (3,), (2, 2)]))
    n_draws = draw(st.sampled_from([1, 7, 64, 500]))
    n_arms = draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["gamma", "ties", "zeros"]))
    shape = (*batch, n_draws, n_arms)
    if kind == "gamma":
        values = rng.gamma(rng.uniform(0.5, 30.0, n_arms), 0.01, size=shape)
    elif kind == "ties":
        values = rng.integers(1, 4, size=shape).astype(np.float64)
    else:  # tiny shapes underflow to exact zeros: 0 / 0 must not appear
        values = rng.gamma(0.005, 1.0, size=shape)
    eligible = rng.random((*batch, n_arms)) < draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    return values, eligible


@settings(max_examples=200, deadline=None)
@given(draw_sets(), st.sampled_from([0.5, 0.9, 0.95, 0.999]))
def test_blocked_draw_statistics_match_full_passes(
    data: tuple[FloatArray, BoolArray], quantile: float
) -> None:
    values, eligible = data
    stats = draw_stats.draw_stats(values, eligible, quantile)
    p_best, expected_loss, value_remaining = plain_draw_stats(values, eligible, quantile)
    np.testing.assert_array_equal(stats.p_best, p_best)
    np.testing.assert_allclose(stats.expected_loss, expected_loss, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(stats.value_remaining, value_remaining)


def test_draw_statistics_at_engine_scale_match_full_passes() -> None:
    """1,000 draws of 300 arms, an ineligible arm beating every eligible one, and an arm
    best in 975 draws (its gaps mostly tie at 0: the selection keeps most of its row)."""
    rng = np.random.default_rng(7)
    values = rng.gamma(rng.uniform(2.0, 20.0, 300), 0.02, size=(2, 1000, 300))
    eligible = rng.random((2, 300)) < 0.8
    values[..., 5] = 10.0  # an ineligible arm that beats every eligible one
    eligible[..., 5] = False
    values[1, :975, 7], eligible[1, 7] = 5.0, True
    stats = draw_stats.draw_stats(values, eligible, 0.95)
    p_best, expected_loss, value_remaining = plain_draw_stats(values, eligible, 0.95)
    np.testing.assert_array_equal(stats.p_best, p_best)
    np.testing.assert_allclose(stats.expected_loss, expected_loss, rtol=1e-12)
    np.testing.assert_array_equal(stats.value_remaining, value_remaining)
    assert stats.value_remaining[1, 7] == 0.0


@st.composite
def fills(draw: st.DrawFn) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Draws ``(B, S, K)``, floors and caps ``(B, K)`` and totals ``(B,)``."""
    n_rows = draw(st.integers(1, 3))
    n_draws = draw(st.sampled_from([1, 5, 200]))
    n_arms = draw(st.integers(1, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        values = rng.gamma(3.0, 1.0, (n_rows, n_draws, n_arms))
    else:
        values = rng.integers(0, 3, (n_rows, n_draws, n_arms)).astype(np.float64)
    active = rng.random((n_rows, n_arms)) < draw(st.sampled_from([0.1, 0.5, 1.0]))
    total = rng.uniform(50.0, 500.0, n_rows)
    share = draw(st.sampled_from([1.0, 0.3, 0.05]))
    caps = np.where(active, share * total[:, None], 0.0)
    floors = np.where(active, rng.choice([0.0, 20.01], (n_rows, n_arms)), 0.0)
    return values, floors, caps, total


@settings(max_examples=200, deadline=None)
@given(fills())
def test_one_arm_per_draw_fast_path_equals_the_general_fill(
    data: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    values, floors, caps, total = data
    fast = thompson_allocate(values, floors, caps, total)
    with mock.patch.object(allocation, "_top_arm", return_value=None):
        general = thompson_allocate(values, floors, caps, total)
    np.testing.assert_array_equal(fast, general)


def test_one_arm_per_draw_fast_path_searches_again_where_the_best_arm_has_no_room() -> None:
    rng = np.random.default_rng(3)
    values = rng.gamma(3.0, 1.0, (2, 300, 50))
    active = np.zeros((2, 50), dtype=bool)
    active[0, [3, 17, 40]] = True
    active[1, [0, 49]] = True
    caps = np.where(active, 1000.0, 0.0)
    assert allocation._top_arm(values, caps > 0) is not None
    fast = thompson_allocate(values, np.where(active, 20.01, 0.0), caps, 400.0)
    with mock.patch.object(allocation, "_top_arm", return_value=None):
        general = thompson_allocate(values, np.where(active, 20.01, 0.0), caps, 400.0)
    np.testing.assert_array_equal(fast, general)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(), (5,), (3, 4)]), st.integers(1, 6))
def test_first_rule_is_np_select(seed: int, shape: tuple[int, ...], n_rules: int) -> None:
    rng = np.random.default_rng(seed)
    conditions: list[BoolArray] = [rng.random(shape) < 0.3 for _ in range(n_rules)]
    conditions.append(np.asarray(rng.random() < 0.5))  # a 0-d rule broadcasts
    expected = np.select(
        [np.broadcast_to(c, shape) for c in conditions],
        list(range(len(conditions))),
        len(conditions),
    )
    np.testing.assert_array_equal(decisions._first_rule(conditions, shape), expected)


def test_integer_binding_codes_are_the_enum_values() -> None:
    for member in Binding:
        assert getattr(guardrails, f"_{member.name}") == member.value


def select_binding(
    raw: FloatArray,
    short: BoolArray,
    bounds: guardrails._Bounds,
    enabled: BoolArray,
    frame: guardrails._Frame,
    no_room: BoolArray,
) -> IntArray:
    at_hi = short[:, None] | (raw >= bounds.hi)
    at_lo = raw <= bounds.lo
    in_bounds = np.where(at_hi, bounds.hi_kind, np.where(at_lo, bounds.lo_kind, Binding.FREE))
    binding = np.select(
        [~frame.active, ~frame.eligible, enabled, no_room],
        [Binding.INACTIVE, Binding.MAX_BELOW_MIN, in_bounds, Binding.NO_ROOM],
        Binding.BELOW_MIN,
    )
    return np.asarray(binding, dtype=np.int64)


def select_shortfall_code(binding: IntArray, enabled: BoolArray) -> IntArray:
    step_up = (enabled & np.isin(binding, (Binding.STEP_UP, Binding.PLATFORM_MIN))).any(-1)
    start = (enabled & (binding == Binding.START)).any(axis=-1)
    learning = (enabled & (binding == Binding.LEARNING)).any(axis=-1)
    code = np.select(
        [~enabled.any(axis=-1), step_up, start, learning],
        [
            Infeasibility.SHORTFALL_NO_ARMS,
            Infeasibility.SHORTFALL_STEP_UP,
            Infeasibility.SHORTFALL_START,
            Infeasibility.SHORTFALL_LEARNING,
        ],
        Infeasibility.SHORTFALL_MAX_SHARE,
    )
    return np.asarray(code, dtype=np.int64)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_binding_and_shortfall_codes_equal_the_np_select_versions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (6, 9)
    active = rng.random(shape) < 0.7
    eligible = active & (rng.random(shape) < 0.8)
    enabled = eligible & (rng.random(shape) < 0.7)
    no_room = eligible & ~enabled & (rng.random(shape) < 0.5)
    lo = (rng.integers(0, 3, shape) * 1000.0).astype(np.float64)
    hi = lo + rng.integers(0, 3, shape) * 1000.0
    kinds = rng.integers(5, 11, (2, *shape))
    bounds = guardrails._Bounds(lo, hi, kinds[0], kinds[1])
    frame = guardrails._Frame(
        total=np.full(6, 5000.0),
        cap=np.full(6, 3000.0),
        start=np.full((6, 1), 2001.0),
        pmin=2001.0,
        active=active,
        eligible=eligible,
    )
    raw = rng.choice([0.0, 1000.0, 1500.0, 2000.0, 3000.0], size=shape)
    short = rng.random(6) < 0.3
    binding = guardrails._binding(raw, short, bounds, enabled, frame, no_room)
    np.testing.assert_array_equal(
        binding, select_binding(raw, short, bounds, enabled, frame, no_room)
    )
    np.testing.assert_array_equal(
        guardrails._shortfall_code(binding, enabled), select_shortfall_code(binding, enabled)
    )


def test_fast_path_leaves_a_row_without_room_and_a_tied_row_to_the_general_fill() -> None:
    values = np.array([[[2.0, 1.0]], [[0.0, 0.0]]])  # row 1: both arms tie at 0
    floors = np.array([[0.0, 0.0], [20.01, 0.0]])
    caps = np.array([[0.0, 0.0], [488.67, 488.67]])  # row 0: no arm has room
    total = np.array([63.49, 488.67])
    assert allocation._top_arm(values, caps - floors > 0.0) is None
    out = thompson_allocate(values, floors, caps, total)
    share = 468.66 / (468.66 + 488.67)  # the money left, split in proportion to room
    np.testing.assert_allclose(out[1], [20.01 + 468.66 * share, 488.67 * share])


def test_fill_with_rows_without_room_is_the_general_fill_bit_for_bit() -> None:
    """Rows where no arm has room send the batch to the tied-share arithmetic; the fast
    version (draw-order sums by bincount, as the einsum adds) must give the same bits."""
    rng = np.random.default_rng(11)
    for _ in range(5):
        values = rng.gamma(2.0, 0.01, (40, 1000, 20))
        active = rng.random((40, 20)) < 0.6
        active[rng.random(40) < 0.2] = False  # whole rows without room
        total = rng.uniform(500.0, 3000.0, 40)
        caps = np.where(active, 0.3 * total[:, None], 0.0)
        floors = np.where(active, 20.0, 0.0)
        room = caps - floors
        assert not (room > 0).any(axis=-1).all()
        assert allocation._top_arm(values, room > 0) is not None  # the fast path runs
        fast = thompson_allocate(values, floors, caps, total)
        with mock.patch.object(allocation, "_top_arm", return_value=None):
            general = thompson_allocate(values, floors, caps, total)
        np.testing.assert_array_equal(fast, general)


@settings(max_examples=100, deadline=None)
@given(fills())
def test_shared_argmax_hint_changes_nothing(
    data: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    values, floors, caps, total = data
    top = np.argmax(values, axis=-1)
    kept = top.copy()
    hinted = thompson_allocate(values, floors, caps, total, top_hint=top)
    np.testing.assert_array_equal(hinted, thompson_allocate(values, floors, caps, total))
    eligible = caps > 0.0
    with_hint = draw_stats.draw_stats(values, eligible, 0.95, top)
    plain = draw_stats.draw_stats(values, eligible, 0.95)
    for field in ("p_best", "expected_loss", "value_remaining"):
        np.testing.assert_array_equal(getattr(with_hint, field), getattr(plain, field))
    np.testing.assert_array_equal(top, kept)  # the hint is never modified


def plain_thompson_choice(post: Posterior, rng: np.random.Generator) -> IntArray:
    """The per-row tie check the one-count check replaced."""
    draw = post.sample(rng, 1)[..., 0, :]
    is_max = draw == draw.max(axis=-1, keepdims=True)
    best = np.argmax(draw, axis=-1)
    tied = np.count_nonzero(is_max, axis=-1) > 1
    if np.any(tied):
        noise = np.where(is_max, rng.random(draw.shape), -1.0)
        best = np.where(tied, np.argmax(noise, axis=-1), best)
    return np.asarray(best, dtype=np.int64)


class _Fixed:
    """A posterior whose draw is given (ties, NaN rows)."""

    def __init__(self, draw: FloatArray) -> None:
        self.draw = draw

    def mean(self) -> FloatArray:
        return self.draw

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        return np.repeat(self.draw[..., None, :], n_draws, axis=-2)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(1, 6))
def test_thompson_choice_one_count_tie_check_is_the_per_row_check(
    seed: int, n_arms: int, n_rows: int
) -> None:
    rng = np.random.default_rng(seed)
    post = BetaPosterior(
        rng.uniform(0.2, 5.0, (n_rows, n_arms)), rng.uniform(0.2, 5.0, (n_rows, n_arms))
    )
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(5):
        np.testing.assert_array_equal(thompson_choice(post, a), plain_thompson_choice(post, b))
    draw = rng.integers(0, 3, (n_rows, n_arms)).astype(np.float64)  # ties
    if rng.random() < 0.5:
        draw[rng.integers(n_rows), rng.integers(n_arms)] = np.nan  # a NaN row
    fixed = _Fixed(draw)
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    np.testing.assert_array_equal(
        thompson_choice(fixed, a),
        plain_thompson_choice(fixed, b),
    )
    assert a.random() == b.random()  # same stream consumed


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(), (3,), (2, 4)]), st.booleans())
def test_observe_in_place_is_observe(seed: int, batch: tuple[int, ...], binary: bool) -> None:
    rng = np.random.default_rng(seed)
    n_arms = 5
    post = BetaPosterior(rng.uniform(1, 9, (*batch, n_arms)), rng.uniform(1, 9, (*batch, n_arms)))
    mine = BetaPosterior(post.alpha.copy(), post.beta.copy())
    for _ in range(20):
        arm = rng.integers(0, n_arms, batch)
        reward = rng.random(batch) < 0.4 if binary else rng.random(batch)
        post = post.observe(arm, reward)
        mine.observe_in_place(arm, reward)
    np.testing.assert_array_equal(mine.alpha, post.alpha)
    np.testing.assert_array_equal(mine.beta, post.beta)


def plain_bernoulli_regret(
    bandit: BernoulliBandit, seeds: IntArray, horizon: int, base_seed: int, steps: IntArray
) -> FloatArray:
    """Thompson sampling on the Bernoulli bandit as first written: a new posterior each
    step, float rewards, the regret added step by step and recorded as it passes."""
    rng = np.random.default_rng(np.random.SeedSequence(base_seed, spawn_key=(1, 0)))
    post = BetaPosterior.uniform((seeds.size,), bandit.n_arms)
    streams = [reward_stream(base_seed, int(s)) for s in seeds]
    uniforms = np.stack([g.random(horizon) for g in streams], axis=1)
    regret, cum = np.zeros((seeds.size, steps.size)), np.zeros(seeds.size)
    for t in range(horizon):
        arm = plain_thompson_choice(post, rng)
        post = post.observe(arm, (uniforms[t] < bandit.means[arm]).astype(np.float64))
        cum += bandit.gaps[arm]
        regret[:, steps == t + 1] = cum[:, None]
    return regret


def test_bernoulli_simulation_is_the_plain_step_by_step_loop() -> None:
    """In-place updates and the per-chunk regret accumulation change no number (chunks of
    ``CHUNK`` steps, so the horizon spans several)."""
    bandit, seeds = BernoulliBandit(0.1), np.arange(4, dtype=np.int64)
    horizon = 2 * bernoulli.CHUNK + 37
    steps = bernoulli.checkpoints(horizon)
    fast = bernoulli.simulate_block(Method.THOMPSON, bandit, seeds, horizon, 7, 0, steps)
    np.testing.assert_array_equal(
        fast.regret, plain_bernoulli_regret(bandit, seeds, horizon, 7, steps)
    )


@settings(max_examples=100, deadline=None)
@given(projection_rows())
def test_the_compiled_level_is_its_python_source_bit_for_bit(
    rows: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    """numba compiles the projection's level without fastmath: it rounds as written."""
    args = tuple(np.ascontiguousarray(x) for x in rows)
    compiled = box_projection._level_rows(*args)
    source = box_projection._level_rows.py_func(*args)  # type: ignore[attr-defined]
    assert compiled.tobytes() == source.tobytes()
