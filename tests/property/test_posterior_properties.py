from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from allocator.core.arms import ArmState, History, Objective
from allocator.core.evidence import PosteriorParams, discounted_evidence
from allocator.core.families import BetaPosterior
from allocator.core.lag import LagModel
from allocator.core.posterior import ArmModel, fit
from allocator.core.target import Target

CPA = Target(Objective.CPA, target_cpa=25.0)
ROAS = Target(Objective.ROAS, target_roas=2.5)
PROPERTY = settings(max_examples=60, deadline=None)


@dataclass(frozen=True)
class Case:
    history: History
    arms: ArmState


@st.composite
def cases(draw: st.DrawFn, batch: tuple[int, ...] = ()) -> Case:
    k = draw(st.integers(1, 6))
    d = draw(st.integers(0, 8))
    shape = (*batch, k, d)
    spend = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 500)))
    conv = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 20))).astype(np.float64)
    value = conv * draw(hnp.arrays(np.float64, shape, elements=st.floats(1, 200)))
    history = History(
        spend, conv, value, spend * 50, np.ones(shape, dtype=bool), np.arange(1.0, d + 1)
    )
    arm_shape = (*batch, k)
    arms = ArmState(
        is_spark=draw(hnp.arrays(np.bool_, arm_shape)),
        creator=draw(hnp.arrays(np.int64, arm_shape, elements=st.integers(0, 2))),
        budget=np.full(arm_shape, 50.0),
        enabled=np.ones(arm_shape, dtype=bool),
        auth_days_left=np.full(arm_shape, np.inf),
        days_since_launch=np.full(arm_shape, 30.0),
        days_since_edit=np.full(arm_shape, np.inf),
        prev_stage=np.zeros(arm_shape, dtype=np.int64),
    )
    return Case(history, arms)


params_st = st.builds(
    PosteriorParams,
    half_life_days=st.sampled_from([1.0, 7.0, 14.0, float("inf")]),
    prior_strength=st.floats(0.6, 10.0),
    pool_by_creator=st.booleans(),
)


def permute_case(case: Case, perm: np.ndarray) -> Case:
    h, a = case.history, case.arms
    history = History(
        h.spend[..., perm, :],
        h.conversions[..., perm, :],
        h.value[..., perm, :],
        h.impressions[..., perm, :],
        h.observed[..., perm, :],
        h.age_days,
    )
    arms = ArmState(*(getattr(a, f)[..., perm] for f in ArmState.__slots__))
    return Case(history, arms)


def model_arrays(model: ArmModel) -> list[np.ndarray]:
    out = [model.rate.shape, model.rate.rate, model.prior.rate]
    if model.value is not None:
        out += [model.value.shape, model.value.rate]
    return out


@PROPERTY
@given(cases(), params_st, st.data())
def test_adding_conversions_to_an_arm_never_lowers_its_posterior_mean(
    case: Case, params: PosteriorParams, data: st.DataObject
) -> None:
    h = case.history
    if h.n_days == 0:
        return
    k = data.draw(st.integers(0, case.arms.n_arms - 1))
    day = data.draw(st.integers(0, h.n_days - 1))
    extra = data.draw(st.integers(1, 10))
    conv = h.conversions.copy()
    conv[k, day] += extra
    more = History(h.spend, conv, h.value, h.impressions, h.observed, h.age_days)
    before = fit(h, case.arms, params, CPA).rate.mean()[k]
    after = fit(more, case.arms, params, CPA).rate.mean()[k]
    assert after >= before * (1 - 1e-12)


@PROPERTY
@given(cases(), params_st, st.sampled_from([CPA, ROAS]), st.data())
def test_permuting_arms_permutes_the_posterior(
    case: Case, params: PosteriorParams, target: Target, data: st.DataObject
) -> None:
    perm = np.array(data.draw(st.permutations(range(case.arms.n_arms))))
    base = fit(case.history, case.arms, params, target)
    moved = permute_case(case, perm)
    permuted = fit(moved.history, moved.arms, params, target)
    for x, y in zip(model_arrays(base), model_arrays(permuted), strict=True):
        np.testing.assert_allclose(x[..., perm], y, rtol=1e-12)


@PROPERTY
@given(cases(batch=(3,)), params_st, st.sampled_from([CPA, ROAS]))
def test_batch_evaluation_equals_per_row_evaluation(
    case: Case, params: PosteriorParams, target: Target
) -> None:
    batched = fit(case.history, case.arms, params, target)
    h, a = case.history, case.arms
    for row in range(3):
        row_history = History(
            h.spend[row],
            h.conversions[row],
            h.value[row],
            h.impressions[row],
            h.observed[row],
            h.age_days,
        )
        row_arms = ArmState(*(getattr(a, f)[row] for f in ArmState.__slots__))
        single = fit(row_history, row_arms, params, target)
        for x, y in zip(model_arrays(batched), model_arrays(single), strict=True):
            np.testing.assert_allclose(x[row], y, rtol=1e-12)


@PROPERTY
@given(cases(batch=(2,)), st.sampled_from([CPA, ROAS]), st.integers(0, 2**32 - 1))
def test_same_seed_gives_the_same_draws(case: Case, target: Target, seed: int) -> None:
    model = fit(case.history, case.arms, PosteriorParams(), target)
    a = model.sample(np.random.default_rng(seed), 20)
    b = model.sample(np.random.default_rng(seed), 20)
    assert a.shape == (2, 20, case.arms.n_arms)
    np.testing.assert_array_equal(a, b)
    assert np.all(a >= 0)


@PROPERTY
@given(cases(), params_st)
def test_evidence_is_non_negative_and_exposure_never_exceeds_discounted_spend(
    case: Case, params: PosteriorParams
) -> None:
    ev = discounted_evidence(case.history, params)
    w = 0.5 ** (case.history.age_days / params.half_life_days)
    assert np.all(ev.exposure >= 0)
    assert np.all(ev.conversions >= 0)
    assert np.all(ev.exposure <= case.history.spend @ w + 1e-9)
    assert np.all(ev.conversions <= ev.conversions_total + 1e-9)


@PROPERTY
@given(st.lists(st.floats(0, 1), min_size=1, max_size=10).filter(lambda x: sum(x) > 0.01))
def test_reported_fraction_is_a_cdf_reaching_one_at_the_window_end(weights: list[float]) -> None:
    pmf = np.array(weights) / np.sum(weights)
    lag = LagModel(pmf)
    ages = np.linspace(0, pmf.size + 3, 50)
    c = lag.reported_fraction(ages)
    assert np.all(np.diff(c) >= -1e-12)
    assert np.all((c >= 0) & (c <= 1))
    assert lag.reported_fraction(np.array([float(pmf.size)]))[0] == 1.0


@PROPERTY
@given(
    hnp.arrays(np.int64, 5, elements=st.integers(0, 3)),
    hnp.arrays(np.bool_, 5),
)
def test_one_pull_per_row_equals_a_count_update(arm: np.ndarray, reward: np.ndarray) -> None:
    prior = BetaPosterior.uniform((5,), 4)
    hits = (np.arange(4) == arm[:, None]).astype(np.float64)
    by_pull = prior.observe(arm, reward)
    by_count = prior.update(hits * reward[:, None], hits)
    np.testing.assert_array_equal(by_pull.alpha, by_count.alpha)
    np.testing.assert_array_equal(by_pull.beta, by_count.beta)
