"""Posteriors of each arm's reward: Gamma-Poisson on conversions per unit spend.

Model
-----
The reward of an arm is ``lambda``, conversions per currency unit spent (CPA = 1 / lambda).
With a prior ``Gamma(a0, b0)`` (shape, rate) and daily rows ``d`` the posterior is::

    a = a0 + sum_d w_d * y_d
    b = b0 + sum_d w_d * c(age_d) * s_d

with ``y`` the conversions reported so far, ``s`` the spend, ``w = 0.5 ** (age /
half_life)`` a time discount (old days count less, so creative fatigue shows) and ``c``
the share of a day's eventual conversions already reported (the lag correction).

Age
---
``History.age_days`` counts whole days before the planning day: the engine runs at the
start of the planning day, so age 1 is yesterday, whose own day is over. A conversion
reported ``j`` days after the day it is attributed to (lag ``j``; ``j = 0`` means on that
same day) is visible for a day of age ``a`` exactly when ``j <= a - 1``. Hence::

    c(a) = pmf[0] + ... + pmf[a - 1]      (c(1) = pmf[0]; c(a) = 1 for a >= window)

and, between whole days, ``c`` is interpolated linearly (``c(0) = 0``).

Default lag
-----------
TikTok's default attribution window is 7-day click / 1-day view, and reports date a
conversion by the ad interaction that earned it, so a day's count keeps growing until
its window closes: the default pmf has 7 entries (lags 0..6). View-through conversions
(1-day window) all land on lags 0-1 and most click-through purchases of DTC products
happen within hours of the click, so the pmf decays fast: ``[0.62, 0.16, 0.08, 0.05, 0.04,
0.03, 0.02]``, i.e. 62 % reported for yesterday, 78 % after two days, 91 % after four.
Without the correction yesterday would look 38 % worse than it is and every arm would
look fatigued. Calibrate it per account (compare successive exports of the same day) and
set ``lag_pmf``; if reports date conversions by their own time, use a short pmf that only
covers processing delay (e.g. ``[0.9, 0.1]``).

Pooled priors (empirical Bayes)
-------------------------------
A new arm starts from what its neighbours show, with the weight of ``n0 =
prior_strength`` conversions: ``Gamma(n0, n0 / r)`` where ``r`` is a shrinkage estimate
built top-down, each level shrinking towards its parent with ``n0`` pseudo-conversions::

    r_global = (Y_g + n0) / (E_g + n0 / r_0)          r_0 = prior_rate (the target)
    r_kind   = (Y_k + n0) / (E_k + n0 / r_global)     kind = spark | dark
    r_cell   = (Y_c + n0) / (E_c + n0 / r_kind)       cell = (kind, creator)

``Y`` and ``E`` are discounted conversions and lag-corrected exposure summed over the
arms of the group outside the arm's own subgroup at the next level (the global level
pools the other kind, the kind level the kind's other creators, the cell the creator's
other ads of that kind). An arm's own data never enters its prior, and every other arm's
data enters it exactly once, at the finest level the two share: counting a neighbour at
several levels would let a data-poor neighbour's prior outgrow the arm whose conversions
built it, so that more conversions could lower the arm's P(best). With no data anywhere
every prior is ``Gamma(n0, n0 / r_0)``: weak and centred on the target rate.

Value per conversion (ROAS)
---------------------------
Each conversion's value is modelled ``Gamma(kappa, beta)`` with known shape ``kappa =
value_shape`` (``2``: coefficient of variation 0.71, typical of order values); the
conjugate posterior of ``beta`` is ``Gamma(kappa * n0 + kappa * N, b0 + V)`` with ``N``
discounted reported conversions, ``V`` their reported value and ``b0`` set so the prior
mean value per conversion equals ``m``, the pooled mean (same leave-one-out shrinkage,
``m = (V + n0 * m_parent) / (N + n0)``). Reported conversions carry
their value, so no lag correction applies to value per conversion. Reward = ``lambda *
kappa / beta``, value per currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState, History, Objective
from allocator.core.target import Target

__all__ = [
    "DEFAULT_LAG_PMF",
    "ArmModel",
    "BetaPosterior",
    "Evidence",
    "GammaPosterior",
    "LagModel",
    "Posterior",
    "PosteriorParams",
    "ValuePosterior",
    "discounted_evidence",
    "exposure_weight",
    "fatigue_evidence",
    "fit",
    "pooled_prior",
    "pooled_value_prior",
    "posterior",
    "reward_draws",
    "thompson_choice",
    "update",
    "update_value",
]

DEFAULT_LAG_PMF: tuple[float, ...] = (0.62, 0.16, 0.08, 0.05, 0.04, 0.03, 0.02)
"""Share of a day's eventual conversions reported 0..6 days later (see module docstring)."""


def _draw_shape(params: FloatArray, n_draws: int) -> tuple[int, ...]:
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    return (*params.shape[:-1], n_draws, params.shape[-1])


@dataclass(frozen=True, eq=False)
class LagModel:
    """Conversion-lag distribution over the attribution window.

    Attributes:
        pmf: shape ``(W,)``; ``pmf[j]`` is the share of a day's eventual conversions
            reported ``j`` days after that day, ``j = 0..W-1``; sums to 1. ``W`` is the
            attribution window in days.
    """

    pmf: FloatArray

    def __post_init__(self) -> None:
        pmf = np.array(self.pmf, dtype=np.float64)
        if pmf.ndim != 1 or pmf.size == 0:
            raise ValueError(f"lag pmf must be a non-empty 1-D sequence, got shape {pmf.shape}")
        if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
            raise ValueError(f"lag pmf entries must be finite and >= 0, got {pmf.tolist()}")
        if abs(pmf.sum() - 1.0) > 1e-6:
            raise ValueError(f"lag pmf must sum to 1, sums to {pmf.sum():.6g}")
        pmf.setflags(write=False)
        object.__setattr__(self, "pmf", pmf)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LagModel) and np.array_equal(self.pmf, other.pmf)

    def __hash__(self) -> int:
        return hash(tuple(self.pmf.tolist()))

    @classmethod
    def default(cls) -> LagModel:
        """7-day window, 62 % reported on day 0 (TikTok 7-day click / 1-day view default)."""
        return cls(np.array(DEFAULT_LAG_PMF))

    @property
    def window_days(self) -> int:
        """Attribution window ``W`` in days."""
        return int(self.pmf.size)

    def reported_fraction(self, age_days: FloatArray) -> FloatArray:
        """Share ``c(age)`` of a day's eventual conversions reported by the planning day.

        Args:
            age_days: any shape; days before the planning day (1 = yesterday).

        Returns:
            Same shape, in [0, 1]: ``sum(pmf[:age])`` at whole ages, linear between them,
            0 at age <= 0 and 1 from the end of the window on.
        """
        cdf = np.minimum(np.concatenate(([0.0], np.cumsum(self.pmf))), 1.0)
        cdf[-1] = 1.0
        ages = np.arange(cdf.size, dtype=np.float64)
        return np.interp(np.asarray(age_days, dtype=np.float64), ages, cdf, left=0.0, right=1.0)


@dataclass(frozen=True)
class PosteriorParams:
    """Settings of the reward posterior (TOML table ``[posterior]``).

    Attributes:
        half_life_days: time discount ``w = 0.5 ** (age / half_life)``; ``inf`` disables.
        prior_strength: the pooled prior is worth this many conversions of evidence.
        lag: conversion-lag model (TOML ``lag_pmf``).
        pool_by_creator: pool by (kind, creator) under kind; False pools by kind only.
        value_shape: shape ``kappa`` of the per-conversion value distribution (ROAS);
            ``value_shape * prior_strength`` must exceed 1 so the mean value exists.
    """

    half_life_days: float = 14.0
    prior_strength: float = 2.0
    lag: LagModel = field(default_factory=LagModel.default)
    pool_by_creator: bool = True
    value_shape: float = 2.0

    def __post_init__(self) -> None:
        if not self.half_life_days > 0 or math.isnan(self.half_life_days):
            raise ValueError(
                f"half_life_days must be > 0 (inf disables), got {self.half_life_days}"
            )
        if not (math.isfinite(self.prior_strength) and self.prior_strength > 0):
            raise ValueError(f"prior_strength must be a positive number, got {self.prior_strength}")
        if not (math.isfinite(self.value_shape) and self.value_shape > 0):
            raise ValueError(f"value_shape must be a positive number, got {self.value_shape}")
        if self.value_shape * self.prior_strength <= 1:
            raise ValueError(
                "value_shape * prior_strength must exceed 1 (else the prior mean value per "
                f"conversion is infinite), got {self.value_shape * self.prior_strength:g}"
            )
        if not isinstance(self.lag, LagModel):
            raise ValueError(f"lag must be a LagModel, got {type(self.lag).__name__}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per-arm sufficient statistics, all of shape ``(..., K)``.

    Attributes:
        conversions: discounted reported conversions ``sum w * y``.
        exposure: discounted lag-corrected spend ``sum w * c(age) * s``, currency.
        value: discounted reported conversion value ``sum w * v``, currency.
        spend_total: undiscounted spend, currency (for minimum-evidence rules).
        conversions_total: undiscounted reported conversions.
    """

    conversions: FloatArray
    exposure: FloatArray
    value: FloatArray
    spend_total: FloatArray
    conversions_total: FloatArray


class Posterior(Protocol):
    """A posterior family over per-arm rates: its mean and its draws."""

    def mean(self) -> FloatArray:
        """Posterior mean, ``(..., K)``."""
        ...

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of shape ``(..., S, K)`` with ``S = n_draws``."""
        ...


@dataclass(frozen=True, slots=True)
class GammaPosterior:
    """``lambda ~ Gamma(shape, rate)``, conversions per currency unit.

    Attributes:
        shape: ``(..., K)``, in conversions.
        rate: ``(..., K)``, in currency.
    """

    shape: FloatArray
    rate: FloatArray

    def mean(self) -> FloatArray:
        """Posterior mean of lambda, conversions per currency, ``(..., K)``."""
        return self.shape / self.rate

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of lambda, ``(..., S, K)``."""
        size = _draw_shape(self.shape, n_draws)
        return rng.gamma(self.shape[..., None, :], 1.0 / self.rate[..., None, :], size=size)

    def take(self, index: IntArray) -> GammaPosterior:
        """Arms reordered or selected along the last axis."""
        return GammaPosterior(self.shape[..., index], self.rate[..., index])


@dataclass(frozen=True, slots=True)
class ValuePosterior:
    """Value per conversion ``m = kappa / beta`` with ``beta ~ Gamma(shape, rate)``.

    Attributes:
        shape: ``(..., K)``.
        rate: ``(..., K)``, currency.
        value_shape: ``kappa``, shape of one conversion's value distribution.
    """

    shape: FloatArray
    rate: FloatArray
    value_shape: float

    def mean(self) -> FloatArray:
        """Posterior mean value per conversion, currency, ``(..., K)`` (inf if undefined)."""
        with np.errstate(divide="ignore"):
            mean = self.value_shape * self.rate / (self.shape - 1.0)
        return np.where(self.shape > 1.0, mean, np.inf)

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of value per conversion, currency, ``(..., S, K)``."""
        size = _draw_shape(self.shape, n_draws)
        draws = rng.standard_gamma(self.shape[..., None, :], size=size)
        np.divide(self.value_shape * self.rate[..., None, :], draws, out=draws)
        return draws


@dataclass(frozen=True, slots=True)
class BetaPosterior:
    """Beta-Bernoulli posterior of a success rate per trial (impression, click or pull).

    Attributes:
        alpha: ``(..., K)``, prior + successes.
        beta: ``(..., K)``, prior + failures.
    """

    alpha: FloatArray
    beta: FloatArray

    @classmethod
    def uniform(cls, batch_shape: tuple[int, ...], n_arms: int) -> BetaPosterior:
        """The ``Beta(1, 1)`` prior for every arm, ``(*batch_shape, K)``."""
        ones = np.ones((*batch_shape, n_arms))
        return cls(ones, ones.copy())

    def mean(self) -> FloatArray:
        """Posterior mean success rate, ``(..., K)``."""
        return self.alpha / (self.alpha + self.beta)

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Draws of the success rate, ``(..., S, K)``."""
        size = _draw_shape(self.alpha, n_draws)
        return rng.beta(self.alpha[..., None, :], self.beta[..., None, :], size=size)

    def update(self, successes: FloatArray, trials: FloatArray) -> BetaPosterior:
        """Conjugate update with counts of shape ``(..., K)`` (successes <= trials)."""
        return BetaPosterior(self.alpha + successes, self.beta + (trials - successes))

    def observe(self, arm: IntArray, reward: FloatArray | BoolArray) -> BetaPosterior:
        """One pull per batch row: arm ``arm[...]`` paid ``reward[...]`` in [0, 1].

        Args:
            arm: ``(...)`` index of the pulled arm in each batch row.
            reward: ``(...)`` observed reward (0/1, or a fraction).

        Returns:
            The updated posterior; O(batch x K) array arithmetic, no loops.
        """
        hit = np.arange(self.alpha.shape[-1]) == np.asarray(arm)[..., None]
        r = np.asarray(reward, dtype=np.float64)[..., None]
        return BetaPosterior(self.alpha + hit * r, self.beta + hit * (1.0 - r))

    def observe_in_place(self, arm: IntArray, reward: FloatArray | BoolArray) -> None:
        """:meth:`observe` written into this posterior's own arrays (a simulator's loop).

        Bit-identical to ``observe`` (adding ``r`` and ``1 - r`` to the pulled arm is what
        adding ``hit * r`` does; the other arms add zero), without allocating ``(..., K)``
        arrays each step. The caller must own ``alpha`` and ``beta`` (e.g. from
        :meth:`uniform`), C-contiguous and not shared.

        Args:
            arm: ``(...)`` index of the pulled arm in each batch row.
            reward: ``(...)`` observed reward (0/1, or a fraction); a boolean reward
                counts as 1.0 / 0.0.
        """
        if not (self.alpha.flags.c_contiguous and self.beta.flags.c_contiguous):
            raise ValueError("observe_in_place needs C-contiguous alpha and beta arrays")
        n_arms = self.alpha.shape[-1]
        arm = np.asarray(arm)
        flat = arm.ravel() + np.arange(0, arm.size * n_arms, n_arms)
        hits: npt.NDArray[Any] = np.asarray(reward).ravel()
        misses = np.logical_not(hits) if hits.dtype == np.bool_ else 1.0 - hits
        alpha, beta = self.alpha.reshape(-1), self.beta.reshape(-1)  # views of our arrays
        alpha[flat] += hits
        beta[flat] += misses


def thompson_choice(post: Posterior, rng: np.random.Generator) -> IntArray:
    """One Thompson-sampling choice per batch row, ties broken uniformly at random.

    Returns:
        ``(...)`` arm indices: argmax over ``K`` of one posterior draw per arm.
    """
    draw = post.sample(rng, 1)[..., 0, :]
    top = draw.max(axis=-1, keepdims=True)
    best = np.argmax(draw, axis=-1)
    # one count over the whole batch: a row has at most K - 1 arms strictly below its
    # maximum, exactly K - 1 when no arm ties it (a NaN row has none), so the total
    # reaches best.size * (K - 1) only when no row is tied
    if np.count_nonzero(draw < top) == best.size * (draw.shape[-1] - 1):
        return np.asarray(best, dtype=np.int64)
    is_max = draw == top
    tied = np.count_nonzero(is_max, axis=-1) > 1
    if np.any(tied):  # exactly equal draws (e.g. zeros): pick uniformly among them
        noise = np.where(is_max, rng.random(draw.shape), -1.0)
        best = np.where(tied, np.argmax(noise, axis=-1), best)
    return np.asarray(best, dtype=np.int64)


def _discount(age_days: FloatArray, half_life_days: float) -> FloatArray:
    return np.power(0.5, np.asarray(age_days, dtype=np.float64) / half_life_days)


def _evidence(history: History, lag: LagModel, weight: FloatArray) -> Evidence:
    age = np.asarray(history.age_days, dtype=np.float64)
    if age.size and not np.all(age >= 1.0):
        raise ValueError(f"history.age_days must all be >= 1 (1 = yesterday), min {age.min()}")
    exposure_weight = weight * lag.reported_fraction(age)
    return Evidence(
        conversions=history.conversions @ weight,
        exposure=history.spend @ exposure_weight,
        value=history.value @ weight,
        spend_total=history.spend.sum(axis=-1),
        conversions_total=history.conversions.sum(axis=-1),
    )


def exposure_weight(history: History, params: PosteriorParams) -> FloatArray:
    """Weight of each day's spend in the exposure, ``(D,)``: discount x reported fraction."""
    age = np.asarray(history.age_days, dtype=np.float64)
    weight: FloatArray = _discount(age, params.half_life_days) * params.lag.reported_fraction(age)
    return weight


def discounted_evidence(history: History, params: PosteriorParams) -> Evidence:
    """Discounted, lag-corrected sufficient statistics of a history.

    Args:
        history: rows of shape ``(..., K, D)``; ``age_days`` ``(D,)``, all >= 1.
        params: half-life and lag model.

    Returns:
        :class:`Evidence` of shape ``(..., K)``.
    """
    return _evidence(history, params.lag, _discount(history.age_days, params.half_life_days))


def fatigue_evidence(
    history: History, params: PosteriorParams, recent_half_life_days: float
) -> tuple[Evidence, Evidence]:
    """Evidence split into a recent and an earlier part, on disjoint days, for fatigue.

    The recent part holds the days up to ``2 * recent_half_life_days`` old, weighted
    ``0.5 ** (age / recent_half_life_days)``; the earlier part holds the older days with
    the usual weight ``0.5 ** (age / params.half_life_days)``. Disjoint days make the two
    posteriors independent, and a step change shows almost undiluted (a halving one
    week ago measures as a ratio of about 0.52; overlapping exponential windows would
    show about 0.69 and hide a 30 % threshold).

    Returns:
        ``(recent, earlier)``, each of shape ``(..., K)``.
    """
    if not recent_half_life_days > 0:
        raise ValueError(f"recent_half_life_days must be > 0, got {recent_half_life_days}")
    age = np.asarray(history.age_days, dtype=np.float64)
    is_recent = age <= 2.0 * recent_half_life_days
    recent_w = np.where(is_recent, _discount(age, recent_half_life_days), 0.0)
    earlier_w = np.where(is_recent, 0.0, _discount(age, params.half_life_days))
    return _evidence(history, params.lag, recent_w), _evidence(history, params.lag, earlier_w)


class _Groups:
    """Per-batch-row group sums by integer code, for all arms at once (np.bincount)."""

    def __init__(self, codes: IntArray, n_groups: int) -> None:
        self.shape = codes.shape
        k = codes.shape[-1] if codes.ndim else 1
        rows = codes.size // k if k else 0
        offsets = n_groups * np.arange(rows, dtype=np.int64)[:, None]
        self.flat = (codes.reshape(rows, k) + offsets).ravel()
        self.size = rows * n_groups

    def total(self, values: FloatArray) -> FloatArray:
        """Sum of ``values`` over each arm's group, broadcast back to ``(..., K)``."""
        weights = np.broadcast_to(values, self.shape).ravel()
        sums = np.bincount(self.flat, weights=weights, minlength=self.size).astype(
            np.float64, copy=False
        )
        out: FloatArray = sums[self.flat].reshape(self.shape)
        return out


def _group_codes(arms: ArmState, shape: tuple[int, ...], by_creator: bool) -> list[_Groups]:
    kind = np.broadcast_to(np.asarray(arms.is_spark, dtype=np.int64), shape)
    levels = [_Groups(np.zeros(shape, dtype=np.int64), 1), _Groups(kind, 2)]
    if by_creator:
        creator = np.broadcast_to(np.asarray(arms.creator, dtype=np.int64), shape)
        if creator.size and creator.min() < 0:
            raise ValueError("creator codes must be >= 0")
        n_creators = int(creator.max()) + 1 if creator.size else 1
        levels.append(_Groups(2 * creator + kind, 2 * n_creators))
    return levels


def _leave_one_out(groups: _Groups, own: FloatArray) -> FloatArray:
    return np.maximum(groups.total(own) - own, 0.0)


def _pooled_sums(levels: list[_Groups], level: int, values: FloatArray) -> FloatArray:
    """Sum of ``values`` over the arms a level pools for each arm, ``(..., K)``.

    A level pools the arms of the arm's group outside its own subgroup at the next level
    (the finest level: the other arms of its group), so every other arm's data enters an
    arm's prior exactly once, at the finest level the two share.
    """
    sums = _leave_one_out(levels[level], values)
    if level + 1 < len(levels):
        sums = sums - _leave_one_out(levels[level + 1], values)
    return np.maximum(sums, 0.0)


def _batch_center(center: float | FloatArray, name: str) -> FloatArray:
    c = np.asarray(center, dtype=np.float64)
    if not (np.all(np.isfinite(c)) and np.all(c > 0)):
        raise ValueError(f"{name} must be positive and finite")
    return c[..., None] if c.ndim else c


def pooled_prior(
    evidence: Evidence, arms: ArmState, params: PosteriorParams, prior_rate: float | FloatArray
) -> GammaPosterior:
    """Empirical-Bayes Gamma prior per arm, pooled by kind and by (kind, creator).

    Args:
        evidence: ``(..., K)`` discounted evidence of every arm.
        arms: ``(..., K)`` kinds and creator codes.
        params: ``prior_strength`` (``n0``) and ``pool_by_creator``.
        prior_rate: conversions per currency the prior centres on where the portfolio has
            no data (``Target.reward_threshold()`` for CPA); scalar or ``(...)``.

    Returns:
        ``Gamma(n0, n0 / r)`` per arm, ``r`` the leave-one-out shrinkage estimate of the
        module docstring.
    """
    n0 = params.prior_strength
    rate = _batch_center(prior_rate, "prior_rate")
    levels = _group_codes(arms, evidence.exposure.shape, params.pool_by_creator)
    for level in range(len(levels)):
        conv = _pooled_sums(levels, level, evidence.conversions)
        expo = _pooled_sums(levels, level, evidence.exposure)
        rate = (conv + n0) / (expo + n0 / rate)
    shape = np.full(evidence.exposure.shape, n0)
    return GammaPosterior(shape=shape, rate=n0 / np.broadcast_to(rate, shape.shape))


def pooled_value_prior(
    evidence: Evidence, arms: ArmState, params: PosteriorParams, prior_value: float | FloatArray
) -> ValuePosterior:
    """Empirical-Bayes prior on value per conversion, pooled like :func:`pooled_prior`.

    Args:
        evidence: ``(..., K)``.
        arms: ``(..., K)``.
        params: ``prior_strength`` and ``value_shape``.
        prior_value: currency per conversion where nothing is known; scalar or ``(...)``.

    Returns:
        Prior worth ``prior_strength`` conversions, mean value ``m`` per arm where
        ``m = (V + n0 * m_parent) / (N + n0)`` over the other arms of each group.
    """
    n0, kappa = params.prior_strength, params.value_shape
    mean = _batch_center(prior_value, "prior_value")
    levels = _group_codes(arms, evidence.exposure.shape, params.pool_by_creator)
    for level in range(len(levels)):
        value = _pooled_sums(levels, level, evidence.value)
        conv = _pooled_sums(levels, level, evidence.conversions)
        mean = (value + n0 * mean) / (conv + n0)
    shape = np.full(evidence.exposure.shape, kappa * n0)
    rate = np.broadcast_to(n0 * mean * (kappa * n0 - 1.0) / (kappa * n0), shape.shape)
    return ValuePosterior(shape=shape, rate=np.array(rate), value_shape=kappa)


def update(prior: GammaPosterior, evidence: Evidence) -> GammaPosterior:
    """Conjugate update: ``shape + sum w*y``, ``rate + sum w*c*s``; ``(..., K)``."""
    return GammaPosterior(prior.shape + evidence.conversions, prior.rate + evidence.exposure)


def update_value(prior: ValuePosterior, evidence: Evidence) -> ValuePosterior:
    """Conjugate update of value per conversion: ``shape + kappa*N``, ``rate + V``."""
    return ValuePosterior(
        shape=prior.shape + prior.value_shape * evidence.conversions,
        rate=prior.rate + evidence.value,
        value_shape=prior.value_shape,
    )


def posterior(
    history: History, arms: ArmState, params: PosteriorParams, prior_rate: float | FloatArray
) -> GammaPosterior:
    """Posterior of lambda per arm: ``update(pooled_prior(...), discounted_evidence(...))``.

    Args:
        history: ``(..., K, D)``.
        arms: ``(..., K)``.
        params: posterior settings.
        prior_rate: conversions per currency where the portfolio has no data.

    Returns:
        ``(..., K)`` Gamma posterior.
    """
    evidence = discounted_evidence(history, params)
    return update(pooled_prior(evidence, arms, params, prior_rate), evidence)


@dataclass(frozen=True, slots=True)
class ArmModel:
    """Everything the decisions need from the posterior side, ``(..., K)``.

    Attributes:
        params: the settings it was fitted with.
        evidence: discounted evidence.
        prior: pooled prior of lambda.
        rate: posterior of lambda, conversions per currency.
        value: posterior of value per conversion (ROAS objective), else None.
    """

    params: PosteriorParams
    evidence: Evidence
    prior: GammaPosterior
    rate: GammaPosterior
    value: ValuePosterior | None

    def sample(self, rng: np.random.Generator, n_draws: int) -> FloatArray:
        """Reward draws ``(..., S, K)``: lambda (CPA) or lambda x value per conversion."""
        draws = self.rate.sample(rng, n_draws)
        if self.value is not None:
            draws *= self.value.sample(rng, n_draws)
        return draws

    def reward_mean(self) -> FloatArray:
        """Posterior mean reward ``(..., K)`` (independence of lambda and value)."""
        mean = self.rate.mean()
        return mean if self.value is None else mean * self.value.mean()


def fit(history: History, arms: ArmState, params: PosteriorParams, target: Target) -> ArmModel:
    """Fit the reward model of every arm.

    With no data anywhere the lambda prior centres on ``1 / target_cpa`` (CPA) or, for
    ROAS, on ``target_roas / m0`` where ``m0`` is the row's observed value per conversion
    (1 currency when none is reported), so the reward prior centres on the target.

    Args:
        history: ``(..., K, D)``.
        arms: ``(..., K)``.
        params: posterior settings.
        target: objective and target.

    Returns:
        The fitted :class:`ArmModel`.
    """
    if history.spend.shape[:-1] != arms.budget.shape:
        raise ValueError(
            f"history arms {history.spend.shape[:-1]} do not match arm state {arms.budget.shape}"
        )
    evidence = discounted_evidence(history, params)
    value: ValuePosterior | None = None
    prior_rate: float | FloatArray = target.reward_threshold()
    if target.objective is Objective.ROAS:
        total_v = evidence.value.sum(axis=-1)
        total_n = evidence.conversions.sum(axis=-1)
        known = (total_v > 0) & (total_n > 0)
        m0 = np.where(known, total_v / np.where(known, total_n, 1.0), 1.0)
        value = update_value(pooled_value_prior(evidence, arms, params, m0), evidence)
        prior_rate = target.reward_threshold() / m0
    prior = pooled_prior(evidence, arms, params, prior_rate)
    return ArmModel(params, evidence, prior, update(prior, evidence), value)


def reward_draws(
    history: History,
    arms: ArmState,
    params: PosteriorParams,
    target: Target,
    rng: np.random.Generator,
    n_draws: int,
) -> FloatArray:
    """Posterior reward draws ``(..., S, K)``: conversions (CPA) or value per currency."""
    return fit(history, arms, params, target).sample(rng, n_draws)
