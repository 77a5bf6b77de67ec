"""History backtest: the scenario fit against simulated truth, policy ranking, replay."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pytest

from allocator.backtest.estimate import (
    actual_outcome,
    estimate_policies,
    layout_from_records,
    summarize,
)
from allocator.backtest.fit import FitParams, fit_scenario
from allocator.backtest.history import (
    DECISION_COLUMNS,
    Replay,
    panel_from_records,
    replay_decisions,
)
from allocator.backtest.reported import reported_as_of
from allocator.backtest.scenario_fit import ScenarioFit
from allocator.backtest.worlds import Layout, LoggedSchedule, WarmStart, run_policies
from allocator.core.arms import (
    AdGroup,
    AdGroupStatus,
    Authorization,
    AuthStatus,
    Kind,
    Observation,
    Portfolio,
)
from allocator.core.engine import EngineParams
from allocator.core.lag import LagModel
from allocator.sim.environment import Environment
from allocator.sim.oracle import Oracle
from allocator.sim.policy import Policy
from allocator.sim.scenario import Scenario
from allocator.sim.splits import EvenSplit, FixedSplit
from allocator.sim.thompson import ThompsonPolicy
from allocator.sim.world import World

LAG = LagModel.default()


def simulated_histories(
    scenario: Scenario, n_runs: int, seed: int
) -> tuple[Environment, np.ndarray]:
    """Run a fixed random split for the horizon; returns the environment and budgets."""
    env = Environment.reset(scenario, n_runs, np.random.default_rng(seed))
    weights = np.random.default_rng(seed + 1).gamma(2.0, 1.0, size=(n_runs, scenario.n_arms))
    budgets = weights / weights.sum(axis=-1, keepdims=True) * scenario.daily_budget
    for _ in range(scenario.horizon_days):
        env.observe()
        env.advance_day(budgets, budgets > 0)
    return env, budgets


def fit_environment(env: Environment) -> ScenarioFit:
    _, history = env.observe()
    return fit_scenario(
        history.spend,
        history.impressions,
        env.reported_clicks(),
        history.conversions,
        history.value,
        history.age_days,
        FitParams(lag=LAG),
    )


# ------------------------------------------------------------------- coverage
@pytest.mark.slow
@pytest.mark.parametrize(
    "fatigue_floor", [1.0, 0.3], ids=["without fatigue", "with the default fatigue"]
)
def test_fitted_rates_cover_the_simulated_truth_at_their_nominal_rate(
    fatigue_floor: float,
) -> None:
    scenario = Scenario(horizon_days=30, fatigue_floor=fatigue_floor)
    env, _ = simulated_histories(scenario, n_runs=200, seed=11)
    fit = fit_environment(env)
    _, low, high = fit.rate_summary(0.9, n_draws=2000)
    truth = env.world.base_rate  # conversions per currency at the history start
    covered = (low <= truth) & (truth <= high)
    assert 0.85 <= covered.mean() <= 0.95


def test_fatigue_is_found_when_present_and_rarely_when_absent() -> None:
    fresh, _ = simulated_histories(Scenario(horizon_days=30, fatigue_floor=1.0), 100, seed=3)
    tired, _ = simulated_histories(Scenario(horizon_days=30, fatigue_floor=0.3), 100, seed=3)
    assert fit_environment(fresh).fatigued.mean() < 0.1
    assert fit_environment(tired).fatigued.mean() > 0.75


# -------------------------------------------------------------------- ranking
def _true_and_estimated(seed: int) -> tuple[dict[str, float], dict[str, float]]:
    scenario = Scenario(horizon_days=30, revocation_rate_per_day=0.0)
    env, budgets = simulated_histories(scenario, n_runs=1, seed=seed)
    _, history = env.observe()
    fit = fit_scenario(
        history.spend[0],
        history.impressions[0],
        env.reported_clicks()[0],
        history.conversions[0],
        history.value[0],
        history.age_days,
        FitParams(lag=LAG),
    )
    w = env.world
    layout = Layout(
        is_spark=w.is_spark[0],
        creator=w.creator[0],
        launch_day=w.launch_day[0],
        expiry=w.expiry[0],
        revocation=w.revocation[0],
        logged_budget=np.repeat(budgets, scenario.horizon_days, axis=0),
        daily_budget=scenario.daily_budget,
        platform_min_budget=scenario.platform_min_budget,
        target_cpa=scenario.target_cpa,
    )
    worst = np.where(w.base_rate[0] <= np.quantile(w.base_rate[0], 0.25), 1.0, 1e-3)

    def policies() -> list[Policy]:
        chosen: list[Policy] = [
            ThompsonPolicy(EngineParams(n_draws=200)),
            EvenSplit(),
            FixedSplit(worst),
            Oracle(),
        ]
        return [WarmStart(p, budgets[0]) for p in chosen]

    n = 48
    estimated = estimate_policies(fit, layout, policies(), n_worlds=n, seed=5)
    wide = World(**{f: np.repeat(getattr(w, f), n, axis=0) for f in World.__dataclass_fields__})
    true = run_policies(
        lambda: Environment(scenario, wide, np.random.default_rng([seed, 9])),
        policies(),
        daily_budget=scenario.daily_budget,
        platform_min_budget=scenario.platform_min_budget,
        target_cpa=scenario.target_cpa,
        seed=6,
    )
    return (
        {k: float(m.expected_conversions.mean()) for k, m in true.items()},
        {k: float(m.expected_conversions.mean()) for k, m in estimated.items()},
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_policies_rank_the_same_on_fitted_worlds_as_on_the_true_world(seed: int) -> None:
    true, estimated = _true_and_estimated(seed)
    assert sorted(true, key=true.__getitem__) == sorted(estimated, key=estimated.__getitem__)


# ---------------------------------------------------------------- replay (a)
def tiny_account(n_days: int = 10) -> tuple[list[AdGroup], list[Observation], date]:
    start = date(2026, 3, 1)
    adgroups = [
        AdGroup(f"a{k}", Kind.DARK, f"c{k}", "x", 100.0, AdGroupStatus.ENABLE) for k in range(3)
    ]
    rng = np.random.default_rng(0)
    observations = [
        Observation(
            date=start + timedelta(days=t),
            adgroup_id=f"a{k}",
            spend=100.0,
            impressions=10_000,
            clicks=100,
            conversions=float(rng.poisson(3 + 2 * k)),
        )
        for t in range(n_days)
        for k in range(3)
    ]
    return adgroups, observations, start + timedelta(days=n_days)


def test_reported_counts_are_the_export_on_the_export_date_and_fewer_before() -> None:
    _, obs, export = tiny_account()
    for mode in ("expected", "sampled"):
        at_export = reported_as_of(obs, export, export, LAG, thinning=mode)
        assert [o.conversions for o in at_export] == [o.conversions for o in obs]
        earlier = reported_as_of(obs, export - timedelta(days=2), export, LAG, thinning=mode)
        same = {(o.date, o.adgroup_id): o.conversions for o in obs}
        assert all(o.conversions <= same[(o.date, o.adgroup_id)] for o in earlier)
        assert all(o.date < export - timedelta(days=2) for o in earlier)


def test_sampled_counts_only_grow_from_day_to_day() -> None:
    _, obs, export = tiny_account()
    days = [export - timedelta(days=j) for j in range(7, -1, -1)]
    views = [
        {
            (o.date, o.adgroup_id): o.conversions
            for o in reported_as_of(obs, d, export, LAG, thinning="sampled", seed=4)
        }
        for d in days
    ]
    for before, after in itertools.pairwise(views):
        assert all(after[key] >= count for key, count in before.items())


def test_replay_decides_every_day_within_the_budget_and_reports_spend_as_actual() -> None:
    adgroups, obs, export = tiny_account()
    frame = replay_decisions(
        adgroups,
        obs,
        Portfolio("USD", 300.0, target_cpa=30.0),
        EngineParams(n_draws=100),
        Replay(export),
        seed=1,
    )
    assert tuple(frame.columns) == DECISION_COLUMNS
    assert frame["date"].nunique() == 10  # day after the first row .. export date
    per_day = frame.groupby("date")["recommended_budget"].sum()
    assert (per_day <= 300.0 + 0.05).all()
    spent = frame[frame["date"] < export.isoformat()]
    assert (spent["actual_budget"] == 100.0).all()
    assert (frame[frame["date"] == export.isoformat()]["actual_source"] == "logged").all()


def test_an_authorization_that_expired_later_was_active_earlier() -> None:
    adgroups, obs, export = tiny_account()
    expired = AdGroup(
        "a0", Kind.SPARK, "c0", "x", 100.0, AdGroupStatus.ENABLE, post_id="1",
        authorization=Authorization(AuthStatus.EXPIRED, expires_at=None),
    )  # fmt: skip
    frame = replay_decisions(
        [expired, *adgroups[1:]],
        [o for o in obs if not (o.adgroup_id == "a0" and o.date >= export - timedelta(days=3))],
        Portfolio("USD", 300.0, target_cpa=30.0),
        EngineParams(n_draws=100),
        Replay(export),
        seed=1,
    )
    a0 = frame[frame["adgroup_id"] == "a0"].set_index("date")["stage"]
    assert a0.iloc[2] != "blocked"  # delivering then: treated as authorized
    assert a0.iloc[-1] == "blocked"  # stopped delivering: the revocation shows


def test_estimates_put_the_logged_allocation_next_to_its_actual_outcome() -> None:
    adgroups, obs, export = tiny_account(20)
    panel = panel_from_records(adgroups, obs)
    fit = fit_scenario(
        panel.spend, panel.impressions, panel.clicks, panel.conversions, panel.value,
        panel.age_days(export), FitParams(lag=LAG),
    )  # fmt: skip
    layout = layout_from_records(
        adgroups, panel, daily_budget=300.0, platform_min_budget=20.01, target_cpa=30.0
    )
    metrics = estimate_policies(
        fit, layout, [LoggedSchedule(layout.logged_budget), EvenSplit(), Oracle()],
        n_worlds=100, seed=0,
    )  # fmt: skip
    table = {str(r["policy"]): r for r in summarize(metrics).to_dict(orient="records")}
    actual = actual_outcome(panel, export, LAG)
    logged = table["logged"]
    assert logged["conversions_low"] <= actual.conversions_completed <= logged["conversions_high"]
    assert table["oracle"]["conversions"] >= table["even"]["conversions"]
    assert logged["vs_logged"] == 0.0
