"""Policy configs of a simulation experiment: one strict model per ``[[policies]]`` kind.

Each model validates one policy variant (after grid expansion, see
:mod:`allocator.sim.grid`) and builds the policy object it names; :data:`PolicyConfig`
picks the model by ``kind``. The ``thompson`` policy's keys are the job config's engine
settings (:mod:`allocator.engine_config`), key for key. Money is in currency per day,
durations in days.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, Self

import numpy as np
from pydantic import BaseModel, Field, model_validator

from allocator.config_base import NonNegative, Positive, StrictModel
from allocator.engine_config import EngineSettings
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

    policy: ClassVar[Callable[..., Policy]]
    """What :meth:`build` calls with the policy's keys (see :meth:`_policy_args`)."""

    @property
    def label(self) -> str:
        """The policy's name in results: ``name``, else the kind."""
        kind: str = getattr(self, "kind")  # noqa: B009 - every subclass declares it
        return self.name or kind

    def _policy_args(self) -> dict[str, Any]:
        """The keyword arguments of :attr:`policy`: every key but ``kind`` and ``name``."""
        return {key: getattr(self, key) for key in type(self).model_fields if key not in _LABELS}

    def build(self) -> Policy:
        """The policy object."""
        return self.policy(**self._policy_args())


_LABELS = frozenset({"kind", "name"})


class EvenConfig(_PolicyBase):
    """``kind = "even"``: :class:`~allocator.sim.splits.EvenSplit`."""

    policy = EvenSplit
    kind: Literal["even"]


class FixedConfig(_PolicyBase):
    """``kind = "fixed"``: :class:`~allocator.sim.splits.FixedSplit`.

    Attributes:
        weights: one relative share per arm (>= 0, not all 0), renormalised each day over
            the eligible arms.
    """

    policy = FixedSplit
    kind: Literal["fixed"]
    weights: tuple[NonNegative, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if sum(self.weights) <= 0:
            raise ValueError("weights must not all be 0")
        return self

    def _policy_args(self) -> dict[str, Any]:
        """The weights as an array."""
        return {"weights": np.asarray(self.weights, dtype=float)}


class GreedyConfig(_PolicyBase):
    """``kind = "greedy"``: :class:`~allocator.sim.bandits.Greedy`.

    Attributes:
        min_test_multiple: test spend per arm, in multiples of the target CPA.
    """

    policy = Greedy
    kind: Literal["greedy"]
    min_test_multiple: NonNegative = 2.0


class EpsilonGreedyConfig(_PolicyBase):
    """``kind = "epsilon_greedy"``: :class:`~allocator.sim.bandits.EpsilonGreedy`.

    Attributes:
        epsilon: share of the exploitable budget spent exploring, in [0, 1).
        min_test_multiple: as for ``greedy``.
    """

    policy = EpsilonGreedy
    kind: Literal["epsilon_greedy"]
    epsilon: float = Field(default=0.1, ge=0.0, lt=1.0)
    min_test_multiple: NonNegative = 2.0


class _SlotsConfig(_PolicyBase):
    """The keys of the policies that cut the budget into UCB slots.

    Attributes:
        n_slots: slots per day (fewer if the budget cannot give each the minimum).
        c: exploration constant (1 = UCB1).
    """

    n_slots: int = Field(default=10, ge=1, le=1000)
    c: NonNegative = 1.0


class UCB1Config(_SlotsConfig):
    """``kind = "ucb1"``: :class:`~allocator.sim.bandits.UCB1`."""

    policy = UCB1
    kind: Literal["ucb1"]


class RulesConfig(_PolicyBase):
    """``kind = "rules"``: :class:`~allocator.sim.rules.Rules` (ad manager rules).

    Attributes:
        pause_cpa_multiple: pause when CPA > this x target CPA ...
        min_spend_multiple: ... once lifetime spend >= this x target CPA.
        step: relative budget raise (CPA below target) or cut (above), per day.
        lookback_days: days of reported data the rules read.
        respect_authorization: leave arms with a lapsed authorization out.
    """

    policy = Rules
    kind: Literal["rules"]
    pause_cpa_multiple: Positive = 2.0
    min_spend_multiple: NonNegative = 3.0
    step: float = Field(default=0.2, ge=0.0, lt=1.0)
    lookback_days: int = Field(default=7, ge=1, le=366)
    respect_authorization: bool = False


class PlainTSConfig(_PolicyBase):
    """``kind = "plain_ts"``: :class:`~allocator.sim.nonstationary.ThompsonShares`, plain.

    Attributes:
        step: budget step bound relative to yesterday's budget.
        n_draws: posterior draws for P(best).
    """

    policy = ThompsonShares
    lag_correction: ClassVar[bool] = False
    """Whether the variant corrects spend for the reporting lag."""

    kind: Literal["plain_ts"]
    step: Positive = 0.5
    n_draws: int = Field(default=500, ge=10, le=100_000)

    def _policy_args(self) -> dict[str, Any]:
        """The variant's keys, its label and its lag correction."""
        return {
            **super()._policy_args(),
            "name": self.label,
            "lag_correction": self.lag_correction,
        }


class DiscountedTSConfig(PlainTSConfig):
    """``kind = "discounted_ts"``: discounted Thompson sampling (Raj & Kalyani 2017).

    Attributes:
        discount: weight per day of age, in (0, 1].
    """

    lag_correction = True
    kind: Literal["discounted_ts"]  # type: ignore[assignment]
    discount: float = Field(default=0.9, gt=0.0, le=1.0)


class SlidingTSConfig(PlainTSConfig):
    """``kind = "sliding_ts"``: sliding-window Thompson sampling (last ``window_days``)."""

    lag_correction = True
    kind: Literal["sliding_ts"]  # type: ignore[assignment]
    window_days: int = Field(default=14, ge=1, le=366)


class RawUCBConfig(_SlotsConfig):
    """``kind = "raw_ucb"``: :class:`~allocator.sim.nonstationary.RawUCB` (Seznec 2020)."""

    policy = RawUCB
    kind: Literal["raw_ucb"]


class OracleConfig(_PolicyBase):
    """``kind = "oracle"``: :class:`~allocator.sim.oracle.Oracle` (always run)."""

    policy = Oracle
    kind: Literal["oracle"]


class ThompsonConfig(_PolicyBase, EngineSettings):
    """``kind = "thompson"``: the engine (:class:`~allocator.sim.thompson.ThompsonPolicy`).

    Its keys are the job config's engine settings (:mod:`allocator.engine_config`):
    ``n_draws``, ``lookback_days`` and ``half_saturation_spend`` (the job's ``[engine]``
    table) at the policy's top level, and the ``posterior``, ``decisions`` and
    ``guardrails`` tables (the ``guardrails``' ``platform_min_budget`` is raised to the
    scenario's when lower).
    """

    kind: Literal["thompson"]

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
