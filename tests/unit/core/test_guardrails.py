from __future__ import annotations

import numpy as np
import pytest

from allocator._types import FloatArray
from allocator.core.arms import ArmState
from allocator.core.guardrail_params import GuardrailParams, in_learning
from allocator.core.guardrails import Binding, Infeasibility, Projection, project


def make_arms(
    budget: list[float],
    enabled: list[bool] | None = None,
    days_since_launch: list[float] | None = None,
    days_since_edit: list[float] | None = None,
) -> ArmState:
    k = len(budget)
    b = np.asarray(budget, dtype=float)
    return ArmState(
        is_spark=np.zeros(k, dtype=bool),
        creator=np.zeros(k, dtype=np.int64),
        budget=b,
        enabled=np.asarray(enabled if enabled is not None else b > 0, dtype=bool),
        auth_days_left=np.full(k, np.inf),
        days_since_launch=np.asarray(days_since_launch or [30.0] * k, dtype=float),
        days_since_edit=np.asarray(days_since_edit or [np.inf] * k, dtype=float),
        prev_stage=np.zeros(k, dtype=np.int64),
    )


def run(
    desired: list[float] | FloatArray,
    arms: ArmState,
    total: float,
    active: list[bool] | None = None,
    frozen: list[bool] | None = None,
    params: GuardrailParams | None = None,
) -> Projection:
    k = arms.n_arms
    return project(
        np.asarray(desired, dtype=float),
        arms,
        np.ones(k, bool) if active is None else np.asarray(active, bool),
        np.zeros(k, bool) if frozen is None else np.asarray(frozen, bool),
        total,
        params or GuardrailParams(platform_min_budget=20.0, max_step_up=0.5),
    )


def test_interior_desires_are_shifted_by_one_level_and_sum_to_the_total() -> None:
    arms = make_arms([100.0, 100.0, 100.0])
    out = run([130.0, 110.0, 60.0], arms, total=300.0)
    np.testing.assert_allclose(out.budget, [130.0, 110.0, 60.0])
    out = run([140.0, 120.0, 100.0], arms, total=300.0)
    np.testing.assert_allclose(out.budget, [120.0, 100.0, 80.0])
    assert out.binding.tolist() == [Binding.FREE] * 3
    assert out.infeasible == Infeasibility.OK
    assert out.shortfall == 0.0


def test_cents_are_distributed_so_the_sum_is_exact() -> None:
    arms = make_arms([100.0, 100.0, 100.0])
    out = run([100.0, 100.0, 100.0], arms, total=100.0 + 100.0 + 100.01)
    assert round(out.budget.sum() * 100) == 30001
    assert sorted(np.round(out.budget * 100).astype(int).tolist()) == [10000, 10000, 10001]
    out = run([40.0, 40.0, 40.0], make_arms([60.0, 60.0, 60.0]), total=100.0)
    assert np.round(out.budget * 100).astype(int).tolist() == [3334, 3333, 3333]


def test_step_caps_bound_moves_and_the_rest_is_a_reported_shortfall() -> None:
    arms = make_arms([100.0, 100.0, 100.0])
    out = run([900.0, 50.0, 50.0], arms, total=1000.0, active=[True, True, False])
    # arm 2 is paused; arm 0 may rise to 150, arm 1 to 150 at most
    np.testing.assert_allclose(out.budget, [150.0, 150.0, 0.0])
    assert out.infeasible == Infeasibility.SHORTFALL_STEP_UP
    np.testing.assert_allclose(out.shortfall, 700.0)
    np.testing.assert_allclose(out.infeasible_amount, 700.0)
    assert out.binding.tolist() == [Binding.STEP_UP, Binding.STEP_UP, Binding.INACTIVE]


def test_step_down_cap_keeps_a_cut_gradual() -> None:
    arms = make_arms([400.0, 100.0])
    out = run([30.0, 470.0], arms, total=500.0)
    np.testing.assert_allclose(out.budget, [350.0, 150.0])
    out = run([30.0, 470.0], arms, total=350.0)
    np.testing.assert_allclose(out.budget, [200.0, 150.0])
    assert out.binding.tolist() == [Binding.STEP_DOWN, Binding.STEP_UP]


def test_inactive_arms_get_zero_and_are_disabled_even_in_learning() -> None:
    arms = make_arms([100.0, 100.0])
    out = run([100.0, 100.0], arms, 200.0, active=[False, True], frozen=[True, True])
    assert out.budget.tolist() == [0.0, 100.0]
    assert out.enabled.tolist() == [False, True]
    assert out.binding[0] == Binding.INACTIVE
    assert out.binding[1] == Binding.LEARNING


def test_frozen_arms_keep_their_budget_and_the_others_take_the_rest() -> None:
    arms = make_arms([80.0, 100.0, 100.0])
    out = run([500.0, 10.0, 200.0], arms, 300.0, frozen=[True, False, False])
    assert out.budget[0] == 80.0
    np.testing.assert_allclose(out.budget.sum(), 300.0)


def test_frozen_arms_above_the_total_are_unfrozen_and_reported() -> None:
    arms = make_arms([300.0, 300.0, 300.0])
    out = run([300.0, 300.0, 300.0], arms, 400.0, frozen=[True, True, True])
    assert out.infeasible == Infeasibility.LEARNING_OVER_TOTAL
    np.testing.assert_allclose(out.infeasible_amount, 500.0)
    # unfrozen arms may step down to 150; three do not fit, so the least desired goes
    assert out.enabled.tolist() == [False, True, True]
    np.testing.assert_allclose(out.budget, [0.0, 200.0, 200.0])
    assert out.binding[0] == Binding.NO_ROOM
    assert out.budget.sum() <= 400.0


def test_an_arm_wishing_less_than_the_platform_minimum_is_paused_not_starved() -> None:
    arms = make_arms([100.0, 100.0, 100.0])
    out = run([5.0, 145.0, 150.0], arms, total=300.0)
    assert out.enabled.tolist() == [False, True, True]
    assert out.binding[0] == Binding.BELOW_MIN
    np.testing.assert_allclose(out.budget, [0.0, 150.0, 150.0])


def test_a_below_minimum_arm_stays_on_when_the_others_cannot_take_the_money() -> None:
    arms = make_arms([100.0, 100.0, 100.0])
    out = run([5.0, 145.0, 150.0], arms, total=330.0)
    # without arm 0 the step caps allow 300 only; arm 0 stays at the smallest it may take
    assert out.enabled.all()
    np.testing.assert_allclose(out.budget, [50.0, 137.5, 142.5])
    assert out.shortfall == 0.0


def test_below_minimum_arms_go_only_as_far_as_the_total_allows() -> None:
    out = run([1.0, 2.0, 3.0], make_arms([60.0, 60.0, 60.0]), total=100.0)
    # each may rise to 90: two arms are needed to place 100, the least desired goes
    assert out.enabled.tolist() == [False, True, True]
    np.testing.assert_allclose(out.budget, [0.0, 49.5, 50.5])


def test_an_arm_the_allocation_puts_at_the_platform_minimum_stays_on_whatever_the_noise() -> None:
    """20.01 is not a binary number: 100 x (20.01 - 1 ulp) is below 2001 cents by 2e-13.

    The allocation's floors put testing arms at the platform minimum; the rounding
    residue of its average (a few ulps either way) must not decide who runs.
    """
    params = GuardrailParams(platform_min_budget=20.01, max_step_up=0.5)
    arms = make_arms([0.0, 0.0, 100.0, 100.0], enabled=[False, False, True, True])
    for ulps in (-4, -1, 0, 1, 4):
        at_min = 20.01
        for _ in range(abs(ulps)):
            at_min = float(np.nextafter(at_min, np.sign(ulps) * np.inf))
        out = run([at_min, at_min, 100.0, 100.0], arms, total=240.0, params=params)
        assert out.enabled.all(), ulps
        assert Binding.BELOW_MIN not in out.binding.tolist(), ulps


def test_arms_tied_at_a_floor_are_cut_by_index_whatever_the_noise() -> None:
    """Ties in whole cents rank by index, so float noise never picks which arm is cut."""
    arms = make_arms([100.0, 100.0, 100.0, 100.0])
    tiny = 5e-14
    for first, second in ((0.0, tiny), (tiny, 0.0), (0.0, 0.0)):
        out = run([60.0 + first, 60.0 + second, 80.0, 90.0], arms, total=120.0)
        assert out.enabled.tolist() == [False, False, True, True]
        out = run([60.0 + first, 60.0 + second, 80.0, 90.0], arms, total=175.0)
        assert out.enabled.tolist() == [False, True, True, True]


def test_least_desired_arms_are_paused_when_the_minimums_do_not_fit() -> None:
    arms = make_arms([100.0, 100.0, 100.0, 100.0])
    out = run([60.0, 70.0, 80.0, 90.0], arms, total=120.0)
    # each running arm may drop to 50 at most: only two fit
    assert out.enabled.tolist() == [False, False, True, True]
    np.testing.assert_allclose(out.budget, [0.0, 0.0, 55.0, 65.0])
    assert out.binding[:2].tolist() == [Binding.NO_ROOM, Binding.NO_ROOM]


def test_new_arms_start_at_the_start_budget() -> None:
    arms = make_arms([0.0, 100.0, 50.0], enabled=[False, True, False])
    params = GuardrailParams(test_budget=30.0)
    out = run([200.0, 100.0, 100.0], arms, 200.0, params=params)
    assert out.budget[0] == 30.0
    assert out.budget[2] == 30.0
    assert out.binding[0] == Binding.START
    params = GuardrailParams(test_budget=30.0, new_arm_budget=45.0)
    out = run([200.0, 100.0, 100.0], arms, 200.0, params=params)
    assert out.budget[0] == 45.0
    assert GuardrailParams().start_budget == 20.01


def test_platform_minimum_beats_the_step_up_cap() -> None:
    arms = make_arms([10.0, 200.0])
    out = run([100.0, 100.0], arms, total=120.0)
    np.testing.assert_allclose(out.budget, [20.0, 100.0])


def test_max_share_caps_every_arm_and_beats_the_step_down_cap() -> None:
    arms = make_arms([900.0, 100.0])
    params = GuardrailParams(max_budget_share=0.4, max_step_up=0.5)
    out = run([900.0, 100.0], arms, 1000.0, params=params)
    np.testing.assert_allclose(out.budget, [400.0, 150.0])
    assert out.binding.tolist() == [Binding.MAX_SHARE, Binding.STEP_UP]
    assert out.infeasible == Infeasibility.SHORTFALL_STEP_UP


def test_a_max_below_the_platform_minimum_leaves_no_arm_able_to_run() -> None:
    arms = make_arms([50.0, 50.0])
    out = run([50.0, 50.0], arms, 100.0, params=GuardrailParams(max_budget_share=0.1))
    assert not out.enabled.any()
    assert out.binding.tolist() == [Binding.MAX_BELOW_MIN] * 2
    assert out.infeasible == Infeasibility.SHORTFALL_NO_ARMS
    assert out.shortfall == 100.0


def test_result_is_the_euclidean_projection_onto_the_bounds() -> None:
    rng = np.random.default_rng(5)
    today = rng.uniform(40.0, 400.0, 30)
    desired = rng.uniform(25.0, 600.0, 30)
    total = float(np.round(today.sum(), 2))
    out = run(desired, make_arms(list(today)), total)
    assert out.enabled.all()
    assert out.infeasible == Infeasibility.OK
    lo = np.maximum(20.0, today * 0.5)
    hi = today * 1.5
    gap = desired - out.budget
    free = (out.budget > lo + 0.01) & (out.budget < hi - 0.01)
    level = np.median(gap[free])
    np.testing.assert_allclose(gap[free], level, atol=0.011)  # KKT: one common shift
    assert (gap[out.budget <= lo + 0.01] <= level + 0.011).all()
    assert (gap[out.budget >= hi - 0.01] >= level - 0.011).all()


def test_large_edits_are_flagged() -> None:
    arms = make_arms([100.0, 100.0])
    out = run([140.0, 60.0], arms, 200.0)
    assert out.large_edit.tolist() == [True, True]
    out = run([120.0, 80.0], arms, 200.0)
    assert out.large_edit.tolist() == [False, False]


def test_batch_axes_are_kept() -> None:
    arms = make_arms([100.0, 100.0])
    desired = np.array([[[150.0, 50.0]], [[50.0, 150.0]]])
    out = project(
        desired,
        arms,
        np.ones(2, bool),
        np.zeros(2, bool),
        np.array([[200.0], [180.0]]),
        GuardrailParams(max_step_up=0.5),
    )
    assert out.budget.shape == (2, 1, 2)
    assert out.shortfall.shape == (2, 1)
    np.testing.assert_allclose(out.budget[:, 0], [[150.0, 50.0], [50.0, 130.0]])


def test_in_learning_ends_by_days_by_conversions_and_by_the_hard_ceiling() -> None:
    arms = make_arms(
        [50.0, 50.0, 50.0, 50.0, 0.0],
        days_since_launch=[1.0, 5.0, 1.0, 20.0, 1.0],
        days_since_edit=[np.inf, 2.0, np.inf, np.inf, np.inf],
    )
    conversions = np.array([10.0, 3.0, 60.0, 1.0, 0.0])
    assert in_learning(arms, conversions, GuardrailParams(learning_days=3.0)).tolist() == [
        True,  # young, few conversions
        True,  # old launch but a large edit two days ago
        False,  # enough conversions
        False,  # too old
        False,  # not running
    ]
    slow = GuardrailParams(learning_days=60.0, learning_max_days=14.0)
    assert in_learning(arms, conversions, slow)[3] is np.False_  # 20 days > hard ceiling


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_budget_share": 0.0}, "max_budget_share"),
        ({"max_budget_share": 1.5}, "max_budget_share"),
        ({"max_step_down": 1.5}, "max_step_down"),
        ({"max_step_up": -0.1}, "max_step_up"),
        ({"platform_min_budget": float("nan")}, "platform_min_budget"),
        ({"test_budget": -1.0}, "test_budget"),
    ],
    ids=["zero-share", "share-above-one", "cut-above-all", "negative-step", "nan-min", "neg-test"],
)
def test_guardrail_params_reject_out_of_range_values(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        GuardrailParams(**kwargs)


def test_project_rejects_bad_money() -> None:
    arms = make_arms([100.0, 100.0])
    with pytest.raises(ValueError, match="desired"):
        run([np.nan, 1.0], arms, 100.0)
    with pytest.raises(ValueError, match="total"):
        run([1.0, 1.0], arms, -1.0)
    with pytest.raises(ValueError, match="broadcast"):
        run([1.0, 1.0, 1.0], arms, 100.0)
