"""Policy configs of a simulation experiment: one strict model per ``[[policies]]`` kind.

Each model validates one policy variant (after grid expansion, see
:mod:`allocator.sim.grid`) and builds the policy object it names; :data:`PolicyConfig`
picks the model by ``kind``. The ``thompson`` policy's ``[posterior]``, ``[decisions]``
and ``[guardrails]`` tables are the job config's sections (:mod:`allocator.engine_config`),
key for key. Money is in currency per day, durations in days.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import numpy as np
from pydantic import BaseModel, Field, model_validator

from allocator.config_base import NonNegative, Positive, StrictModel
from allocator.core.engine import EngineParams
from allocator.engine_config import (
    DecisionsConfig,
    GuardrailsConfig,
    PosteriorConfig,
    linear_if_unset,
)
from allocator.sim.bandits import UCB1, EpsilonGreedy, Greedy
from allocator.sim.nonstationary import RawUCB, ThompsonShares
from allocator.sim.oracle import Oracle
from allocator.sim.policy import Policy
from allocator.sim.rules import Rules
from allocator.sim.splits import EvenSplit, FixedSplit
from allocator.sim.thompson import ThompsonPolicy

__all__ = [
    "ENGINE_KINDS",
    "KIND_TO_POLICY_CONFIG",
    "POLICY_KINDS",
    "DiscountedTSConfig",
    "EpsilonGreedyConfig",
    "EvenConfig",
    "FixedConfig",
    "GreedyConfig",
    "Label",
    "OracleConfig",
    "PlainTSConfig",
    "PolicyConfig",
    "RawUCBConfig",
    "RulesConfig",
    "SlidingTSConfig",
    "ThompsonConfig",
    "UCB1Config",
]

Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s/\\]+$")]
"""A name in results (a study's or a policy's): no white space or path separators."""

ENGINE_KINDS: frozenset[str] = frozenset({"thompson"})
"""Policy kinds that run the engine (compared against the baselines in summaries)."""


class _PolicyBase(StrictModel):
    name: Label | None = None

    @property
    def label(self) -> str:
        """The policy's name in results: ``name``, else the kind."""
        kind: str = getattr(self, "kind")  # noqa: B009 - every subclass declares it
        return self.name or kind


class EvenConfig(_PolicyBase):
    """``kind = "even"``: :class:`~allocator.sim.splits.EvenSplit`."""

    kind: Literal["even"]

    def build(self) -> Policy:
        """The policy object."""
        return EvenSplit()


class FixedConfig(_PolicyBase):
    """``kind = "fixed"``: :class:`~allocator.sim.splits.FixedSplit` (one weight per arm)."""

    kind: Literal["fixed"]
    weights: tuple[NonNegative, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if sum(self.weights) <= 0:
            raise ValueError("weights must not all be 0")
        return self

    def build(self) -> Policy:
        """The policy object."""
        return FixedSplit(np.asarray(self.weights, dtype=float))


class GreedyConfig(_PolicyBase):
    """``kind = "greedy"``: :class:`~allocator.sim.bandits.Greedy`."""

    kind: Literal["greedy"]
    min_test_multiple: NonNegative = 2.0

    def build(self) -> Policy:
        """The policy object."""
        return Greedy(min_test_multiple=self.min_test_multiple)


class EpsilonGreedyConfig(_PolicyBase):
    """``kind = "epsilon_greedy"``: :class:`~allocator.sim.bandits.EpsilonGreedy`."""

    kind: Literal["epsilon_greedy"]
    epsilon: float = Field(default=0.1, ge=0.0, lt=1.0)
    min_test_multiple: NonNegative = 2.0

    def build(self) -> Policy:
        """The policy object."""
        return EpsilonGreedy(epsilon=self.epsilon, min_test_multiple=self.min_test_multiple)


class UCB1Config(_PolicyBase):
    """``kind = "ucb1"``: :class:`~allocator.sim.bandits.UCB1`."""

    kind: Literal["ucb1"]
    n_slots: int = Field(default=10, ge=1, le=1000)
    c: NonNegative = 1.0

    def build(self) -> Policy:
        """The policy object."""
        return UCB1(n_slots=self.n_slots, c=self.c)


class RulesConfig(_PolicyBase):
    """``kind = "rules"``: :class:`~allocator.sim.rules.Rules` (ad manager rules).

    Attributes:
        pause_cpa_multiple: pause when CPA > this x target CPA ...
        min_spend_multiple: ... once lifetime spend >= this x target CPA.
        step: relative budget raise (CPA below target) or cut (above), per day.
        lookback_days: days of reported data the rules read.
        respect_authorization: leave arms with a lapsed authorization out.
    """

    kind: Literal["rules"]
    pause_cpa_multiple: Positive = 2.0
    min_spend_multiple: NonNegative = 3.0
    step: float = Field(default=0.2, ge=0.0, lt=1.0)
    lookback_days: int = Field(default=7, ge=1, le=366)
    respect_authorization: bool = False

    def build(self) -> Policy:
        """The policy object."""
        return Rules(
            pause_cpa_multiple=self.pause_cpa_multiple,
            min_spend_multiple=self.min_spend_multiple,
            step=self.step,
            lookback_days=self.lookback_days,
            respect_authorization=self.respect_authorization,
        )


class PlainTSConfig(_PolicyBase):
    """``kind = "plain_ts"``: :class:`~allocator.sim.nonstationary.ThompsonShares`, plain.

    Attributes:
        step: budget step bound relative to yesterday's budget.
        n_draws: posterior draws for P(best).
    """

    kind: Literal["plain_ts"]
    step: Positive = 0.5
    n_draws: int = Field(default=500, ge=10, le=100_000)

    def build(self) -> Policy:
        """The policy object."""
        return ThompsonShares(name=self.label, step=self.step, n_draws=self.n_draws)


class DiscountedTSConfig(PlainTSConfig):
    """``kind = "discounted_ts"``: discounted Thompson sampling (Raj & Kalyani 2017).

    Attributes:
        discount: weight per day of age, in (0, 1].
    """

    kind: Literal["discounted_ts"]  # type: ignore[assignment]
    discount: float = Field(default=0.9, gt=0.0, le=1.0)

    def build(self) -> Policy:
        """The policy object."""
        return ThompsonShares(
            name=self.label,
            discount=self.discount,
            lag_correction=True,
            step=self.step,
            n_draws=self.n_draws,
        )


class SlidingTSConfig(PlainTSConfig):
    """``kind = "sliding_ts"``: sliding-window Thompson sampling (last ``window_days``)."""

    kind: Literal["sliding_ts"]  # type: ignore[assignment]
    window_days: int = Field(default=14, ge=1, le=366)

    def build(self) -> Policy:
        """The policy object."""
        return ThompsonShares(
            name=self.label,
            window_days=self.window_days,
            lag_correction=True,
            step=self.step,
            n_draws=self.n_draws,
        )


class RawUCBConfig(_PolicyBase):
    """``kind = "raw_ucb"``: :class:`~allocator.sim.nonstationary.RawUCB` (Seznec 2020)."""

    kind: Literal["raw_ucb"]
    n_slots: int = Field(default=10, ge=1, le=1000)
    c: NonNegative = 1.0

    def build(self) -> Policy:
        """The policy object."""
        return RawUCB(n_slots=self.n_slots, c=self.c)


class OracleConfig(_PolicyBase):
    """``kind = "oracle"``: :class:`~allocator.sim.oracle.Oracle` (always run)."""

    kind: Literal["oracle"]

    def build(self) -> Policy:
        """The policy object."""
        return Oracle()


class ThompsonConfig(_PolicyBase):
    """``kind = "thompson"``: the engine (:class:`~allocator.sim.thompson.ThompsonPolicy`).

    Attributes:
        n_draws: posterior draws per decision (the job's ``[engine] n_draws``).
        lookback_days: days of history the engine reads (the job's ``[engine]``).
        half_saturation_spend: the job's ``[engine] half_saturation_spend`` (unset =
            linear response).
        spend_reserve: the job's ``[engine] spend_reserve``.
        marginal_stop: the job's ``[engine] marginal_stop``.
        lift_step_cap_for_shortfall: the job's ``[engine] lift_step_cap_for_shortfall``.
        allocation_draws: the job's ``[engine] allocation_draws``.
        posterior: the job's ``[posterior]`` section.
        decisions: the job's ``[decisions]`` section.
        guardrails: the job's ``[guardrails]`` section (its ``platform_min_budget`` is
            raised to the scenario's when lower).
    """

    kind: Literal["thompson"]
    n_draws: int = Field(default=1000, ge=10, le=100_000)
    lookback_days: int = Field(default=60, ge=1, le=366)
    half_saturation_spend: float | None = Field(default=1000.0, gt=0, allow_inf_nan=False)
    spend_reserve: bool = True
    marginal_stop: bool = True
    lift_step_cap_for_shortfall: bool = False
    allocation_draws: int = Field(default=64, ge=1, le=100_000)
    posterior: PosteriorConfig = Field(default_factory=PosteriorConfig)
    decisions: DecisionsConfig = Field(default_factory=DecisionsConfig)
    guardrails: GuardrailsConfig = Field(default_factory=GuardrailsConfig)

    def engine_params(self) -> EngineParams:
        """The core :class:`~allocator.core.engine.EngineParams`."""
        return EngineParams(
            posterior=self.posterior.params(),
            decisions=self.decisions.params(),
            guardrails=self.guardrails.params(),
            n_draws=self.n_draws,
            half_saturation_spend=linear_if_unset(self.half_saturation_spend),
            spend_reserve=self.spend_reserve,
            marginal_stop=self.marginal_stop,
            lift_step_cap_for_shortfall=self.lift_step_cap_for_shortfall,
            allocation_draws=self.allocation_draws,
        )

    def build(self) -> Policy:
        """The policy object."""
        return ThompsonPolicy(self.engine_params(), self.lookback_days, name=self.label)


PolicyConfig = Annotated[
    ThompsonConfig
    | EvenConfig
    | FixedConfig
    | GreedyConfig
    | EpsilonGreedyConfig
    | UCB1Config
    | RulesConfig
    | PlainTSConfig
    | DiscountedTSConfig
    | SlidingTSConfig
    | RawUCBConfig
    | OracleConfig,
    Field(discriminator="kind"),
]
"""One policy variant, picked by ``kind``."""


KIND_TO_POLICY_CONFIG: dict[str, type[BaseModel]] = {
    "thompson": ThompsonConfig,
    "even": EvenConfig,
    "fixed": FixedConfig,
    "greedy": GreedyConfig,
    "epsilon_greedy": EpsilonGreedyConfig,
    "ucb1": UCB1Config,
    "rules": RulesConfig,
    "plain_ts": PlainTSConfig,
    "discounted_ts": DiscountedTSConfig,
    "sliding_ts": SlidingTSConfig,
    "raw_ucb": RawUCBConfig,
    "oracle": OracleConfig,
}
"""The model of each policy ``kind`` (for "did you mean" hints on unknown keys)."""

POLICY_KINDS: tuple[str, ...] = tuple(KIND_TO_POLICY_CONFIG)
"""Every policy ``kind``, in the order error messages list them."""
