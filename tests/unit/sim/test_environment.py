from __future__ import annotations

import numpy as np
import pytest

from allocator.core.arms import Stage
from allocator.errors import ConfigError
from allocator.sim.environment import Environment
from allocator.sim.replication import replication_blocks
from allocator.sim.scenario import Scenario
from allocator.sim.truth import DayReport

R, K = 50, 6


def small(**kw: object) -> Scenario:
    base: dict[str, object] = {"n_arms": K, "n_creators": 3, "daily_budget": 600.0}
    base.update(kw)
    return Scenario(**base)  # type: ignore[arg-type]


def even(env: Environment, per_arm: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    shape = (env.n_runs, env.n_arms)
    return np.full(shape, per_arm), np.ones(shape, dtype=bool)


def run(env: Environment, days: int, per_arm: float = 100.0) -> list[DayReport]:
    b, e = even(env, per_arm)
    return [env.advance_day(b, e) for _ in range(days)]


# ------------------------------------------------------------------- scenario
@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"n_arms": 0}, "n_arms"),
        ({"n_creators": 0}, "n_creators"),
        ({"daily_budget": 10.0}, "daily_budget"),
        ({"cpm": -1.0}, "cpm"),
        ({"lag_pmf": (0.5, 0.4)}, "lag_pmf"),
        ({"weekday_multipliers": (1.0,) * 6}, "weekday_multipliers"),
        ({"auth_duration_probs": (0.5, 0.5, 0.0, 0.1)}, "auth_duration_probs"),
        ({"is_spark": (True,)}, "is_spark"),
        ({"cpa_dark": 0.5}, "cpa_dark"),
        ({"fatigue_floor": 1.5}, "fatigue_floor"),
        ({"ctr": float("nan")}, "ctr"),
    ],
    ids=lambda v: str(v),
)
def test_invalid_scenarios_name_the_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        small(**kwargs)
    assert info.value.key == key


def test_default_scenario_cpa_sits_in_the_quoted_benchmark_range() -> None:
    s = Scenario()
    assert s.cvr == pytest.approx(s.cpm / (1000 * s.ctr * s.cpa_dark))
    env = Environment.reset(s, 400, np.random.default_rng(0))
    reports = run(env, 14, per_arm=s.daily_budget / s.n_arms)
    spend = sum(r.spend.sum() for r in reports)
    conv = sum(r.conversions.sum() for r in reports)
    assert 18.0 <= spend / conv <= 28.0
    impressions = sum(r.impressions.sum() for r in reports)
    assert 6.0 <= 1000 * spend / impressions <= 12.0  # CPM benchmark range


# --------------------------------------------------------------------- basics
def test_reset_draws_worlds_of_the_right_shape_and_layout() -> None:
    env = Environment.reset(small(), R, np.random.default_rng(1))
    w = env.world
    assert w.cpm.shape == (R, K)
    assert w.is_spark[0].tolist() == [False, True] * 3  # spark_share 0.5 alternates
    assert w.creator[0].tolist() == [0, 0, 1, 1, 2, 2]
    assert np.all(np.isinf(w.expiry[~w.is_spark]))
    assert np.all(np.isfinite(w.expiry[w.is_spark]))
    assert env.day == 0


def test_no_conversions_impressions_or_spend_without_budget() -> None:
    env = Environment.reset(small(), R, np.random.default_rng(2))
    b, e = even(env)
    b[:, 0] = 0.0
    e[:, 1] = False
    for _ in range(10):
        r = env.advance_day(b, e)
        for field in (r.spend, r.impressions, r.clicks, r.conversions, r.value):
            assert np.all(field[:, :2] == 0)
        assert np.all(r.conversions <= r.clicks)
        assert np.all(r.clicks <= r.impressions)


def test_spend_never_exceeds_the_budget_and_underdelivers_a_little() -> None:
    env = Environment.reset(small(revocation_rate_per_day=0.0), R, np.random.default_rng(3))
    reports = run(env, 5)
    for r in reports:
        assert np.all(r.spend <= r.budget + 1e-9)
    share = sum(r.spend.sum() for r in reports) / sum(r.budget.sum() for r in reports)
    assert 0.9 < share < 1.0


def test_reported_view_is_lagged_and_conserves_total_conversions() -> None:
    s = small()
    env = Environment.reset(s, R, np.random.default_rng(4))
    reports = run(env, 10)
    _, hist = env.observe()
    true = np.stack([r.conversions for r in reports], axis=-1)
    assert np.all(hist.conversions <= true + 1e-9)
    assert hist.age_days.tolist() == list(range(10, 0, -1))
    # yesterday is incomplete on aggregate; days past the window are complete
    assert hist.conversions[..., -1].sum() < true[..., -1].sum()
    window = s.attribution_window_days
    assert np.array_equal(hist.conversions[..., : 10 - window + 1], true[..., : 10 - window + 1])
    # run out the window with no budget: every conversion is eventually reported
    b, e = even(env, 0.0)
    for _ in range(window):
        env.advance_day(b, e)
    _, hist = env.observe()
    assert np.array_equal(hist.conversions[..., :10], true)
    value = np.stack([r.value for r in reports], axis=-1)
    np.testing.assert_allclose(hist.value[..., :10], value)


def test_yesterday_reports_about_the_first_lag_share() -> None:
    s = small(lag_pmf=(0.5, 0.3, 0.2))
    env = Environment.reset(s, 400, np.random.default_rng(5))
    r = run(env, 1, per_arm=300.0)[0]
    _, hist = env.observe()
    assert hist.conversions[..., -1].sum() / r.conversions.sum() == pytest.approx(0.5, abs=0.03)


def test_fatigue_never_increases_and_lowers_the_rate() -> None:
    s = small(fatigue_half_impressions=50_000.0, revocation_rate_per_day=0.0)
    env = Environment.reset(s, R, np.random.default_rng(6))
    b, e = even(env, 300.0)
    previous = env.truth().fatigue
    assert np.all(previous == 1.0)
    for _ in range(15):
        env.advance_day(b, e)
        now = env.truth().fatigue
        assert np.all(now <= previous)
        assert np.all(now >= s.fatigue_floor)
        previous = now
    assert previous.max() < 0.6


def test_fatigue_floor_one_disables_fatigue() -> None:
    env = Environment.reset(small(fatigue_floor=1.0), R, np.random.default_rng(6))
    run(env, 5, per_arm=500.0)
    assert np.all(env.truth().fatigue == 1.0)


def test_expired_authorization_stops_delivery_and_strands_the_budget() -> None:
    s = small(auth_duration_days=(3,), auth_duration_probs=(1.0,), revocation_rate_per_day=0.0)
    env = Environment.reset(s, R, np.random.default_rng(7))
    reports = run(env, 6)
    spark = env.world.is_spark
    for r in reports[:3]:
        assert np.all(r.spend[spark] > 0)
        assert np.all(r.stranded == 0)
    for r in reports[3:]:
        assert np.all(r.spend[spark] == 0)
        assert np.all(r.impressions[spark] == 0)
        np.testing.assert_allclose(r.stranded[spark], 100.0)
        assert np.all(r.stranded[~spark] == 0)
        assert np.all(r.spend[~spark] > 0)
    arms, _ = env.observe()
    assert np.all(arms.auth_days_left[spark] <= 0)
    assert np.all(np.isinf(arms.auth_days_left[~spark]))


def test_revocation_mid_day_delivers_part_of_the_day_then_nothing() -> None:
    s = small(n_arms=2, n_creators=1, daily_budget=200.0, revocation_rate_per_day=0.0)
    env = Environment.reset(s, 1, np.random.default_rng(8))
    env.revoke(arm=1, at=2.25)
    reports = run(env, 4)
    assert reports[1].stranded[0, 1] == 0
    assert reports[2].stranded[0, 1] == pytest.approx(75.0)
    assert 0 < reports[2].spend[0, 1] <= 25.0
    assert reports[3].spend[0, 1] == 0
    assert reports[3].stranded[0, 1] == 100.0
    arms, _ = env.observe()
    assert arms.auth_days_left[0, 1] == pytest.approx(2.25 - 4)


def test_sandbox_hooks_expire_renew_and_refuse_dark_posts() -> None:
    s = small(n_arms=2, n_creators=1, daily_budget=200.0, auth_duration_days=(365,),
              auth_duration_probs=(1.0,), revocation_rate_per_day=0.0)  # fmt: skip
    env = Environment.reset(s, 1, np.random.default_rng(9))
    run(env, 1)
    env.expire(arm=1)
    assert env.observe()[0].auth_days_left[0, 1] <= 0
    assert run(env, 1)[0].spend[0, 1] == 0
    env.renew(arm=1, days=30)
    assert env.observe()[0].auth_days_left[0, 1] == 30
    assert run(env, 1)[0].spend[0, 1] > 0
    with pytest.raises(ValueError, match="dark post"):
        env.revoke(arm=0)


def test_new_creatives_are_not_available_before_their_launch_day() -> None:
    s = small(launch_day=(0, 0, 0, 2, 4, 4), revocation_rate_per_day=0.0)
    env = Environment.reset(s, R, np.random.default_rng(10))
    arms, _ = env.observe()
    assert arms.days_since_launch[0].tolist() == [0, 0, 0, -2, -4, -4]
    assert not arms.enabled.any()
    reports = run(env, 6)
    for day, r in enumerate(reports):
        live = np.array([0, 0, 0, 2, 4, 4]) <= day
        assert np.all(r.spend[:, ~live] == 0)
        assert np.all(r.spend[:, live] > 0)
    _, hist = env.observe()
    assert hist.observed[0, 3].tolist() == [False, False, True, True, True, True]


def test_random_arrivals_follow_the_pipeline() -> None:
    s = small(n_initial_arms=2, arrival_interval_days=3.0)
    env = Environment.reset(s, 400, np.random.default_rng(11))
    launch = env.world.launch_day
    assert np.all(launch[:, :2] == 0)
    assert np.all(launch[:, 2:] >= 1)
    assert np.all(np.diff(launch[:, 2:], axis=1) >= 1)
    assert np.diff(launch[:, 2:], axis=1).mean() == pytest.approx(3.5, abs=0.3)


def test_expected_conversions_match_realized_on_average() -> None:
    env = Environment.reset(small(), 2000, np.random.default_rng(12))
    b = np.random.default_rng(0).uniform(20, 400, size=(2000, K))
    r = env.advance_day(b, np.ones_like(b, dtype=bool))
    assert r.conversions.sum() == pytest.approx(r.expected_conversions.sum(), rel=0.02)


def test_diminishing_returns_lower_the_rate_at_higher_budgets() -> None:
    s = small(saturation_spend=300.0, saturation_sigma=0.0)
    truth = Environment.reset(s, R, np.random.default_rng(13)).truth()
    low = truth.expected_conversions(np.full((R, K), 50.0)) / 50.0
    high = truth.expected_conversions(np.full((R, K), 600.0)) / 600.0
    np.testing.assert_allclose(high / low, (1 + 50 / 300) / (1 + 600 / 300))
    assert np.all(truth.marginal_rate(np.full((R, K), 600.0)) < high)


def test_weekday_seasonality_changes_the_rate_by_day() -> None:
    mult = (1.0, 1.0, 1.0, 1.0, 1.0, 1.5, 0.5)
    env = Environment.reset(small(weekday_multipliers=mult, start_weekday=4), R,
                            np.random.default_rng(14))  # fmt: skip
    rates = []
    for _ in range(3):
        rates.append(env.truth().rate.copy())
        env.advance_day(*even(env, 0.0))
    np.testing.assert_allclose(rates[1] / rates[0], 1.5)
    np.testing.assert_allclose(rates[2] / rates[0], 0.5)


def test_observe_arm_state_tracks_budgets_and_large_edits() -> None:
    env = Environment.reset(small(), 1, np.random.default_rng(15))
    arms, hist = env.observe()
    assert hist.n_days == 0
    assert np.all(np.isinf(arms.days_since_edit))
    b, e = even(env)
    env.advance_day(b, e)
    b2 = b.copy()
    b2[0, 0] = 110.0  # +10%: not a large edit
    b2[0, 1] = 200.0  # +100%: restarts learning
    e[0, 2] = False
    env.advance_day(b2, e)
    arms, _ = env.observe()
    assert arms.days_since_edit[0, :2].tolist() == [2.0, 1.0]
    assert arms.budget[0, :3].tolist() == [110.0, 200.0, 0.0]
    assert not arms.enabled[0, 2]
    assert np.all(arms.prev_stage == int(Stage.TESTING))


def test_history_window_and_read_only_columns() -> None:
    env = Environment.reset(small(), R, np.random.default_rng(16))
    run(env, 9)
    _arms, hist = env.observe(n_days=4)
    assert hist.spend.shape == (R, K, 4)
    assert hist.age_days.tolist() == [4, 3, 2, 1]
    assert env.reported_clicks(4).shape == (R, K, 4)
    with pytest.raises(ValueError, match="read-only"):
        hist.spend[0, 0, 0] = 1.0
    hist.conversions[0, 0, 0] = -1.0  # a copy: the environment is not affected
    assert env.observe(n_days=4)[1].conversions[0, 0, 0] >= 0


def test_the_history_grows_past_the_horizon_for_the_sandbox() -> None:
    env = Environment.reset(small(horizon_days=2), 1, np.random.default_rng(17))
    run(env, 12)
    assert env.observe()[1].n_days == 12


@pytest.mark.parametrize(
    ("budgets", "match"),
    [
        (np.full((R, K + 1), 1.0), "shape"),
        (np.full((R, K), -1.0), ">= 0"),
        (np.full((R, K), np.nan), "finite"),
    ],
)
def test_invalid_actions_are_refused(budgets: np.ndarray, match: str) -> None:
    env = Environment.reset(small(), R, np.random.default_rng(18))
    with pytest.raises(ValueError, match=match):
        env.advance_day(budgets, np.ones(budgets.shape, dtype=bool))


# ------------------------------------------------------------------- seeding
def test_same_seed_same_world_and_trajectory() -> None:
    def trajectory(seed: int) -> np.ndarray:
        env = Environment.reset(small(), R, np.random.default_rng(seed))
        return np.stack([r.conversions for r in run(env, 5)])

    assert np.array_equal(trajectory(21), trajectory(21))
    assert not np.array_equal(trajectory(21), trajectory(22))


def test_worlds_do_not_depend_on_what_the_policy_does() -> None:
    a = Environment.reset(small(), R, np.random.default_rng(23))
    b = Environment.reset(small(), R, np.random.default_rng(23))
    run(a, 3, per_arm=50.0)
    run(b, 3, per_arm=300.0)
    np.testing.assert_array_equal(a.world.cpm, b.world.cpm)
    np.testing.assert_array_equal(a.world.expiry, b.world.expiry)


def test_blocks_cover_replications_once_with_a_fixed_size() -> None:
    blocks = list(replication_blocks(base_seed=7, n_replications=23, block_size=10))
    assert [b.size for b in blocks] == [10, 10, 10]
    assert [b.keep for b in blocks] == [10, 10, 3]
    ids = [i for b in blocks for i in b.replications]
    assert ids == list(range(23))
    with pytest.raises(ValueError, match="block_size"):
        list(replication_blocks(base_seed=7, n_replications=5, block_size=0))


def _simulate_block(block_index: int, n_replications: int = 40, size: int = 10) -> np.ndarray:
    block = list(replication_blocks(3, n_replications, size))[block_index]
    env = Environment.reset(small(), block.size, block.env_rng())
    reports = run(env, 4)
    return np.stack([r.conversions for r in reports])[:, : block.keep]


def test_a_replication_does_not_depend_on_chunking_or_on_other_blocks() -> None:
    # one worker doing blocks 0..3 in order, or blocks on separate workers in any
    # order, or a longer experiment: replication i always has the same numbers
    in_order = [_simulate_block(i) for i in range(4)]
    reverse = [_simulate_block(i) for i in reversed(range(4))][::-1]
    for a, b in zip(in_order, reverse, strict=True):
        assert np.array_equal(a, b)
    longer = _simulate_block(1, n_replications=400)
    assert np.array_equal(longer, in_order[1])
    partial = _simulate_block(3, n_replications=35)
    assert np.array_equal(partial, in_order[3][:, :5])
    assert not np.array_equal(in_order[0], in_order[1])


def test_policy_and_environment_streams_are_distinct() -> None:
    block = next(replication_blocks(0, 10, 10))
    assert block.env_rng().random() != block.policy_rng().random()
    assert block.env_rng().random() == block.env_rng().random()
