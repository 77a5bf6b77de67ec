from __future__ import annotations

from dataclasses import dataclass
from random import Random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from allocator._types import BoolArray, FloatArray
from allocator.core.allocation import (
    Binding,
    GuardrailParams,
    Infeasibility,
    Projection,
    project,
    thompson_allocate,
)
from allocator.core.arms import ArmState

UPPER_KINDS = {Binding.STEP_UP, Binding.MAX_SHARE, Binding.PLATFORM_MIN, Binding.LEARNING}
UPPER_KINDS |= {Binding.START}
EPS = 1e-9
Inputs = tuple[FloatArray, FloatArray, FloatArray, FloatArray]  # draws, floors, caps, total

_cents = st.integers(0, 300_000).map(lambda c: c / 100.0)
_reward = st.one_of(st.integers(0, 3).map(float), st.floats(0.0, 5.0, allow_subnormal=False))


@dataclass(frozen=True)
class Case:
    desired: FloatArray
    arms: ArmState
    active: BoolArray
    frozen: BoolArray
    total: FloatArray
    params: GuardrailParams

    def run(self) -> Projection:
        return project(self.desired, self.arms, self.active, self.frozen, self.total, self.params)


@st.composite
def params_strategy(draw: st.DrawFn) -> GuardrailParams:
    return GuardrailParams(
        platform_min_budget=draw(st.sampled_from([0.0, 5.0, 20.0, 50.0])),
        max_budget_share=draw(st.sampled_from([0.05, 0.3, 0.5, 1.0])),
        max_step_up=draw(st.sampled_from([0.0, 0.2, 0.5, 1.0])),
        max_step_down=draw(st.sampled_from([0.0, 0.3, 0.5, 1.0])),
        test_budget=draw(st.sampled_from([None, 10.0, 40.0])),
        new_arm_budget=draw(st.sampled_from([None, 30.0, 75.5])),
    )


@st.composite
def cases(draw: st.DrawFn, batch: int = 1, unique_desired: bool = False) -> Case:
    k = draw(st.integers(1, 10))
    shape = (batch, k) if batch > 1 else (k,)
    budget = draw(arrays(np.float64, shape, elements=_cents))
    budget = np.where(draw(arrays(np.bool_, shape)), 0.0, budget)  # some arms not delivering
    # unique desired budgets differ by whole cents: the projection ranks by whole cents
    values = (
        st.integers(0, 400_000).map(lambda c: c / 100.0)
        if unique_desired
        else st.floats(0.0, 4000.0)
    )
    desired = draw(arrays(np.float64, shape, elements=values, unique=unique_desired))
    total = draw(arrays(np.float64, shape[:-1], elements=_cents))
    arms = ArmState(
        is_spark=np.zeros(shape, bool),
        creator=np.zeros(shape, np.int64),
        budget=budget,
        enabled=draw(arrays(np.bool_, shape)) | (budget > 0),
        auth_days_left=np.full(shape, np.inf),
        days_since_launch=np.full(shape, 30.0),
        days_since_edit=np.full(shape, np.inf),
        prev_stage=np.zeros(shape, np.int64),
    )
    active = draw(arrays(np.bool_, shape))
    frozen = draw(arrays(np.bool_, shape))
    return Case(desired, arms, active, frozen, total, draw(params_strategy()))


def largest_budget(case: Case) -> float:
    """max_budget_share x total, in whole cents (rounded down)."""
    share = case.params.max_budget_share * float(case.total)
    whole = min(np.floor(share * 100 + 1e-6), np.floor(float(case.total) * 100 + 1e-6))
    return float(whole) / 100


@settings(max_examples=200, deadline=None)
@given(cases())
def test_projection_never_exceeds_the_total_and_spends_it_when_allowed(case: Case) -> None:
    out = case.run()
    total = float(case.total)
    cents = out.budget * 100.0
    np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)  # whole cents
    assert out.budget.sum() <= total + EPS
    assert (out.budget >= 0).all()
    assert (out.budget[~out.enabled] == 0).all()
    assert abs(total - out.budget.sum() - out.shortfall) < 0.01
    if out.shortfall > 0:
        # nothing was left unspent that the guardrails would have allowed
        assert all(Binding(b) in UPPER_KINDS for b in out.binding[out.enabled])
        assert Binding.BELOW_MIN not in out.binding
        assert out.infeasible != Infeasibility.OK
        if out.infeasible != Infeasibility.LEARNING_OVER_TOTAL:
            np.testing.assert_allclose(out.infeasible_amount, out.shortfall)
    else:
        assert out.infeasible in (Infeasibility.OK, Infeasibility.LEARNING_OVER_TOTAL)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_enabled_arm_is_inside_its_bounds_and_step_caps(case: Case) -> None:
    out = case.run()
    p = case.params
    today = case.arms.budget
    biggest = largest_budget(case)
    running = case.arms.enabled & (today > 0)
    on = out.enabled
    least = max(p.platform_min_budget, 0.01)  # an enabled arm spends at least a cent
    assert (out.budget[on] >= least - EPS).all()
    assert (out.budget[on] <= biggest + EPS).all()
    assert not (on & ~case.active).any()
    stepped = on & running & (out.binding != Binding.LEARNING)
    up = np.maximum(today * (1 + p.max_step_up), least)
    down = np.minimum(today * (1 - p.max_step_down), biggest)
    assert (out.budget[stepped] <= up[stepped] + EPS).all()
    assert (out.budget[stepped] >= down[stepped] - EPS).all()
    start = min(max(np.floor(p.start_budget * 100 + 1e-6) / 100, least), biggest)
    np.testing.assert_allclose(out.budget[on & ~running], start, atol=EPS)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_inactive_arms_are_zero_and_frozen_arms_keep_their_budget(case: Case) -> None:
    out = case.run()
    assert (out.budget[~case.active] == 0).all()
    assert not out.enabled[~case.active].any()
    assert (out.binding[~case.active] == Binding.INACTIVE).all()
    p = case.params
    biggest = largest_budget(case)
    today = case.arms.budget
    frozen = case.frozen & case.active & case.arms.enabled & (today > 0)
    frozen &= biggest >= max(p.platform_min_budget, 0.01)  # arms that may run at all
    kept = np.clip(np.round(today, 2), max(p.platform_min_budget, 0.01), biggest)
    if out.infeasible != Infeasibility.LEARNING_OVER_TOTAL:
        assert out.enabled[frozen].all()
        np.testing.assert_allclose(out.budget[frozen], kept[frozen], atol=EPS)
    else:
        assert kept[frozen].sum() > float(case.total) + EPS
        np.testing.assert_allclose(out.infeasible_amount, kept[frozen].sum() - float(case.total))


@settings(max_examples=100, deadline=None)
@given(cases())
def test_projection_is_deterministic(case: Case) -> None:
    first, second = case.run(), case.run()
    for name in ("budget", "enabled", "shortfall", "binding", "infeasible", "large_edit"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def _moved(values: FloatArray, ulps: int) -> FloatArray:
    """``values`` moved by ``ulps`` units in the last place (down when negative)."""
    out = values.copy()
    for _ in range(abs(ulps)):
        out = np.nextafter(out, np.sign(ulps) * np.inf)
    return out


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(-8, 8))
def test_float_noise_in_the_desired_budgets_changes_nothing(case: Case, ulps: int) -> None:
    """Desired budgets carry rounding residue (an average of 64 water-fills puts a floor
    at 20.01 +- a few ulps); no decision of the projection may hang on it."""
    moved = np.maximum(_moved(case.desired, ulps), 0.0)  # money stays >= 0
    noisy = Case(moved, case.arms, case.active, case.frozen, case.total, case.params)
    out, out_n = case.run(), noisy.run()
    for name in ("budget", "enabled", "shortfall", "binding", "infeasible", "large_edit"):
        np.testing.assert_array_equal(getattr(out, name), getattr(out_n, name), err_msg=name)


@settings(max_examples=200, deadline=None)
@given(cases(unique_desired=True), st.randoms(use_true_random=False))
def test_permuting_arms_permutes_the_projection(case: Case, random: Random) -> None:
    k = case.desired.shape[-1]
    perm = np.array(random.sample(range(k), k))
    arms = ArmState(*(getattr(case.arms, f)[perm] for f in ArmState.__slots__))
    shuffled = Case(
        case.desired[perm], arms, case.active[perm], case.frozen[perm], case.total, case.params
    )
    out, out_p = case.run(), shuffled.run()
    np.testing.assert_array_equal(out.enabled[perm], out_p.enabled)
    np.testing.assert_allclose(out.budget[perm], out_p.budget, atol=0.01 + EPS)  # cent ties
    np.testing.assert_allclose(out.budget.sum(), out_p.budget.sum(), atol=EPS)
    assert out.infeasible == out_p.infeasible


@settings(max_examples=100, deadline=None)
@given(cases(batch=4))
def test_a_batch_projects_like_its_rows(case: Case) -> None:
    out = case.run()
    for i in range(4):
        arms = ArmState(*(getattr(case.arms, f)[i] for f in ArmState.__slots__))
        row = project(
            case.desired[i], arms, case.active[i], case.frozen[i], case.total[i], case.params
        )
        np.testing.assert_array_equal(out.budget[i], row.budget)
        np.testing.assert_array_equal(out.binding[i], row.binding)
        assert out.infeasible[i] == row.infeasible


@st.composite
def allocation_inputs(draw: st.DrawFn, batch: int | None = None) -> Inputs:
    k = draw(st.integers(1, 12))
    s = draw(st.integers(1, 20))
    lead = () if batch is None else (batch,)
    draws = draw(arrays(np.float64, (*lead, s, k), elements=_reward))
    floors = draw(arrays(np.float64, (*lead, k), elements=st.sampled_from([0.0, 20.0, 35.5])))
    caps = draw(arrays(np.float64, (*lead, k), elements=_cents))
    total = draw(arrays(np.float64, lead, elements=_cents))
    return draws, floors, caps, total


@settings(max_examples=200, deadline=None)
@given(allocation_inputs())
def test_thompson_allocation_sums_to_the_total_within_floors_and_caps(inputs: Inputs) -> None:
    draws, floors, caps, total_array = inputs
    out = thompson_allocate(draws, floors, caps, total_array)
    total = float(total_array)
    expected_sum = min(total, caps.sum())
    np.testing.assert_allclose(out.sum(), expected_sum, rtol=1e-9, atol=1e-7)
    assert (out <= caps + 1e-7).all()
    floor = np.minimum(floors, caps)
    if floor.sum() <= total:
        assert (out >= floor - 1e-7).all()
    else:  # floors scaled to fit
        np.testing.assert_allclose(out, floor * total / floor.sum(), atol=1e-7)


@settings(max_examples=200, deadline=None)
@given(allocation_inputs(), st.data())
def test_raising_one_arms_draws_never_lowers_its_budget(
    inputs: Inputs, data: st.DataObject
) -> None:
    draws, floors, caps, total = inputs
    arm = data.draw(st.integers(0, draws.shape[-1] - 1))
    lift = data.draw(arrays(np.float64, draws.shape[0], elements=st.sampled_from([0.0, 0.5, 2.0])))
    raised = draws.copy()
    raised[:, arm] += lift
    before = thompson_allocate(draws, floors, caps, total)[arm]
    after = thompson_allocate(raised, floors, caps, total)[arm]
    assert after >= before - 1e-7


@settings(max_examples=200, deadline=None)
@given(allocation_inputs(), st.randoms(use_true_random=False))
def test_permuting_arms_permutes_the_thompson_allocation(inputs: Inputs, random: Random) -> None:
    draws, floors, caps, total = inputs
    k = draws.shape[-1]
    perm = np.array(random.sample(range(k), k))
    out = thompson_allocate(draws, floors, caps, total)
    out_p = thompson_allocate(draws[:, perm], floors[perm], caps[perm], total)
    np.testing.assert_allclose(out[perm], out_p, atol=1e-7)


@settings(max_examples=100, deadline=None)
@given(allocation_inputs(batch=3))
def test_a_batch_allocates_like_its_rows(inputs: Inputs) -> None:
    draws, floors, caps, total = inputs
    out = thompson_allocate(draws, floors, caps, total)
    for i in range(3):
        row = thompson_allocate(draws[i], floors[i], caps[i], total[i])
        np.testing.assert_allclose(out[i], row, atol=1e-7)
