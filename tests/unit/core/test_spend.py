"""Spending the budget (core/spend.py); stops that follow from the allocation (core/margin)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.core.arms import ArmState, History, Objective, Stage
from allocator.core.decisions import Reason
from allocator.core.engine import EngineParams, EngineStep, ShortfallEdits, step
from allocator.core.guardrail_params import GuardrailParams
from allocator.core.margin import better_elsewhere, water_level
from allocator.core.spend import arm_capacity, fill_reserve, lift_pays, unspent_by_choice
from allocator.core.target import Target

CPA = Target(Objective.CPA, target_cpa=25.0)
GUARD = GuardrailParams(platform_min_budget=20.0, learning_days=0.0)


def make_arms(
    k: int,
    *,
    budget: float | list[float] = 100.0,
    enabled: bool | list[bool] = True,
    prev_stage: int | list[int] = Stage.TESTING,
) -> ArmState:
    def full(value: object, dtype: type) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=dtype), (k,)).copy()

    return ArmState(
        is_spark=np.arange(k) % 2 == 0,
        creator=np.arange(k, dtype=np.int64),
        budget=full(budget, np.float64),
        enabled=full(enabled, np.bool_),
        auth_days_left=np.full(k, math.inf),
        days_since_launch=np.full(k, 30.0),
        days_since_edit=np.full(k, math.inf),
        prev_stage=full(prev_stage, np.int64),
    )


def steady_history(cpa: list[float], spend: float = 100.0, days: int = 21) -> History:
    """Each arm spent ``spend`` a day and converted at its CPA (fractional counts)."""
    s = np.full((len(cpa), days), spend)
    conv = s / np.asarray(cpa, dtype=np.float64)[:, None]
    observed = np.ones(s.shape, dtype=bool)
    return History(s, conv, conv * 40.0, s * 60.0, observed, np.arange(days, 0.0, -1.0))


def run(
    arms: ArmState, history: History, total: float, *, shortfall: ShortfallEdits = "hold"
) -> EngineStep:
    params = EngineParams(guardrails=GUARD, n_draws=2000, step_cap_on_shortfall=shortfall)
    return step(arms, history, CPA, total, params, np.random.default_rng(0))


def test_capacity_is_the_step_cap_the_freeze_or_the_start_budget() -> None:
    arms = make_arms(3, budget=[100.0, 100.0, 0.0], enabled=[True, True, False])
    frozen = np.array([False, True, False])
    start = np.full(3, 50.0)
    cap = arm_capacity(arms, frozen, start, np.array(1000.0), GUARD)
    np.testing.assert_allclose(cap, [130.0, 100.0, 50.0])
    capped = arm_capacity(
        arms, frozen, start, np.array(100.0), GuardrailParams(max_budget_share=0.9)
    )
    np.testing.assert_allclose(capped, [90.0, 90.0, 50.0])


def test_the_reserve_brings_back_the_best_arms_until_the_gap_is_covered() -> None:
    active = np.array([True, False, False, False])
    reserve = np.array([False, True, True, True])
    rank = np.array([0.0, 0.02, 0.05, 0.04])
    capacity = np.array([130.0, 100.0, 100.0, 100.0])
    chosen = fill_reserve(active, reserve, rank, capacity, np.array(300.0))
    assert chosen.tolist() == [False, False, True, True]  # the two best cover 170
    none = fill_reserve(active, reserve, rank, capacity, np.array(120.0))
    assert not none.any()


def test_the_reserve_is_batched_row_by_row() -> None:
    active = np.array([[True, False], [False, False]])
    reserve = np.array([[False, True], [True, True]])
    rank = np.array([[0.0, 1.0], [2.0, 1.0]])
    capacity = np.full((2, 2), 100.0)
    chosen = fill_reserve(active, reserve, rank, capacity, np.array([150.0, 50.0]))
    assert chosen.tolist() == [[False, True], [True, False]]


def test_unspent_money_is_a_choice_only_when_no_creative_is_acceptable() -> None:
    shortfall = np.array([100.0, 100.0])
    acceptable = np.array([[False, False], [True, False]])
    np.testing.assert_allclose(unspent_by_choice(shortfall, acceptable), [100.0, 0.0])


def test_the_water_level_is_the_last_funded_rate_when_linear() -> None:
    rate = np.array([0.05, 0.04, 0.01])
    level, funded = water_level(rate, math.inf, np.array([100.0, 100.0, 100.0]), np.array(150.0))
    assert funded.tolist() == [True, True, False]
    assert float(level) == pytest.approx(0.04)


def test_under_saturation_a_second_creative_is_worth_money() -> None:
    rng = np.random.default_rng(0)
    draws = np.stack([rng.gamma(400.0, 0.05 / 400.0, 500), rng.gamma(400.0, 0.03 / 400.0, 500)], -1)
    args = (np.ones(2), np.ones(2, dtype=bool), np.full(2, 1000.0), np.array(1000.0))
    linear = better_elsewhere(draws, *args, half=math.inf, probability=0.01)
    assert linear.tolist() == [False, True]  # the linear split gives all to arm 0
    saturating = better_elsewhere(draws, *args, half=200.0, probability=0.01)
    assert saturating.tolist() == [False, False]


def test_a_plan_never_has_every_ad_group_off_while_acceptable_creatives_rest() -> None:
    # nothing runs: every resting creative qualifies to come back
    arms = make_arms(2, budget=0.0, enabled=False, prev_stage=Stage.RESTING)
    out = run(arms, steady_history([30.0, 32.0]), total=400.0)
    assert out.enabled.all()
    assert float(out.budget.sum()) == pytest.approx(400.0)


def test_resting_creatives_take_the_money_the_running_one_cannot() -> None:
    # arm 0 (CPA 20) may grow from 100 to 130 only; arm 1 rests at CPA 30 (acceptable,
    # below the 3 x 25 maximum, but below the running level so not revived)
    arms = make_arms(2, budget=[100.0, 0.0], enabled=[True, False],
                     prev_stage=[Stage.TESTING, Stage.RESTING])  # fmt: skip
    out = run(arms, steady_history([20.0, 30.0]), total=400.0)
    assert out.decisions.reason[1] == Reason.TESTING_RESERVE
    assert out.enabled.all()
    assert float(out.projection.shortfall) < 400.0 - 130.0
    assert float(out.unspent_by_choice) == 0.0  # what is left is the step cap's


def test_money_is_left_unspent_by_choice_when_no_creative_is_acceptable() -> None:
    # both creatives convert at CPA 200 and 250, credibly above the 3 x 25 maximum
    arms = make_arms(2, budget=0.0, enabled=False, prev_stage=Stage.RESTING)
    out = run(arms, steady_history([200.0, 250.0], days=28), total=1000.0)
    assert not out.enabled.any()
    assert float(out.projection.shortfall) == pytest.approx(1000.0)
    assert float(out.unspent_by_choice) == pytest.approx(1000.0)


def test_lifting_the_step_cap_plans_the_money_the_cap_alone_would_leave() -> None:
    arms = make_arms(2, budget=100.0)
    history = steady_history([20.0, 22.0])
    capped = run(arms, history, total=400.0)
    assert float(capped.projection.shortfall) == pytest.approx(140.0)  # 2 x 130 of 400
    lifted = run(arms, history, total=400.0, shortfall="lift")
    assert float(lifted.projection.shortfall) == 0.0
    assert float(lifted.budget.sum()) == pytest.approx(400.0)


def test_by_value_lifts_the_cap_when_the_gap_outweighs_the_relearning() -> None:
    # two ad groups at 100/day, CPAs 20 and 22: 400 to place, the cap lets 130 + 130
    # through. Lifted, they would get 226.56 and 173.44; the capped ramp (x1.3 a day)
    # leaves 161 and 48 money-days unplanned, and relearning (50 conversions at 12 and
    # 8.4 a day) costs 0.1 x 226.56 x 4.1 = 94 and 0.1 x 173.44 x 5.9 = 103: weighted by
    # their rates the gain (10.9 conversions) beats the cost (10.0), so the cap is lifted
    arms = make_arms(2, budget=100.0)
    history = steady_history([20.0, 22.0])
    by_value = run(arms, history, total=400.0, shortfall="by_value")
    assert float(by_value.budget.sum()) == pytest.approx(400.0)
    # a budget that only just overflows the cap (270 of 260): 27 money-days of gain
    # against 94 of relearning, so the cap holds
    short = run(arms, history, total=270.0, shortfall="by_value")
    assert float(short.projection.shortfall) == pytest.approx(10.0)


# --- lifting the step-up cap by expected value (spend.lift_pays) ----------------------

LIFT_GUARD = GuardrailParams(max_step_up=0.3, large_edit_fraction=0.3, learning_conversions=50.0)


def pays(
    capped: list[float],
    lifted: list[float],
    today: list[float],
    *,
    cpa: float = 25.0,
    penalty: float = 0.2,
    guard: GuardrailParams = LIFT_GUARD,
) -> bool:
    rate = np.full(len(capped), 1.0 / cpa)
    return bool(
        lift_pays(
            np.array(capped), np.array(lifted), np.array(today), rate, rate, guard, penalty, 7.0
        )
    )


def test_a_big_gap_on_a_busy_ad_group_is_worth_its_short_relearning() -> None:
    # 1,000/day at CPA 25 relearns in 50 / 40 = 1.25 days: cost 0.2 x 1,000 x 1.25 = 250
    # money-days; the capped ramp 390 -> 507 -> 659 -> 857 leaves 610 + 493 + 341 + 143.
    assert pays([390.0], [1000.0], [300.0])


def test_a_small_gap_on_a_slow_ad_group_is_not_worth_a_week_of_relearning() -> None:
    # 50/day at CPA 25 relearns the full 7 days (2 conversions a day): cost 0.2 x 50 x 7 =
    # 70 money-days against the 50 - 39 = 11 the ramp leaves on its one day.
    assert not pays([39.0], [50.0], [30.0])


def test_without_a_reset_cost_any_gap_pays_and_without_a_gap_nothing_does() -> None:
    assert pays([39.0], [50.0], [30.0], penalty=0.0)
    assert not pays([39.0], [39.0], [30.0], penalty=0.0)


def test_an_arm_being_enabled_pays_no_reset_and_a_zero_step_cap_never_catches_up() -> None:
    # today 0: not running, so no learning restarts and the gap is pure gain even when a
    # reset would cost every conversion; an arm the cap holds at 0 is not raised at all
    assert pays([39.0], [50.0], [0.0], penalty=1.0)
    assert not pays([0.0], [50.0], [30.0], penalty=0.0)
    frozen_cap = GuardrailParams(max_step_up=0.0, large_edit_fraction=0.3)
    # a 0 % step cap never closes the gap: four weeks of 11/day beat 70 money-days
    assert pays([30.0], [50.0], [30.0], guard=frozen_cap)


@given(
    st.floats(1.0, 5_000.0),
    st.floats(1.01, 10.0),
    st.floats(5.0, 200.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_a_lift_that_pays_at_some_penalty_pays_at_any_lower_one(
    capped: float, factor: float, cpa: float, p_high: float, p_low: float
) -> None:
    low, high = sorted((p_low, p_high))
    args = ([capped], [capped * factor], [capped / 1.3])
    if pays(*args, cpa=cpa, penalty=high):
        assert pays(*args, cpa=cpa, penalty=low)
