from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

from allocator._types import FloatArray, IntArray
from allocator.core.arms import ArmState, History, Objective, Stage
from allocator.core.decisions import DecisionParams, Decisions, decide
from allocator.core.evidence import Evidence, PosteriorParams
from allocator.core.families import GammaPosterior
from allocator.core.posterior import ArmModel, fit, update
from allocator.core.target import Target

CPA = Target(Objective.CPA, target_cpa=25.0)
ROAS = Target(Objective.ROAS, target_roas=2.5)
PROPERTY = settings(max_examples=60, deadline=None)
AUTH_DAYS = st.sampled_from([np.inf, np.nan, -1.0, 0.0, 0.99, 1.0, 2.99, 3.0, 5.0, 30.0])


@dataclass(frozen=True)
class Case:
    history: History
    arms: ArmState


@st.composite
def cases(draw: st.DrawFn, batch: tuple[int, ...] = ()) -> Case:
    k = draw(st.integers(1, 5))
    d = draw(st.integers(0, 10))
    shape = (*batch, k, d)
    spend = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 400)))
    conv = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 15))).astype(np.float64)
    observed = draw(hnp.arrays(np.bool_, shape))
    history = History(spend, conv, conv * 40.0, spend * 50, observed, np.arange(1.0, d + 1))
    arm_shape = (*batch, k)
    arms = ArmState(
        is_spark=draw(hnp.arrays(np.bool_, arm_shape)),
        creator=draw(hnp.arrays(np.int64, arm_shape, elements=st.integers(0, 2))),
        budget=draw(hnp.arrays(np.float64, arm_shape, elements=st.sampled_from([0.0, 50.0]))),
        enabled=draw(hnp.arrays(np.bool_, arm_shape)),
        auth_days_left=draw(hnp.arrays(np.float64, arm_shape, elements=AUTH_DAYS)),
        days_since_launch=draw(
            hnp.arrays(np.float64, arm_shape, elements=st.sampled_from([0.0, 1.0, 2.0, 30.0]))
        ),
        days_since_edit=np.full(arm_shape, np.inf),
        prev_stage=draw(hnp.arrays(np.int64, arm_shape, elements=st.sampled_from(list(Stage)))),
    )
    return Case(history, arms)


def run(case: Case, target: Target, seed: int, n_draws: int = 64) -> tuple[ArmModel, FloatArray]:
    model = fit(case.history, case.arms, PosteriorParams(), target)
    return model, model.sample(np.random.default_rng(seed), n_draws)


def decision_arrays(d: Decisions) -> dict[str, np.ndarray]:
    names = [f.name for f in fields(d) if isinstance(getattr(d, f.name), np.ndarray)]
    arrays = {name: getattr(d, name) for name in names}
    intervals = d.intervals()  # computed when read
    return arrays | {f.name: getattr(intervals, f.name) for f in fields(intervals)}


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for name, x in a.items():
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, b[name], rtol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(x, b[name], err_msg=name)


def take_model(model: ArmModel, perm: IntArray) -> ArmModel:
    ev = model.evidence
    evidence = Evidence(*(getattr(ev, f)[..., perm] for f in Evidence.__slots__))
    return ArmModel(model.params, evidence, model.prior.take(perm), model.rate.take(perm), None)


@PROPERTY
@given(cases(), st.sampled_from([CPA, ROAS]), st.integers(0, 2**16))
def test_blocked_arms_always_stage_blocked(case: Case, target: Target, seed: int) -> None:
    params = DecisionParams()
    model, draws = run(case, target, seed)
    d = decide(draws, model, case.arms, case.history, target, params)
    blocked = ~(case.arms.auth_days_left >= params.min_remaining_days)
    np.testing.assert_array_equal(d.stage == Stage.BLOCKED, blocked)
    assert np.all(d.stage[blocked] != Stage.SCALING)
    prev = case.arms.prev_stage
    eligible = ~blocked & (prev != Stage.PAUSED) & (prev != Stage.RESTING)
    # paused arms stay paused; resting ones rest or come back to testing, never straight
    # to scaling (unless blocked)
    assert np.all(d.stage[~blocked & (prev == Stage.PAUSED)] == Stage.PAUSED)
    back = d.stage[~blocked & (prev == Stage.RESTING)]
    assert np.all((back == Stage.RESTING) | (back == Stage.TESTING))
    if eligible.any():
        assert np.all(d.p_best[~eligible] == 0.0)
        assert abs(d.p_best.sum() - 1.0) < 1e-9
        assert np.all(d.expected_loss[eligible] >= 0)
        assert np.all(d.value_remaining[eligible] >= 0)
    assert np.all((d.p_meets_target >= 0) & (d.p_meets_target <= 1))
    assert np.all(d.intervals().cpa_low <= d.intervals().cpa_high)


@PROPERTY
@given(cases(), st.data(), st.integers(0, 2**16))
def test_permuting_arms_permutes_the_decisions(case: Case, data: st.DataObject, seed: int) -> None:
    model, draws = run(case, CPA, seed)
    perm = np.array(data.draw(st.permutations(range(case.arms.n_arms))), dtype=np.int64)
    h, a = case.history, case.arms
    history = History(
        h.spend[perm], h.conversions[perm], h.value[perm], h.impressions[perm],
        h.observed[perm], h.age_days,
    )  # fmt: skip
    arms = ArmState(*(getattr(a, f)[perm] for f in ArmState.__slots__))
    params = DecisionParams()
    base = decide(draws, model, a, h, CPA, params)
    moved = decide(draws[:, perm], take_model(model, perm), arms, history, CPA, params)
    assert_same({n: x[perm] for n, x in decision_arrays(base).items()}, decision_arrays(moved))


@PROPERTY
@given(cases(batch=(3,)), st.sampled_from([CPA, ROAS]), st.integers(0, 2**16))
def test_batch_evaluation_equals_per_row_evaluation(case: Case, target: Target, seed: int) -> None:
    model, draws = run(case, target, seed)
    params = DecisionParams()
    batched = decision_arrays(decide(draws, model, case.arms, case.history, target, params))
    h, a = case.history, case.arms
    for row in range(3):
        row_case = Case(
            History(
                h.spend[row], h.conversions[row], h.value[row], h.impressions[row],
                h.observed[row], h.age_days,
            ),
            ArmState(*(getattr(a, f)[row] for f in ArmState.__slots__)),
        )  # fmt: skip
        row_model = fit(row_case.history, row_case.arms, PosteriorParams(), target)
        single = decide(draws[row], row_model, row_case.arms, row_case.history, target, params)
        assert_same({n: x[row] for n, x in batched.items()}, decision_arrays(single))


@PROPERTY
@given(cases(), st.sampled_from([CPA, ROAS]), st.integers(0, 2**16))
def test_same_seed_gives_the_same_decisions(case: Case, target: Target, seed: int) -> None:
    results = []
    for _ in range(2):
        model, draws = run(case, target, seed)
        d = decide(draws, model, case.arms, case.history, target, DecisionParams())
        results.append(decision_arrays(d))
    for name, x in results[0].items():
        np.testing.assert_array_equal(x, results[1][name], err_msg=name)


@PROPERTY
@given(
    st.integers(2, 5).flatmap(
        lambda k: st.tuples(
            hnp.arrays(np.float64, k, elements=st.floats(0, 60)),
            hnp.arrays(np.float64, k, elements=st.floats(1, 2000)),
            st.integers(0, k - 1),
            st.floats(0.5, 30),
        )
    ),
    st.integers(0, 2**16),
)
def test_more_conversions_never_lower_p_best_with_common_random_numbers(
    arrays: tuple[FloatArray, FloatArray, int, float], seed: int
) -> None:
    conversions, exposure, k, extra = arrays
    n = conversions.size
    prior = GammaPosterior(np.full(n, 2.0), np.full(n, 80.0))
    uniforms = np.random.default_rng(seed).random((400, n))
    arms = ArmState(
        is_spark=np.zeros(n, dtype=bool),
        creator=np.zeros(n, dtype=np.int64),
        budget=np.full(n, 50.0),
        enabled=np.ones(n, dtype=bool),
        auth_days_left=np.full(n, np.inf),
        days_since_launch=np.full(n, 30.0),
        days_since_edit=np.full(n, np.inf),
        prev_stage=np.zeros(n, dtype=np.int64),
    )

    def decide_with(conv: FloatArray) -> Decisions:
        ev = Evidence(conv, exposure, np.zeros(n), exposure, conv)
        post = update(prior, ev)
        # inverse-CDF draws: the same uniforms give larger draws for a larger shape
        draws = special.gammaincinv(post.shape, uniforms) / post.rate
        model = ArmModel(PosteriorParams(), ev, prior, post, None)
        return decide(draws, model, arms, History.empty((), n), CPA, DecisionParams())

    more = conversions.copy()
    more[k] += extra
    before, after = decide_with(conversions), decide_with(more)
    assert after.p_best[k] >= before.p_best[k]
    assert after.expected_loss[k] <= before.expected_loss[k] + 1e-15
    assert after.p_meets_target[k] >= before.p_meets_target[k] - 1e-12
    assert after.cpa_mean[k] <= before.cpa_mean[k]
