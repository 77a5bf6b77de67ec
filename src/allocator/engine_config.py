"""The engine's settings schema, embedded in the job config and the ``thompson`` policy.

The ``[posterior]``, ``[decisions]`` and ``[guardrails]`` tables are the core dataclasses
themselves (:class:`~allocator.core.evidence.PosteriorParams`,
:class:`~allocator.core.decisions.DecisionParams`,
:class:`~allocator.core.guardrail_params.GuardrailParams`), which pydantic validates
directly: their keys, defaults and bounds are declared once, on the dataclass fields
(:mod:`allocator.core.bounds`), so a field added to a dataclass is a TOML key at once, in
the job and in simulations alike. Money is in currency per day, durations in days.

:class:`EngineSampling` holds the keys around the sections (``n_draws``,
``lookback_days``, ``half_saturation_spend``): the job config's ``[engine]`` table, and
the top level of a ``thompson`` policy. :class:`EngineSections` adds the three tables and
the rules a config file must also meet (warn before blocking, a learning ceiling above
the learning window, test budgets above the platform minimum);
:meth:`EngineSections.engine_params` turns both into the core's
:class:`~allocator.core.engine.EngineParams`. A ``thompson`` policy is an
:class:`EngineSettings` (both at its top level); a job config keeps the sampling keys in
its ``[engine]`` table.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Self

from pydantic import Field, model_validator

from allocator.config_base import StrictModel, cross_field_error
from allocator.core.decisions import DecisionParams
from allocator.core.engine import (
    AllocationDraws,
    DrawCount,
    EngineParams,
    SaturationSpend,
    ShortfallEdits,
)
from allocator.core.evidence import PosteriorParams
from allocator.core.guardrail_params import GuardrailParams

__all__ = ["EngineSampling", "EngineSections", "EngineSettings"]

_CORE = EngineParams()


class EngineSampling(StrictModel):
    """Sampling and data window (bounds and defaults of the first and last are the core's).

    Attributes:
        n_draws: posterior draws per decision (``S``).
        lookback_days: most days of history the engine reads.
        half_saturation_spend: daily spend at which an ad group's average conversion
            rate halves (diminishing returns), currency per day (default 1,000, an
            assumption chosen on held-out simulated worlds; ``inf`` = linear response).
        spend_reserve: bring back acceptable resting creatives before leaving budget
            unplanned (the core's ``EngineParams.spend_reserve``).
        marginal_stop: rest a loser only when its money does more elsewhere (the
            core's ``EngineParams.marginal_stop``).
        step_cap_on_shortfall: where the step-up cap alone would leave budget
            unplanned: ``"by_value"`` raises past it when the money placed is worth the
            learning the edit restarts, ``"hold"`` never, ``"lift"`` always (the
            core's ``EngineParams``).
        reset_penalty: share of conversions assumed lost while an ad group relearns
            (an assumption; TikTok publishes none).
        relearning_days: longest relearning after a large edit, days.
        allocation_draws: posterior draws behind the saturating allocation's average
            (the core's ``EngineParams.allocation_draws``).
        kill_at_smallest_budget: judge the maximum accepted CPA at the smallest budget
            under the assumed saturation, not at the spend the creative got (the core's
            ``EngineParams.kill_at_smallest_budget``).
        learn_saturation: learn the account's half-saturation spend from its own spend
            variation, ``half_saturation_spend`` being the prior's median.
        saturation_prior_sd_log: that prior's standard deviation of ``ln h``.
        fatigue_forecast: estimate tomorrow's rate from a decay curve in cumulative
            impressions pooled across the account (the core's
            ``EngineParams.fatigue_forecast``).
    """

    n_draws: DrawCount = _CORE.n_draws
    lookback_days: int = Field(default=60, ge=1, le=366)
    half_saturation_spend: SaturationSpend = _CORE.half_saturation_spend
    spend_reserve: bool = _CORE.spend_reserve
    marginal_stop: bool = _CORE.marginal_stop
    step_cap_on_shortfall: ShortfallEdits = _CORE.step_cap_on_shortfall
    reset_penalty: float = Field(default=_CORE.reset_penalty, ge=0.0, le=1.0)
    relearning_days: float = Field(default=_CORE.relearning_days, ge=0.0, le=365.0)
    allocation_draws: AllocationDraws = _CORE.allocation_draws
    kill_at_smallest_budget: bool = _CORE.kill_at_smallest_budget
    learn_saturation: bool = _CORE.learn_saturation
    fatigue_forecast: bool = _CORE.fatigue_forecast
    saturation_prior_sd_log: float = Field(default=_CORE.saturation_prior_sd_log, gt=0.0, le=10.0)


class EngineSections(StrictModel):
    """The ``[posterior]``, ``[decisions]`` and ``[guardrails]`` tables.

    Attributes:
        posterior: the reward posterior's settings.
        decisions: the stage machine's thresholds.
        guardrails: the projection's guardrails (budgets in currency per day).
    """

    posterior: PosteriorParams = Field(default_factory=PosteriorParams)
    decisions: DecisionParams = Field(default_factory=DecisionParams)
    guardrails: GuardrailParams = Field(default_factory=GuardrailParams)

    @model_validator(mode="after")
    def _config_rules(self) -> Self:
        """Rules a config file meets beyond the core's (the core tolerates their breach)."""
        decisions, rails = self.decisions, self.guardrails
        if decisions.renew_warning_days < decisions.min_remaining_days:
            raise cross_field_error(
                "decisions.renew_warning_days",
                "must be >= min_remaining_days (warn before an arm is blocked)",
            )
        if rails.learning_max_days < rails.learning_days:
            raise cross_field_error("guardrails.learning_max_days", "must be >= learning_days")
        for key in ("test_budget", "new_arm_budget"):
            value = getattr(rails, key)
            if value is not None and value < rails.platform_min_budget:
                raise cross_field_error(f"guardrails.{key}", "must be >= platform_min_budget")
        return self

    @property
    @abstractmethod
    def sampling(self) -> EngineSampling:
        """Where the sampling keys are: the job's ``[engine]``, a policy's top level."""

    def engine_params(self) -> EngineParams:
        """The core's :class:`~allocator.core.engine.EngineParams`."""
        sampling = self.sampling
        return EngineParams(
            posterior=self.posterior,
            decisions=self.decisions,
            guardrails=self.guardrails,
            n_draws=sampling.n_draws,
            half_saturation_spend=sampling.half_saturation_spend,
            spend_reserve=sampling.spend_reserve,
            marginal_stop=sampling.marginal_stop,
            step_cap_on_shortfall=sampling.step_cap_on_shortfall,
            reset_penalty=sampling.reset_penalty,
            relearning_days=sampling.relearning_days,
            allocation_draws=sampling.allocation_draws,
            kill_at_smallest_budget=sampling.kill_at_smallest_budget,
            learn_saturation=sampling.learn_saturation,
            fatigue_forecast=sampling.fatigue_forecast,
            saturation_prior_sd_log=sampling.saturation_prior_sd_log,
        )


class EngineSettings(EngineSampling, EngineSections):
    """Every engine setting at one level: the sampling keys beside the three tables."""

    @property
    def sampling(self) -> EngineSampling:
        """The model itself."""
        return self
