"""Seeded statistical checks of the posterior and the stage machine (slow, still in CI)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from allocator._types import FloatArray
from allocator.core.arms import ArmState, History, Objective, Stage
from allocator.core.decisions import DecisionParams, decide
from allocator.core.evidence import PosteriorParams, discounted_evidence
from allocator.core.families import BetaPosterior, thompson_choice
from allocator.core.lag import LagModel
from allocator.core.pooling import pooled_prior
from allocator.core.posterior import fit
from allocator.core.target import Target

pytestmark = pytest.mark.slow

CPA = Target(Objective.CPA, target_cpa=25.0)


def simulate(
    rng: np.random.Generator,
    true_rate: FloatArray,
    spend: float,
    n_days: int,
    lag: LagModel,
    batch: tuple[int, ...] = (),
) -> History:
    """Daily rows: eventual conversions ~ Poisson(rate * spend), reported ~ thinned by lag.

    ``true_rate`` has shape ``(..., K, D)`` or broadcasts to it.
    """
    k = true_rate.shape[-2]
    age = np.arange(1, n_days + 1, dtype=np.float64)
    shape = (*batch, k, n_days)
    s = np.full(shape, spend)
    eventual = rng.poisson(np.broadcast_to(true_rate, shape) * s)
    reported = rng.binomial(eventual, lag.reported_fraction(age)).astype(np.float64)
    return History(s, reported, reported * 40.0, s * 80.0, np.ones(shape, dtype=bool), age)


def arm_state(batch: tuple[int, ...], k: int, auth_days_left: list[float]) -> ArmState:
    shape = (*batch, k)
    return ArmState(
        is_spark=np.broadcast_to(np.arange(k) % 2 == 0, shape).copy(),
        creator=np.broadcast_to(np.arange(k) // 2, shape).astype(np.int64),
        budget=np.full(shape, 60.0),
        enabled=np.ones(shape, dtype=bool),
        auth_days_left=np.broadcast_to(np.array(auth_days_left), shape).copy(),
        days_since_launch=np.full(shape, 30.0),
        days_since_edit=np.full(shape, np.inf),
        prev_stage=np.zeros(shape, dtype=np.int64),
    )


def test_posterior_matches_the_conjugate_closed_form() -> None:
    rng = np.random.default_rng(20)
    k, days = 6, 21
    h = simulate(rng, np.linspace(0.02, 0.07, k)[:, None], 80.0, days, LagModel.default())
    arms = arm_state((), k, [np.inf] * k)
    params = PosteriorParams(half_life_days=10.0, prior_strength=3.0)
    model = fit(h, arms, params, CPA)
    # closed form written out from the definition
    w = 0.5 ** (h.age_days / 10.0)
    c = params.lag.reported_fraction(h.age_days)
    prior = pooled_prior(model.evidence, arms, params, 1 / 25.0)
    np.testing.assert_allclose(model.rate.shape, 3.0 + (w * h.conversions).sum(axis=1))
    np.testing.assert_allclose(model.rate.rate, prior.rate + (w * c * h.spend).sum(axis=1))
    # draws follow that Gamma: Kolmogorov-Smirnov per arm, and the moments
    draws = model.sample(np.random.default_rng(21), 20_000)
    for j in range(k):
        dist = stats.gamma(model.rate.shape[j], scale=1.0 / model.rate.rate[j])
        assert stats.kstest(draws[:, j], dist.cdf).pvalue > 1e-3
    beta = BetaPosterior(np.array([3.0, 40.0]), np.array([9.0, 12.0]))
    bdraws = beta.sample(np.random.default_rng(22), 20_000)
    for j in range(2):
        dist_b = stats.beta(beta.alpha[j], beta.beta[j])
        assert stats.kstest(bdraws[:, j], dist_b.cdf).pvalue > 1e-3


def test_lag_correction_removes_the_downward_bias_on_recent_days() -> None:
    rng = np.random.default_rng(3)
    lam, n_reps = 0.05, 4000
    lag = LagModel.default()
    h = simulate(rng, np.array([[lam]]), 200.0, 14, lag, batch=(n_reps,))
    params = PosteriorParams(half_life_days=7.0)
    for window in (1, 3, 14):  # yesterday only, the last three days, two weeks
        cols = slice(0, window)
        recent = History(
            h.spend[..., cols],
            h.conversions[..., cols],
            h.value[..., cols],
            h.impressions[..., cols],
            h.observed[..., cols],
            h.age_days[cols],
        )
        ev = discounted_evidence(recent, params)
        w = 0.5 ** (recent.age_days / 7.0)
        naive = ev.conversions[:, 0] / (recent.spend[:, 0] @ w)
        corrected = ev.conversions[:, 0] / ev.exposure[:, 0]
        se_naive = naive.std() / np.sqrt(n_reps)
        se_corr = corrected.std() / np.sqrt(n_reps)
        assert naive.mean() < lam - 10 * se_naive, (window, naive.mean())
        assert abs(corrected.mean() - lam) < 3 * se_corr, (window, corrected.mean())


def test_a_clear_true_winner_is_scaled_in_at_least_95_percent_of_seeds() -> None:
    n_seeds, k, days = 200, 5, 14
    true_rate = np.array([0.03, 0.03, 0.06, 0.03, 0.025])[:, None]  # arm 2: CPA 16.7
    lag = LagModel.default()
    h = [
        simulate(np.random.default_rng(seed), true_rate, 150.0, days, lag)
        for seed in range(n_seeds)
    ]
    history = History(
        np.stack([x.spend for x in h]),
        np.stack([x.conversions for x in h]),
        np.stack([x.value for x in h]),
        np.stack([x.impressions for x in h]),
        np.stack([x.observed for x in h]),
        h[0].age_days,
    )
    arms = arm_state((n_seeds,), k, [np.inf] * k)
    model = fit(history, arms, PosteriorParams(), CPA)
    draws = model.sample(np.random.default_rng(1000), 1000)
    d = decide(draws, model, arms, history, CPA, DecisionParams())
    scaled_best = np.mean(d.stage[:, 2] == Stage.SCALING)
    scaled_other = np.mean(np.delete(d.stage, 2, axis=1) == Stage.SCALING)
    assert scaled_best >= 0.95, scaled_best
    assert scaled_other <= 0.01, scaled_other

    # the same winner whose authorization lapses in half a day (< min_remaining_days) is
    # never scaled, nor is an arm with a lapsed authorization
    blocked_arms = arm_state((n_seeds,), k, [np.inf, 0.0, 0.5, np.inf, np.inf])
    d = decide(draws, model, blocked_arms, history, CPA, DecisionParams())
    assert not np.any(d.stage[:, 1:3] == Stage.SCALING)
    assert np.all(d.stage[:, 1:3] == Stage.BLOCKED)
    assert np.all(d.p_best[:, 1:3] == 0.0)


def test_fatigue_is_detected_and_rarely_raised_on_steady_arms() -> None:
    # a scaled arm (400 per day) halves its rate over the last week; arm 1 is steady.
    # Power grows with volume: about 0.48 at 300 per day, 0.67 at 400, 0.79 at 600.
    n_reps, days = 400, 28
    age = np.arange(1, days + 1, dtype=np.float64)
    true_rate = np.stack([np.where(age <= 7, 0.03, 0.06), np.full(days, 0.05)])
    h = simulate(np.random.default_rng(9), true_rate, 400.0, days, LagModel.default(), (n_reps,))
    arms = arm_state((n_reps,), 2, [np.inf, np.inf])
    model = fit(h, arms, PosteriorParams(), CPA)
    d = decide(model.sample(np.random.default_rng(10), 200), model, arms, h, CPA, DecisionParams())
    detected, false_alarm = d.fatigued[:, 0].mean(), d.fatigued[:, 1].mean()
    assert detected >= 0.5, detected
    assert false_alarm <= 0.05, false_alarm


def test_bernoulli_thompson_sampling_concentrates_on_the_best_arm() -> None:
    # Chapelle & Li (2011) style: K arms, one pull per step, vectorised over replications
    rng = np.random.default_rng(11)
    n_reps, n_steps = 300, 1500
    p = np.array([0.10, 0.06, 0.06, 0.04, 0.04])
    post = BetaPosterior.uniform((n_reps,), p.size)
    late_best = 0
    for step in range(n_steps):
        arm = thompson_choice(post, rng)
        post = post.observe(arm, rng.random(n_reps) < p[arm])
        if step >= n_steps - 300:
            late_best += int(np.count_nonzero(arm == 0))
    pulls = post.alpha + post.beta - 2.0
    assert np.all(pulls.sum(axis=1) == n_steps)
    assert late_best / (300 * n_reps) > 0.5  # uniform play would give 0.2
    assert np.mean(np.argmax(pulls, axis=1) == 0) > 0.8
