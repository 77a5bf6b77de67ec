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

Where the pieces live
---------------------
* :mod:`allocator.core.lag`: the lag correction ``c`` (:class:`LagModel`);
* :mod:`allocator.core.evidence`: the discounted sums ``sum w * y`` and
  ``sum w * c * s`` (:class:`Evidence`) and the settings (:class:`PosteriorParams`);
* :mod:`allocator.core.pooling`: the pooled priors ``a0``, ``b0``;
* :mod:`allocator.core.families`: the Gamma, value and Beta posteriors and their draws;
* here: the conjugate update and the fitted model of every arm (:func:`fit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator._types import FloatArray
from allocator.core.arms import ArmState, History, Objective
from allocator.core.evidence import Evidence, PosteriorParams, discounted_evidence
from allocator.core.families import GammaPosterior, ValuePosterior
from allocator.core.pooling import pooled_prior, pooled_value_prior
from allocator.core.target import Target

__all__ = [
    "ArmModel",
    "fit",
    "from_evidence",
    "posterior",
    "reward_draws",
    "update",
    "update_value",
]


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


def _row_value_per_conversion(evidence: Evidence) -> FloatArray:
    """Each batch row's discounted value per conversion over its arms, ``(...)``, currency.

    1 currency where the row reports no value or no conversions.
    """
    total_v = evidence.value.sum(axis=-1)
    total_n = evidence.conversions.sum(axis=-1)
    known = (total_v > 0) & (total_n > 0)
    m0: FloatArray = np.where(known, total_v / np.where(known, total_n, 1.0), 1.0)
    return m0


def fit(history: History, arms: ArmState, params: PosteriorParams, target: Target) -> ArmModel:
    """Fit the reward model of every arm from its history.

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
    return from_evidence(discounted_evidence(history, params), arms, params, target)


def from_evidence(
    evidence: Evidence, arms: ArmState, params: PosteriorParams, target: Target
) -> ArmModel:
    """Fit the reward model of every arm from its evidence ``(..., K)`` (see :func:`fit`).

    For evidence built otherwise than :func:`fit` builds it, e.g. with the fatigue
    forecast's per-day spend factors (:func:`allocator.core.evidence.discounted_evidence`).
    """
    value: ValuePosterior | None = None
    prior_rate: float | FloatArray = target.reward_threshold()
    if target.objective is Objective.ROAS:
        m0 = _row_value_per_conversion(evidence)
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
