"""Unit tests of the engine step's composition (posterior, decisions, allocation, guardrails).

The parts have their own tests; these check how :func:`allocator.core.engine.step` wires
them: which arms may run, what the learning freeze keeps, how starved and not-yet-launched
arms are reported, batch shapes, and that a clear winner gets scaled over a fortnight.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from allocator._types import FloatArray
from allocator.core.arms import ArmState, History, Objective, Stage
from allocator.core.decisions import DecisionParams, Reason
from allocator.core.engine import (
    EngineParams,
    EngineStep,
    conversions_since_edit,
    starved_reason,
    step,
)
from allocator.core.guardrail_params import GuardrailParams
from allocator.core.guardrails import Binding, Infeasibility
from allocator.core.lag import LagModel
from allocator.core.target import Target

CPA = Target(Objective.CPA, target_cpa=25.0)
GUARD = GuardrailParams(platform_min_budget=20.0, learning_days=0.0)


def make_arms(
    k: int,
    *,
    budget: float | list[float] = 100.0,
    enabled: bool | list[bool] = True,
    auth_days_left: float | list[float] = math.inf,
    days_since_launch: float | list[float] = 30.0,
    days_since_edit: float | list[float] = math.inf,
    prev_stage: int | list[int] = Stage.TESTING,
    creator: list[int] | None = None,
) -> ArmState:
    def full(value: float | list[float] | list[bool] | list[int], dtype: type) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=dtype), (k,)).copy()

    return ArmState(
        is_spark=np.arange(k) % 2 == 0,
        creator=np.asarray(creator if creator is not None else list(range(k)), dtype=np.int64),
        budget=full(budget, np.float64),
        enabled=full(enabled, np.bool_),
        auth_days_left=full(auth_days_left, np.float64),
        days_since_launch=full(days_since_launch, np.float64),
        days_since_edit=full(days_since_edit, np.float64),
        prev_stage=full(prev_stage, np.int64),
    )


def make_history(spend: FloatArray, conversions: FloatArray) -> History:
    """Rows ``(K, D)`` oldest first (ages D..1), all observed."""
    spend = np.asarray(spend, dtype=np.float64)
    conv = np.asarray(conversions, dtype=np.float64)
    d = spend.shape[-1]
    return History(spend, conv, conv * 40.0, spend * 60.0, np.ones(spend.shape, dtype=bool),
                   np.arange(d, 0.0, -1.0))  # fmt: skip


def steady_history(cpa: list[float], spend: float = 100.0, days: int = 21) -> History:
    """Each arm spent ``spend`` a day and converted at its CPA (fractional counts)."""
    k = len(cpa)
    s = np.full((k, days), spend)
    conv = s / np.asarray(cpa, dtype=np.float64)[:, None]
    return make_history(s, conv)


def run(
    arms: ArmState,
    history: History,
    total: float | FloatArray = 400.0,
    guard: GuardrailParams = GUARD,
    decisions: DecisionParams | None = None,
    seed: int = 0,
) -> EngineStep:
    # the step caps as bounds (the default lift past them is tested in test_spend)
    params = EngineParams(
        decisions=decisions or DecisionParams(),
        guardrails=guard,
        n_draws=2000,
        step_cap_on_shortfall="hold",
    )
    return step(arms, history, CPA, total, params, np.random.default_rng(seed))


def test_blocked_arms_are_paused_with_zero_and_the_rest_gets_the_budget() -> None:
    arms = make_arms(4, auth_days_left=[math.inf, 0.5, -1.0, 40.0])
    out = run(arms, steady_history([20.0, 20.0, 20.0, 20.0]))
    assert out.stage.tolist()[1:3] == [Stage.BLOCKED, Stage.BLOCKED]
    assert out.decisions.reason[1] == Reason.BLOCKED_EXPIRING
    assert out.decisions.reason[2] == Reason.BLOCKED_LAPSED
    assert out.budget[1] == 0.0
    assert out.budget[2] == 0.0
    assert not out.enabled[1]
    assert not out.enabled[2]
    assert out.projection.binding[1] == Binding.INACTIVE
    assert not out.starved[1:3].any()  # blocked is not starved: the decisions stopped them
    assert out.enabled[[0, 3]].all()
    assert out.budget.sum() == pytest.approx(260.0)  # step caps: 2 x (100 x 1.3)
    assert int(out.projection.infeasible) == Infeasibility.SHORTFALL_STEP_UP
    assert float(out.projection.shortfall) == pytest.approx(140.0)


def test_a_resting_arm_gets_nothing_until_the_running_arms_fall_to_its_level() -> None:
    # arm 2 rests at CPA 30 (disabled, budget 0); the running arms make CPA 20 and 22
    arms = make_arms(3, budget=[200.0, 200.0, 0.0], enabled=[True, True, False],
                     prev_stage=[Stage.TESTING, Stage.SCALING, Stage.RESTING])  # fmt: skip
    out = run(arms, steady_history([20.0, 22.0, 30.0]))
    assert out.stage[2] == Stage.RESTING
    assert (out.budget[2], out.enabled[2]) == (0.0, False)
    # the running arms fatigued to CPA 35 and 40: it comes back and gets a budget
    out = run(arms, steady_history([35.0, 40.0, 30.0]))
    assert out.decisions.reason[2] == Reason.TESTING_REVIVED
    assert out.enabled[2]
    assert out.budget[2] >= GUARD.platform_min_budget


def test_blocked_arms_in_learning_are_still_paused() -> None:
    guard = GuardrailParams(platform_min_budget=20.0, learning_days=7.0)
    arms = make_arms(2, auth_days_left=[math.inf, 0.5], days_since_launch=2.0)
    out = run(arms, make_history(np.full((2, 2), 100.0), np.ones((2, 2))), total=200.0,
              guard=guard)  # fmt: skip
    assert out.frozen.tolist() == [True, False]
    assert out.budget.tolist() == [100.0, 0.0]
    assert out.stage[1] == Stage.BLOCKED


def test_a_clear_loser_in_learning_is_still_paused() -> None:
    guard = GuardrailParams(platform_min_budget=20.0, learning_days=7.0)
    spend = np.array([[300.0, 300.0], [300.0, 300.0]])
    conv = np.array([[15.0, 15.0], [0.0, 0.0]])  # arm 1: 600 spent, no conversion
    out = run(make_arms(2, budget=300.0, days_since_launch=2.0), make_history(spend, conv),
              total=600.0, guard=guard)  # fmt: skip
    assert out.decisions.stage[1] == Stage.PAUSED
    assert out.decisions.reason[1] == Reason.PAUSED_KILL
    assert not out.frozen[1]
    assert out.frozen[0]
    assert out.budget[1] == 0.0
    assert not out.enabled[1]
    assert out.budget[0] == 300.0  # the winner in learning keeps its budget


def test_learning_phase_arms_keep_their_budget_and_the_others_move() -> None:
    guard = GuardrailParams(platform_min_budget=20.0, learning_days=3.0, learning_conversions=50)
    arms = make_arms(3, budget=[73.0, 100.0, 100.0], days_since_launch=[1.0, 30.0, 30.0])
    history = steady_history([25.0, 20.0, 22.0], days=5)
    history.spend[0, :-1] = 0.0  # arm 0 launched yesterday: one day, 4 conversions
    history.conversions[0, :-1] = 0.0
    out = run(arms, history, total=300.0, guard=guard)
    assert conversions_since_edit(arms, history)[0] == pytest.approx(4.0)
    assert (out.stage == Stage.TESTING).all()
    assert out.frozen.tolist() == [True, False, False]
    assert out.budget[0] == 73.0  # kept, although it has the best CPA
    assert out.projection.binding[0] == Binding.LEARNING
    assert out.budget.sum() == pytest.approx(300.0)  # the others take the rest
    assert ((out.budget[1:] >= 50.0) & (out.budget[1:] <= 150.0)).all()


def test_learning_ends_after_enough_conversions_or_the_hard_ceiling() -> None:
    guard = GuardrailParams(platform_min_budget=20.0, learning_days=30.0, learning_max_days=14.0,
                            learning_conversions=50.0)  # fmt: skip
    arms = make_arms(3, budget=[100.0, 600.0, 25.0], days_since_launch=[2.0, 2.0, 20.0])
    spend = np.array([[100.0, 100.0], [600.0, 600.0], [25.0, 25.0]])
    conv = np.array([[5.0, 5.0], [30.0, 30.0], [1.0, 1.0]])  # CPA 20, 20, 25
    out = run(arms, make_history(spend, conv), total=725.0, guard=guard)
    assert (out.decisions.stage == Stage.TESTING).all()
    # arm 0: young, 10 conversions; arm 1: 60 conversions; arm 2: past the 14-day ceiling
    # although its small budget never reached the count (no freeze forever).
    assert out.frozen.tolist() == [True, False, False]
    assert out.budget[0] == 100.0


def test_starved_arms_are_switched_off_for_the_day_and_keep_their_stage() -> None:
    # Six equally promising testing arms, 100 a day, platform minimum 20: at most five fit.
    guard = GuardrailParams(platform_min_budget=20.0, test_budget=25.0, learning_days=0.0)
    arms = make_arms(6, budget=0.0, enabled=False, prev_stage=Stage.TESTING)
    out = run(arms, History.empty((), 6), total=100.0, guard=guard)
    assert (out.decisions.stage == Stage.TESTING).all()
    assert out.starved.sum() == 2  # start budget 25: four arms fit in 100
    assert (out.stage[out.starved] == Stage.TESTING).all()  # may run again tomorrow
    assert not out.enabled[out.starved].any()
    assert (out.budget[out.starved] == 0.0).all()
    assert (out.projection.binding[out.starved] == Binding.NO_ROOM).all()
    assert out.budget[out.enabled].tolist() == [25.0] * 4
    assert out.budget.sum() == pytest.approx(100.0)
    assert starved_reason(int(Binding.NO_ROOM)).startswith("off today: the daily budget cannot")
    assert "below the platform minimum" in starved_reason(int(Binding.BELOW_MIN))


def test_not_yet_launched_arms_get_nothing_and_keep_their_stage() -> None:
    arms = make_arms(3, budget=[100.0, 0.0, 0.0], enabled=[True, False, False],
                     days_since_launch=[30.0, -2.0, -1.0],
                     prev_stage=[Stage.TESTING, Stage.TESTING, Stage.SCALING])  # fmt: skip
    out = run(arms, steady_history([20.0, 20.0, 20.0]), total=300.0)
    assert out.budget[1:].tolist() == [0.0, 0.0]
    assert not out.enabled[1:].any()
    assert not out.starved[1:].any()
    assert out.stage[1:].tolist() == [Stage.TESTING, Stage.SCALING]
    assert out.enabled[0]
    assert out.budget[0] == 130.0  # +30%: the default step cap


def test_a_batch_keeps_its_shape_and_every_row_holds_the_guardrails() -> None:
    rows, k = 3, 4
    arms1 = make_arms(k, budget=[100.0, 60.0, 0.0, 30.0], enabled=[True, True, False, True],
                      auth_days_left=[math.inf, 10.0, math.inf, 0.5])  # fmt: skip
    arms = ArmState(*(np.broadcast_to(getattr(arms1, f), (rows, k)).copy()
                      for f in ArmState.__slots__))  # fmt: skip
    h1 = steady_history([20.0, 21.0, 22.0, 20.0], spend=40.0, days=3)

    def tile(x: np.ndarray) -> Any:
        return np.broadcast_to(x, (rows, *x.shape)).copy()

    history = History(
        tile(h1.spend), tile(h1.conversions), tile(h1.value), tile(h1.impressions),
        tile(h1.observed), h1.age_days,
    )  # fmt: skip
    totals = np.array([50.0, 200.0, 10_000.0])
    out = run(arms, history, total=totals)
    assert out.budget.shape == (rows, k)
    assert out.stage.shape == (rows, k)
    assert out.desired.shape == (rows, k)
    assert out.projection.shortfall.shape == (rows,)
    assert out.model.rate.shape.shape == (rows, k)
    assert (out.budget.sum(axis=-1) <= totals + 1e-9).all()
    np.testing.assert_allclose(
        out.budget.sum(axis=-1) + out.projection.shortfall, totals, atol=1e-9
    )
    assert (out.budget[:, 3] == 0.0).all()
    assert (out.stage[:, 3] == Stage.BLOCKED).all()
    on = out.enabled
    assert (out.budget[on] >= 20.0).all()
    today = arms.budget
    running = arms.enabled & (today > 0)
    step_ok = (out.budget <= np.maximum(today * 1.5, 20.0) + 1e-9) & (
        out.budget >= np.minimum(np.maximum(today * 0.5, 20.0), totals[:, None]) - 1e-9
    )
    assert step_ok[on & running].all()
    # row 2 is far above what step caps allow: a reported shortfall, not a violation
    assert int(out.projection.infeasible[2]) == Infeasibility.SHORTFALL_STEP_UP
    assert int(out.projection.infeasible[1]) == Infeasibility.OK


def test_engine_params_reject_no_draws() -> None:
    with pytest.raises(ValueError, match="n_draws"):
        EngineParams(n_draws=0)


def test_conversions_since_edit_counts_days_since_the_later_of_launch_and_edit() -> None:
    arms = make_arms(3, days_since_launch=[30.0, 2.0, 30.0], days_since_edit=[np.inf, 10.0, 3.0])
    conv = np.tile(np.arange(1.0, 6.0), (3, 1))  # ages 5..1 hold 1..5 conversions
    got = conversions_since_edit(arms, make_history(np.ones((3, 5)), conv))
    np.testing.assert_allclose(got, [15.0, 9.0, 12.0])


def simulate_fortnight(seed: int, true_cpa: list[float], days: int = 14) -> list[EngineStep]:
    """Run the engine daily on a seeded synthetic account.

    Each day every enabled arm spends its planned budget and converts ~ Poisson(spend /
    true CPA); conversions are reported with the default lag (a binomial thinning of the
    still-open days, then revealed as they age). The plan of day ``t`` becomes the state of
    day ``t + 1`` (budget, status, stage, days since a large edit).
    """
    rng = np.random.default_rng(seed)
    k = len(true_cpa)
    rate = 1.0 / np.asarray(true_cpa)
    lag = LagModel.default()
    arms = make_arms(k, budget=60.0, days_since_launch=0.0, creator=[0] * k)
    spend = np.zeros((k, 0))
    eventual = np.zeros((k, 0))
    params = EngineParams(
        guardrails=GuardrailParams(
            platform_min_budget=20.0, max_budget_share=0.7, learning_days=0.0
        ),
        n_draws=1000,
    )
    steps: list[EngineStep] = []
    for _ in range(days):
        age = np.arange(spend.shape[1], 0.0, -1.0)
        reported = np.floor(eventual * lag.reported_fraction(age))
        history = History(spend, reported, reported * 40.0, spend * 60.0, spend > 0, age)
        out = step(arms, history, CPA, 400.0, params, rng)
        steps.append(out)
        today = np.where(out.enabled, out.budget, 0.0)
        spend = np.concatenate([spend, today[:, None]], axis=1)
        eventual = np.concatenate([eventual, rng.poisson(rate * today)[:, None]], axis=1)
        arms = ArmState(
            is_spark=arms.is_spark,
            creator=arms.creator,
            budget=today,
            enabled=out.enabled.copy(),
            auth_days_left=arms.auth_days_left,
            days_since_launch=arms.days_since_launch + 1.0,
            days_since_edit=np.where(out.projection.large_edit, 1.0, arms.days_since_edit + 1.0),
            prev_stage=out.stage.copy(),
        )
    return steps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_clear_winner_is_scaled_over_a_fortnight(seed: int) -> None:
    steps = simulate_fortnight(seed, [10.0, 30.0, 30.0, 35.0])
    last = steps[-1]
    assert last.stage[0] == Stage.SCALING
    assert last.budget[0] == last.budget.max()
    assert last.budget[0] >= 0.5 * 400.0  # from 60 (15%) to at least half the budget
    assert not (last.stage[1:] == Stage.SCALING).any()
    for s in steps:  # every day: within the total, winner never paused
        assert s.budget.sum() <= 400.0 + 1e-9
        assert s.enabled[0]


def test_diminishing_returns_spread_the_budget_over_close_arms() -> None:
    """With a half-saturation spend the runner-up keeps money that the linear fill gives away.

    Two well-measured arms (CPA 20 and 22 at 300 a day for 60 days), budget 600 a day, no
    exploration floor and no step cap in the way: the linear model gives the better arm the
    whole budget in every draw where it wins (P(best) about 0.8), the saturating one splits
    it where marginal rates meet, which for ``h = 600`` (rates at zero spend 0.075 and
    0.068) is near 309 / 291 at the posterior means.
    """
    guard = GuardrailParams(platform_min_budget=20.0, learning_days=0.0, max_step_up=10.0,
                            exploration_share=0.0)  # fmt: skip
    arms = make_arms(2, budget=300.0, prev_stage=Stage.SCALING)
    history = steady_history([20.0, 22.0], spend=300.0, days=60)
    flat = EngineParams(guardrails=guard, n_draws=2000, half_saturation_spend=math.inf)
    linear = step(arms, history, CPA, 600.0, flat, np.random.default_rng(0))
    params = EngineParams(guardrails=guard, n_draws=2000, half_saturation_spend=600.0)
    curved = step(arms, history, CPA, 600.0, params, np.random.default_rng(0))
    assert linear.desired[0] > 450.0
    assert curved.desired.sum() == pytest.approx(600.0)
    assert 260.0 < curved.desired[1] < curved.desired[0] < 340.0  # posterior spread included
    # decisions are the same: they judge the average rate the arms achieved
    np.testing.assert_array_equal(curved.stage, linear.stage)
    with pytest.raises(ValueError, match="half_saturation_spend"):
        EngineParams(half_saturation_spend=0.0)
