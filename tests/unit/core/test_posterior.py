from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from allocator._types import FloatArray
from allocator.core.arms import ArmState, History, Objective
from allocator.core.evidence import Evidence, PosteriorParams, discounted_evidence, fatigue_evidence
from allocator.core.families import BetaPosterior, GammaPosterior, thompson_choice
from allocator.core.lag import DEFAULT_LAG_PMF, LagModel
from allocator.core.pooling import pooled_prior, pooled_value_prior
from allocator.core.posterior import fit, posterior, reward_draws, update
from allocator.core.target import Target

CPA = Target(Objective.CPA, target_cpa=25.0)


def arms_of(is_spark: list[bool], creator: list[int]) -> ArmState:
    k = len(is_spark)
    return ArmState(
        is_spark=np.array(is_spark),
        creator=np.array(creator, dtype=np.int64),
        budget=np.full(k, 50.0),
        enabled=np.ones(k, dtype=bool),
        auth_days_left=np.full(k, np.inf),
        days_since_launch=np.full(k, 30.0),
        days_since_edit=np.full(k, np.inf),
        prev_stage=np.zeros(k, dtype=np.int64),
    )


def history_of(spend: Any, conversions: Any, value: Any = None) -> History:
    s = np.asarray(spend, dtype=np.float64)
    y = np.asarray(conversions, dtype=np.float64)
    v = np.zeros_like(s) if value is None else np.asarray(value, dtype=np.float64)
    return History(
        spend=s,
        conversions=y,
        value=v,
        impressions=np.zeros_like(s),
        observed=np.ones(s.shape, dtype=bool),
        age_days=np.arange(1, s.shape[-1] + 1, dtype=np.float64),
    )


def evidence_of(conversions: list[float], exposure: list[float]) -> Evidence:
    y, e = np.array(conversions), np.array(exposure)
    return Evidence(y, e, np.zeros_like(y), e.copy(), y.copy())


class TestLagModel:
    def test_default_is_a_seven_day_window_with_most_conversions_on_days_0_and_1(self) -> None:
        lag = LagModel.default()
        assert lag.window_days == 7
        assert lag.pmf.sum() == pytest.approx(1.0)
        assert lag.pmf[0] + lag.pmf[1] > 0.75
        assert np.all(np.diff(lag.pmf) <= 0)
        assert tuple(lag.pmf) == DEFAULT_LAG_PMF

    def test_age_1_sees_only_lag_0_and_the_window_end_sees_everything(self) -> None:
        lag = LagModel(np.array([0.5, 0.3, 0.2]))
        c = lag.reported_fraction(np.array([0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 100.0]))
        np.testing.assert_allclose(c, [0.0, 0.5, 0.65, 0.8, 1.0, 1.0, 1.0])

    def test_reported_fraction_keeps_the_shape_of_its_input(self) -> None:
        ages = np.arange(1.0, 7.0).reshape(2, 3)
        assert LagModel.default().reported_fraction(ages).shape == (2, 3)

    def test_equal_pmfs_compare_equal_and_hash_alike(self) -> None:
        assert LagModel(np.array([0.6, 0.4])) == LagModel(np.array([0.6, 0.4]))
        assert hash(LagModel(np.array([0.6, 0.4]))) == hash(LagModel(np.array([0.6, 0.4])))
        assert LagModel(np.array([0.6, 0.4])) != LagModel(np.array([0.5, 0.5]))

    def test_pmf_is_read_only(self) -> None:
        lag = LagModel(np.array([0.6, 0.4]))
        with pytest.raises(ValueError, match="read-only"):
            lag.pmf[0] = 1.0

    @pytest.mark.parametrize(
        ("pmf", "message"),
        [
            ([0.5, 0.6], "sum to 1"),
            ([1.2, -0.2], ">= 0"),
            ([], "non-empty"),
            ([[0.5, 0.5]], "1-D"),
            ([np.nan, 1.0], "finite"),
        ],
        ids=["not-summing-to-1", "negative", "empty", "two-dimensional", "nan"],
    )
    def test_invalid_pmf_is_rejected(self, pmf: Any, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            LagModel(np.array(pmf))


class TestPosteriorParams:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"half_life_days": -1.0}, "half_life_days"),
            ({"half_life_days": 0.0}, "half_life_days"),
            ({"half_life_days": float("nan")}, "half_life_days"),
            ({"prior_strength": 0.0}, "prior_strength"),
            ({"prior_strength": float("inf")}, "prior_strength"),
            ({"value_shape": -2.0}, "value_shape"),
            ({"value_shape": 0.5, "prior_strength": 1.0}, "exceed 1"),
            ({"lag_pmf": (0.5, 0.4)}, "sum to 1"),
            ({"lag_pmf": (1.5, -0.5)}, "lag_pmf"),
        ],
        ids=[
            "negative-half-life",
            "zero-half-life",
            "nan-half-life",
            "zero-strength",
            "infinite-strength",
            "negative-value-shape",
            "mean-value-undefined",
            "lag-not-summing-to-1",
            "lag-negative",
        ],
    )
    def test_invalid_parameters_are_rejected(self, kwargs: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            PosteriorParams(**kwargs)

    def test_infinite_half_life_disables_discounting(self) -> None:
        h = history_of([[10.0, 20.0, 30.0]], [[1.0, 2.0, 3.0]])
        params = PosteriorParams(half_life_days=float("inf"), lag_pmf=(1.0,))
        ev = discounted_evidence(h, params)
        np.testing.assert_allclose(ev.conversions, [6.0])
        np.testing.assert_allclose(ev.exposure, [60.0])


class TestEvidence:
    def test_matches_the_definition_day_by_day(self) -> None:
        rng = np.random.default_rng(1)
        spend = rng.uniform(0, 100, (3, 9))
        conv = rng.poisson(3, (3, 9)).astype(float)
        value = rng.uniform(0, 200, (3, 9))
        h = history_of(spend, conv, value)
        params = PosteriorParams(half_life_days=5.0)
        ev = discounted_evidence(h, params)
        for k in range(3):
            y = e = v = 0.0
            for d, age in enumerate(h.age_days):
                w = 0.5 ** (age / 5.0)
                c = min(sum(DEFAULT_LAG_PMF[: int(age)]), 1.0)
                y += w * conv[k, d]
                e += w * c * spend[k, d]
                v += w * value[k, d]
            assert ev.conversions[k] == pytest.approx(y)
            assert ev.exposure[k] == pytest.approx(e)
            assert ev.value[k] == pytest.approx(v)
        np.testing.assert_allclose(ev.spend_total, spend.sum(axis=1))
        np.testing.assert_allclose(ev.conversions_total, conv.sum(axis=1))

    def test_ages_below_one_are_rejected(self) -> None:
        h = history_of([[10.0]], [[1.0]])
        bad = History(h.spend, h.conversions, h.value, h.impressions, h.observed, np.array([0.0]))
        with pytest.raises(ValueError, match="age_days"):
            discounted_evidence(bad, PosteriorParams())

    def test_fatigue_split_uses_disjoint_days(self) -> None:
        conv = np.zeros((1, 20))
        conv[0, 5] = 1.0  # age 6: the last recent day for a 3-day half-life
        conv[0, 6] = 10.0  # age 7: the first earlier day
        h = history_of(np.full((1, 20), 10.0), conv)
        params = PosteriorParams(half_life_days=float("inf"))
        recent, earlier = fatigue_evidence(h, params, 3.0)
        np.testing.assert_allclose(recent.conversions, [0.25])
        np.testing.assert_allclose(earlier.conversions, [10.0])
        np.testing.assert_allclose(
            recent.exposure,
            [10.0 * (0.5 ** (np.arange(1, 7) / 3.0) * np.r_[DEFAULT_LAG_PMF][:6].cumsum()).sum()],
        )
        with pytest.raises(ValueError, match="recent_half_life_days"):
            fatigue_evidence(h, params, 0.0)


class TestPooledPrior:
    def test_no_data_anywhere_gives_a_weak_prior_on_the_target_rate(self) -> None:
        arms = arms_of([True, False, True], [0, 1, 2])
        prior = pooled_prior(evidence_of([0, 0, 0], [0, 0, 0]), arms, PosteriorParams(), 0.04)
        np.testing.assert_allclose(prior.shape, 2.0)
        np.testing.assert_allclose(prior.mean(), 0.04)

    def test_new_arm_gets_the_shrinkage_estimate_of_its_creator_and_kind(self) -> None:
        # arms 0, 1: spark, creator 0, with data; arm 2: spark, creator 0, new;
        # arm 3: dark, creator 1, with data.
        arms = arms_of([True, True, True, False], [0, 0, 0, 1])
        ev = evidence_of([10, 30, 0, 5], [400, 600, 0, 500])
        n0, r0 = 2.0, 0.04
        prior = pooled_prior(ev, arms, PosteriorParams(prior_strength=n0), r0)
        # each neighbour counted once, at the finest level it shares with arm 2:
        # the dark arm 3 at the global level, arms 0 and 1 in the (spark, creator 0) cell
        r_global = (5 + n0) / (500 + n0 / r0)
        r_kind = (0 + n0) / (0 + n0 / r_global)  # no spark arm of another creator
        r_cell = (40 + n0) / (1000 + n0 / r_kind)
        assert prior.mean()[2] == pytest.approx(r_cell)
        assert prior.shape[2] == n0
        by_kind = pooled_prior(ev, arms, PosteriorParams(pool_by_creator=False), r0)
        assert by_kind.mean()[2] == pytest.approx((40 + n0) / (1000 + n0 / r_global))

    def test_an_arms_own_data_never_enters_its_prior(self) -> None:
        arms = arms_of([True, True, False], [0, 0, 1])
        a = pooled_prior(evidence_of([10, 3, 4], [400, 90, 100]), arms, PosteriorParams(), 0.04)
        b = pooled_prior(evidence_of([99, 3, 4], [700, 90, 100]), arms, PosteriorParams(), 0.04)
        assert a.rate[0] == pytest.approx(b.rate[0])
        assert a.rate[1] != pytest.approx(b.rate[1])

    def test_negative_creator_codes_and_bad_centres_are_rejected(self) -> None:
        ev = evidence_of([1, 2], [10, 20])
        with pytest.raises(ValueError, match="creator"):
            pooled_prior(ev, arms_of([True, False], [0, -1]), PosteriorParams(), 0.04)
        with pytest.raises(ValueError, match="prior_rate"):
            pooled_prior(ev, arms_of([True, False], [0, 1]), PosteriorParams(), 0.0)

    def test_value_prior_centres_on_the_pooled_mean_value(self) -> None:
        arms = arms_of([True, True], [0, 0])
        ev = Evidence(
            conversions=np.array([20.0, 0.0]),
            exposure=np.array([500.0, 0.0]),
            value=np.array([1000.0, 0.0]),
            spend_total=np.array([500.0, 0.0]),
            conversions_total=np.array([20.0, 0.0]),
        )
        prior = pooled_value_prior(ev, arms, PosteriorParams(), 30.0)
        # arm 0 shares arm 1's cell, so its data counts once, at the cell level
        m_cell = (1000 + 2 * 30.0) / (20 + 2)
        assert prior.mean()[1] == pytest.approx(m_cell)
        assert prior.mean()[0] == pytest.approx(30.0)


class TestConjugateUpdate:
    def test_update_adds_discounted_conversions_and_exposure(self) -> None:
        prior = GammaPosterior(np.array([2.0, 3.0]), np.array([50.0, 80.0]))
        post = update(prior, evidence_of([4.0, 0.5], [100.0, 10.0]))
        np.testing.assert_allclose(post.shape, [6.0, 3.5])
        np.testing.assert_allclose(post.rate, [150.0, 90.0])

    def test_posterior_is_the_pooled_prior_updated_by_the_evidence(self) -> None:
        arms = arms_of([True, False, True], [0, 1, 0])
        h = history_of(np.full((3, 5), 40.0), [[1, 2, 0, 1, 3], [0, 0, 1, 0, 0], [2] * 5])
        params = PosteriorParams()
        ev = discounted_evidence(h, params)
        expected = update(pooled_prior(ev, arms, params, 0.04), ev)
        post = posterior(h, arms, params, 0.04)
        np.testing.assert_allclose(post.shape, expected.shape)
        np.testing.assert_allclose(post.rate, expected.rate)

    def test_sample_has_shape_batch_draws_arms_and_gamma_moments(self) -> None:
        shape = np.array([[4.0, 40.0], [9.0, 1.5]])
        rate = np.array([[100.0, 800.0], [300.0, 20.0]])
        post = GammaPosterior(shape, rate)
        draws = post.sample(np.random.default_rng(3), 20_000)
        assert draws.shape == (2, 20_000, 2)
        se = np.sqrt(shape) / rate / np.sqrt(20_000)
        assert np.all(np.abs(draws.mean(axis=1) - shape / rate) < 4 * se)
        np.testing.assert_allclose(draws.var(axis=1), shape / rate**2, rtol=0.05)
        with pytest.raises(ValueError, match="n_draws"):
            post.sample(np.random.default_rng(0), 0)

    def test_take_reorders_arms(self) -> None:
        post = GammaPosterior(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
        taken = post.take(np.array([2, 0]))
        np.testing.assert_array_equal(taken.shape, [3.0, 1.0])
        np.testing.assert_array_equal(taken.rate, [6.0, 4.0])


class TestBetaPosterior:
    def test_update_and_mean(self) -> None:
        post = BetaPosterior.uniform((), 3).update(np.array([3.0, 0.0, 1.0]), np.array([4, 2, 1]))
        np.testing.assert_allclose(post.alpha, [4, 1, 2])
        np.testing.assert_allclose(post.beta, [2, 3, 1])
        np.testing.assert_allclose(post.mean(), [4 / 6, 1 / 4, 2 / 3])

    def test_observe_updates_only_the_pulled_arm_of_each_batch_row(self) -> None:
        post = BetaPosterior.uniform((2,), 3).observe(np.array([2, 0]), np.array([1.0, 0.0]))
        np.testing.assert_array_equal(post.alpha, [[1, 1, 2], [1, 1, 1]])
        np.testing.assert_array_equal(post.beta, [[1, 1, 1], [2, 1, 1]])

    def test_sample_shape_and_mean(self) -> None:
        post = BetaPosterior(np.array([[30.0, 5.0]]), np.array([[70.0, 45.0]]))
        draws = post.sample(np.random.default_rng(0), 10_000)
        assert draws.shape == (1, 10_000, 2)
        np.testing.assert_allclose(draws.mean(axis=1), [[0.3, 0.1]], atol=0.005)


class _Tied:
    """A posterior whose draws are all equal: every choice is a tie."""

    def mean(self) -> FloatArray:
        return np.zeros((4000, 4))

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        return np.zeros((4000, n_draws, 4))


def test_thompson_choice_breaks_ties_uniformly_not_toward_the_first_arm() -> None:
    choice = thompson_choice(_Tied(), np.random.default_rng(0))
    counts = np.bincount(choice, minlength=4)
    assert choice.shape == (4000,)
    assert np.all(np.abs(counts - 1000) < 4 * np.sqrt(1000 * 0.75))


def test_thompson_choice_picks_the_clearly_better_arm() -> None:
    post = BetaPosterior(np.array([[1.0, 900.0]] * 50), np.array([[900.0, 1.0]] * 50))
    np.testing.assert_array_equal(thompson_choice(post, np.random.default_rng(0)), 1)


class TestFit:
    def test_cpa_model_has_no_value_part_and_samples_lambda(self) -> None:
        arms = arms_of([True, False], [0, 1])
        h = history_of(np.full((2, 10), 50.0), np.full((2, 10), 2.0))
        model = fit(h, arms, PosteriorParams(), CPA)
        assert model.value is None
        np.testing.assert_allclose(model.reward_mean(), model.rate.mean())
        draws = model.sample(np.random.default_rng(0), 50)
        assert draws.shape == (50, 2)

    def test_roas_with_no_data_centres_the_reward_on_the_target(self) -> None:
        arms = arms_of([True, False, False], [0, 1, 1])
        h = History.empty((), 3)
        model = fit(h, arms, PosteriorParams(), Target(Objective.ROAS, target_roas=3.0))
        assert model.value is not None
        np.testing.assert_allclose(model.reward_mean(), 3.0)

    def test_roas_value_per_conversion_learns_from_reported_value(self) -> None:
        arms = arms_of([True, False], [0, 1])
        conv = np.full((2, 30), 5.0)
        h = history_of(np.full((2, 30), 100.0), conv, conv * np.array([[40.0], [80.0]]))
        model = fit(h, arms, PosteriorParams(), Target(Objective.ROAS, target_roas=2.0))
        assert model.value is not None
        np.testing.assert_allclose(model.value.mean(), [40.0, 80.0], rtol=0.05)
        draws = model.sample(np.random.default_rng(0), 20_000)
        np.testing.assert_allclose(draws.mean(axis=0), model.reward_mean(), rtol=0.02)

    def test_mismatched_history_and_arms_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="do not match"):
            fit(History.empty((), 3), arms_of([True], [0]), PosteriorParams(), CPA)

    def test_reward_draws_repeat_with_the_same_seed(self) -> None:
        arms = arms_of([True, False], [0, 1])
        h = history_of(np.full((2, 4), 30.0), np.ones((2, 4)))
        a = reward_draws(h, arms, PosteriorParams(), CPA, np.random.default_rng(7), 100)
        b = reward_draws(h, arms, PosteriorParams(), CPA, np.random.default_rng(7), 100)
        np.testing.assert_array_equal(a, b)
