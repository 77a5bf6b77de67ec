"""The engine's config sections, shared by the job config and the simulation experiments.

``[engine]``, ``[posterior]``, ``[decisions]`` and ``[guardrails]``: keys and defaults
mirror the core parameter dataclasses one to one (money in currency per day, durations in
days), so a setting found in simulation is pasted into the job unchanged. Each section
also enforces the core dataclass's own rules, reported on the section's dotted key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Self

import numpy as np
from pydantic import Field, field_validator, model_validator

from allocator.config_base import (
    NonNegative,
    Positive,
    Probability,
    StrictModel,
    cross_field_error,
)
from allocator.core.decisions import DecisionParams
from allocator.core.evidence import PosteriorParams
from allocator.core.guardrail_params import GuardrailParams
from allocator.core.lag import LagModel

__all__ = [
    "DecisionsConfig",
    "EngineConfig",
    "GuardrailsConfig",
    "PosteriorConfig",
    "linear_if_unset",
]


def _core_accepts(section: str, build: Callable[[], object]) -> None:
    """Surface any rule the core dataclass enforces beyond ours as an error on ``section``."""
    try:
        build()
    except ValueError as exc:
        raise cross_field_error(section, str(exc)) from exc


def linear_if_unset(value: float | None) -> float:
    """The engine's ``half_saturation_spend``: unset means a linear response (``inf``)."""
    return math.inf if value is None else value


class EngineConfig(StrictModel):
    """``[engine]``: sampling and data window.

    Attributes:
        n_draws: posterior draws per decision (``S``).
        seed: seed of the run's ``numpy.random.Generator`` (same seed, same plan).
        lookback_days: most days of history the engine reads.
        half_saturation_spend: daily spend at which an ad group's average conversion
            rate halves (diminishing returns), currency per day (default 1,000, an assumption
            chosen on held-out simulated worlds; a very large value = linear response).
        spend_reserve: bring back acceptable resting creatives before leaving budget
            unplanned (the core's ``EngineParams.spend_reserve``).
        marginal_stop: rest a loser only when its money does more elsewhere (the
            core's ``EngineParams.marginal_stop``).
        lift_step_cap_for_shortfall: where the step-up cap alone would leave budget
            unplanned, plan it anyway (the core's ``EngineParams``; off by default).
        allocation_draws: posterior draws behind the saturating allocation's average
            (the core's ``EngineParams.allocation_draws``).
    """

    n_draws: int = Field(default=1000, ge=10, le=100_000)
    seed: int = Field(default=0, ge=0)
    lookback_days: int = Field(default=60, ge=1, le=366)
    half_saturation_spend: float | None = Field(default=1000.0, gt=0, allow_inf_nan=False)
    spend_reserve: bool = True
    marginal_stop: bool = True
    lift_step_cap_for_shortfall: bool = False
    allocation_draws: int = Field(default=64, ge=1, le=100_000)


class PosteriorConfig(StrictModel):
    """``[posterior]``: mirrors ``PosteriorParams`` (lag given as ``lag_pmf``).

    Attributes:
        half_life_days: time-discount half-life, days (``inf`` disables discounting).
        prior_strength: pooled prior's weight, in conversions of evidence.
        lag_pmf: share of a day's eventual conversions reported 0, 1, ... days later
            (sums to 1; its length is the attribution window); ``None`` = the default.
        pool_by_creator: pool priors by kind, then creators shrink to their kind.
        value_shape: shape of the per-conversion value distribution (ROAS objective);
            ``value_shape * prior_strength`` must exceed 1.
    """

    half_life_days: float = Field(default=14.0, gt=0.0)
    prior_strength: Positive = 2.0
    lag_pmf: tuple[NonNegative, ...] | None = Field(default=None, min_length=1, max_length=90)
    pool_by_creator: bool = True
    value_shape: Positive = 2.0

    @field_validator("half_life_days")
    @classmethod
    def _not_nan(cls, value: float) -> float:
        if math.isnan(value):
            raise ValueError("must be a number of days (inf disables discounting)")
        return value

    @field_validator("lag_pmf")
    @classmethod
    def _sums_to_one(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and not math.isclose(math.fsum(value), 1.0, abs_tol=1e-6):
            raise ValueError(f"must sum to 1 (sums to {math.fsum(value):.6g})")
        return value

    @model_validator(mode="after")
    def _finite_prior_value(self) -> Self:
        if self.value_shape * self.prior_strength <= 1.0:
            raise cross_field_error(
                "posterior.value_shape",
                "value_shape x prior_strength must exceed 1 (else the prior mean value "
                "per conversion is infinite)",
            )
        _core_accepts("posterior", self.params)
        return self

    def params(self) -> PosteriorParams:
        """The core's :class:`~allocator.core.evidence.PosteriorParams`."""
        lag = LagModel.default() if self.lag_pmf is None else LagModel(np.array(self.lag_pmf))
        return PosteriorParams(
            half_life_days=self.half_life_days,
            prior_strength=self.prior_strength,
            lag=lag,
            pool_by_creator=self.pool_by_creator,
            value_shape=self.value_shape,
        )


class DecisionsConfig(StrictModel):
    """``[decisions]``: mirrors ``DecisionParams`` (names, defaults and units)."""

    p_best_to_scale: Probability = 0.95
    value_remaining_to_scale: NonNegative = 0.01
    value_remaining_quantile: Probability = 0.95
    min_conversions_to_scale: NonNegative = 10.0
    min_spend_to_stop: NonNegative = 10.0
    min_spend_to_kill: NonNegative = 6.0
    p_best_to_stop: Probability = 0.01
    p_meets_target_to_keep: Probability = 0.1
    kill_cpa_multiple: float = Field(default=3.0, ge=1.0, allow_inf_nan=False)
    kill_probability: Probability = 0.9
    fatigue_drop: Probability = 0.3
    fatigue_probability: Probability = 0.9
    fatigue_half_life_days: Positive = 3.0
    min_remaining_days: NonNegative = 1.0
    renew_warning_days: NonNegative = 7.0
    cpa_interval: Probability = 0.90
    revive_resting: bool = True

    @model_validator(mode="after")
    def _warning_before_block(self) -> Self:
        if self.renew_warning_days < self.min_remaining_days:
            raise cross_field_error(
                "decisions.renew_warning_days",
                "must be >= min_remaining_days (warn before an arm is blocked)",
            )
        _core_accepts("decisions", self.params)
        return self

    def params(self) -> DecisionParams:
        """The core's :class:`~allocator.core.decisions.DecisionParams`."""
        return DecisionParams(**self.model_dump())


class GuardrailsConfig(StrictModel):
    """``[guardrails]``: mirrors ``GuardrailParams`` (budgets in currency per day)."""

    platform_min_budget: Positive = 20.01
    max_budget_share: float = Field(default=1.0, gt=0.0, le=1.0)
    max_step_up: NonNegative = 0.3
    max_step_down: float = Field(default=0.5, ge=0.0, le=1.0, allow_inf_nan=False)
    learning_days: NonNegative = 3.0
    learning_conversions: NonNegative = 50.0
    learning_max_days: NonNegative = 14.0
    large_edit_fraction: NonNegative = 0.3
    test_budget: Positive | None = None
    new_arm_budget: Positive | None = None
    exploration_share: float = Field(default=0.5, ge=0.0, lt=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.learning_max_days < self.learning_days:
            raise cross_field_error("guardrails.learning_max_days", "must be >= learning_days")
        for key in ("test_budget", "new_arm_budget"):
            value = getattr(self, key)
            if value is not None and value < self.platform_min_budget:
                raise cross_field_error(f"guardrails.{key}", "must be >= platform_min_budget")
        _core_accepts("guardrails", self.params)
        return self

    def params(self) -> GuardrailParams:
        """The core's :class:`~allocator.core.guardrail_params.GuardrailParams`."""
        return GuardrailParams(**self.model_dump())
