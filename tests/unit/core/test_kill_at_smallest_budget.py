"""The maximum accepted CPA is judged at the smallest budget, under the assumed saturation."""

from __future__ import annotations

import math

import numpy as np

from allocator.core.arms import ArmState, History, Objective, Stage
from allocator.core.decisions import Reason
from allocator.core.engine import EngineParams, step
from allocator.core.target import Target

CPA = Target(Objective.CPA, target_cpa=25.0)


def saturated_account(cpa_big: float) -> tuple[ArmState, History]:
    """Two arms, 30 days: one at 2,000/day converting at ``cpa_big``, one at 200 at 20."""
    k, d = 2, 30
    spend = np.array([[2000.0] * d, [200.0] * d])
    conversions = spend / np.array([[cpa_big], [20.0]])
    arms = ArmState(
        is_spark=np.zeros(k, dtype=np.bool_),
        creator=np.arange(k, dtype=np.int64),
        budget=np.array([2000.0, 200.0]),
        enabled=np.ones(k, dtype=np.bool_),
        auth_days_left=np.full(k, math.inf),
        days_since_launch=np.full(k, 60.0),
        days_since_edit=np.full(k, math.inf),
        prev_stage=np.full(k, int(Stage.TESTING)),
    )
    history = History(
        spend=spend,
        conversions=conversions,
        value=conversions * 45.0,
        impressions=spend * 100.0,
        observed=np.ones((k, d), dtype=np.bool_),
        age_days=np.arange(d, 0, -1, dtype=np.float64),
    )
    return arms, history


def paused_for_cpa(params: EngineParams, cpa_big: float) -> bool:
    arms, history = saturated_account(cpa_big)
    out = step(arms, history, CPA, 2200.0, params, np.random.default_rng(0))
    return bool(out.decisions.reason[0] == Reason.PAUSED_KILL)


def test_a_creative_saturated_at_a_big_budget_is_not_killed_for_its_average_cpa() -> None:
    # 3.6x the target on average at 2,000/day; with h = 1,000 its rate at the smallest
    # budget is 3x its average, a CPA of 30 there: acceptable (the maximum is 3x = 75)
    assert not paused_for_cpa(EngineParams(n_draws=200), 90.0)
    assert paused_for_cpa(EngineParams(n_draws=200, kill_at_smallest_budget=False), 90.0)


def test_a_creative_above_the_maximum_even_at_the_smallest_budget_is_killed() -> None:
    # 12x the target on average is 4x at the smallest budget: still above the maximum
    assert paused_for_cpa(EngineParams(n_draws=200), 300.0)


def test_with_a_linear_response_both_judge_the_average() -> None:
    linear = EngineParams(n_draws=200, half_saturation_spend=math.inf)
    assert paused_for_cpa(linear, 90.0)
