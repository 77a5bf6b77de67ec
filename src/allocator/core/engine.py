"""One engine step: posterior -> decisions -> Thompson allocation -> guardrail projection.

This is the single decision path shared by the scheduled job, the sandbox demo, the
simulator and the backtests: a policy that backtests well is exactly the policy that runs.
Arrays carry any number of leading batch axes (simulation replications), so one call
decides a thousand simulated portfolios at once.

Arms not launched yet (``days_since_launch < 0``, e.g. a creative scheduled by the
creator pipeline) get no budget and keep their stage. An arm the decisions keep running
(testing or scaling) that the guardrails must switch off for lack of room (its share would
fall below the platform minimum) is disabled for the day but keeps its stage, so it can run
again when room appears; the plan says why. Testing arms get an exploration floor:
``exploration_share`` of the daily budget spread evenly over the arms allowed to run
(never below ``test_budget``); arms being enabled start at an even share of the budget
over the arms allowed to run (or ``new_arm_budget`` when set).

Diminishing returns: with a finite ``half_saturation_spend`` ``h`` the allocation treats
each arm's expected conversions as ``lambda * b / (1 + b / h)`` (see
:mod:`allocator.core.response`): the posterior draws of each arm's average rate are turned
into rates at vanishing spend, and each draw's budget split equalises marginal rates
instead of giving everything to the draw's best arm. The decisions keep judging the
average rate the arm actually achieved (the CPA the advertiser sees). The default is
``h = 1000`` per day; ``h = inf`` is the linear model and the greedy fill.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from annotated_types import Ge, Gt, Le

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState, History, Stage
from allocator.core.bounds import FieldError, check_bounds
from allocator.core.decisions import DecisionParams, Decisions, Reason, decide
from allocator.core.evidence import PosteriorParams, discounted_evidence, exposure_weight
from allocator.core.fatigue_curve import forecast_factors
from allocator.core.guardrail_params import GuardrailParams, in_learning
from allocator.core.guardrails import Binding, Projection
from allocator.core.margin import better_elsewhere
from allocator.core.placement import (
    Placer,
    Room,
    Saturation,
    exploration_floor,
    start_budget,
)
from allocator.core.posterior import ArmModel, fit, from_evidence
from allocator.core.response import rate_at_zero_multiplier
from allocator.core.saturation import fit_half_saturation
from allocator.core.spend import unspent_by_choice
from allocator.core.target import Target

# Plain int codes for array work (numpy converts an IntEnum member slowly).
_TESTING, _SCALING, _PAUSED, _BLOCKED, _RESTING = (
    int(Stage.TESTING), int(Stage.SCALING), int(Stage.PAUSED), int(Stage.BLOCKED),
    int(Stage.RESTING),
)  # fmt: skip
_RESTING_LOSER, _NO_ROOM = int(Reason.RESTING_LOSER), int(Binding.NO_ROOM)

_MARGIN_DRAWS = 400
"""Posterior draws behind the marginal stop's probability (first of the ``n_draws``)."""

__all__ = [
    "AllocationDraws",
    "DrawCount",
    "EngineParams",
    "EngineStep",
    "SaturationSpend",
    "ShortfallEdits",
    "account_half_saturation",
    "conversions_since_edit",
    "exploration_floor",
    "start_budget",
    "starved_reason",
    "step",
]


DrawCount = Annotated[int, Ge(10), Le(100_000)]
"""Posterior draws per decision: enough for P(best) to mean something, few enough to run."""

SaturationSpend = Annotated[float, Gt(0.0)]
"""Half-saturation spend, currency per day; ``inf`` is the linear response."""

AllocationDraws = Annotated[int, Ge(1), Le(100_000)]
"""Posterior draws behind the saturating allocation's average."""

ShortfallEdits = Literal["hold", "by_value", "lift"]
"""Step-up cap where it alone leaves money unplanned: hold it, weigh it, lift it."""
_SHORTFALL_EDITS = typing.get_args(ShortfallEdits)


@dataclass(frozen=True)
class EngineParams:
    """Settings of one engine step.

    Attributes:
        posterior: reward model (lag, discounting, pooled priors).
        decisions: stage machine thresholds.
        guardrails: projection guardrails, currency per day.
        n_draws: posterior draws ``S`` behind P(best) and the Thompson allocation.
        half_saturation_spend: daily spend ``h`` at which an ad group's average rate
            halves, currency per day; ``inf`` = linear response (greedy fill). Default
            1,000: an assumption (a pooled prior, not yet learned per account) chosen on
            the robustness suite's held-out worlds, whose true medians run from 300 to
            3,000; assuming some saturation beats assuming none in every family there.
        spend_reserve: when the running arms cannot absorb the daily budget under the
            guardrails, bring back acceptable resting creatives (best posterior mean
            first) before leaving money unplanned (see :mod:`allocator.core.spend`).
        marginal_stop: rest a clear loser only when its money is credibly better used by
            the others under the response curve (see :mod:`allocator.core.margin`);
            False rests every clear loser of the stage machine.
        step_cap_on_shortfall: what to do in rows where the step-up cap alone leaves
            money unplanned. ``"by_value"`` (default): raise budgets past the cap when
            the money placed before the capped ramp gets there is worth more than the
            learning the large edits restart (:func:`allocator.core.spend.lift_pays`);
            ``"hold"``: never (TikTok's pace guidance as a hard bound); ``"lift"``:
            always. The job's per-period caps follow: they hold raises only under
            ``"hold"``.
        reset_penalty: share of an ad group's conversions assumed lost while it
            relearns after a large edit. TikTok publishes no figure (practitioners
            quote 15-35 %). 0.1 was chosen on the robustness suite's held-out worlds
            (seed 990011, families budget, spark, saturation, fatigue): the same ratio
            to the ceiling as 0.2 within 0.002 at every penalty, with underspend under
            1 % in every cell (0.2 left 2.2 % unplanned in budget-rich at penalty 0.3).
        relearning_days: longest relearning after a large edit, days (TikTok's help
            centre: about 7 days or about 50 conversions, whichever comes first; the
            conversions are ``guardrails.learning_conversions``).
        kill_at_smallest_budget: judge the maximum accepted CPA at the smallest budget
            the arm could get (its average rate times its rate-at-vanishing-spend factor
            under the assumed saturation), not at the spend it happened to get: a
            creative saturated at a large budget may still pay at a small one. False
            judges the average CPA.
        fatigue_forecast: estimate tomorrow's rate of each creative from a decay curve
            in its cumulative impressions, pooled across the account and learned from
            its history (:mod:`allocator.core.fatigue_curve`), instead of the discounted
            average of its past.
        learn_saturation: learn the account's half-saturation spend from its own
            spend variation (:mod:`allocator.core.saturation`), with
            ``half_saturation_spend`` as the prior's median; False uses that value.
        saturation_prior_sd_log: the prior's standard deviation of ``ln h`` (1: a
            factor of e either way is plausible before any data).
        allocation_draws: the first this many of the ``n_draws`` posterior draws make
            the saturating allocation's average (exact water-filling per draw costs
            ``S K log K``; 64 keeps the step within 2x its sampling floor). The
            decisions (P(best), intervals) and the linear fill use every draw.
    """

    posterior: PosteriorParams = field(default_factory=PosteriorParams)
    decisions: DecisionParams = field(default_factory=DecisionParams)
    guardrails: GuardrailParams = field(default_factory=GuardrailParams)
    n_draws: DrawCount = 1000
    half_saturation_spend: SaturationSpend = 1000.0
    spend_reserve: bool = True
    marginal_stop: bool = True
    step_cap_on_shortfall: ShortfallEdits = "by_value"
    reset_penalty: Annotated[float, Ge(0.0), Le(1.0)] = 0.1
    relearning_days: Annotated[float, Ge(0.0), Le(365.0)] = 7.0
    allocation_draws: AllocationDraws = 64
    kill_at_smallest_budget: bool = True
    learn_saturation: bool = False
    fatigue_forecast: bool = False
    saturation_prior_sd_log: Annotated[float, Gt(0.0), Le(10.0)] = 1.0

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.step_cap_on_shortfall not in _SHORTFALL_EDITS:
            raise FieldError("step_cap_on_shortfall", "must be one of hold, by_value, lift")


@dataclass(frozen=True)
class EngineStep:
    """The outcome of one step, every per-arm field of shape ``(..., K)``.

    Attributes:
        model: the fitted posterior.
        decisions: stages, P(best), CPA intervals and alerts before the projection.
        desired: Thompson allocation before the guardrails, currency per day.
        projection: the guardrailed budgets and why each arm ended where it did.
        frozen: arms kept at today's budget by the learning phase.
        stage: the decisions' stage per arm.
        starved: arms the decisions keep running but the projection switches off today
            (no room above the platform minimum); they keep their stage and may run again
            on a later day.
        unspent_by_choice: the shortfall in rows where no eligible creative is
            acceptable (each is credibly above the maximum CPA, paused or blocked),
            currency per day, ``(...)``.
    """

    model: ArmModel
    decisions: Decisions
    desired: FloatArray
    projection: Projection
    frozen: BoolArray
    stage: IntArray
    starved: BoolArray
    unspent_by_choice: FloatArray

    @property
    def budget(self) -> FloatArray:
        """Planned daily budgets, currency per day, 0 where disabled."""
        return self.projection.budget

    @property
    def enabled(self) -> BoolArray:
        """Planned operation status (True = enable)."""
        return self.projection.enabled


def conversions_since_edit(arms: ArmState, history: History) -> FloatArray:
    """Conversions reported since launch or the last large edit, ``(..., K)``.

    A day column counts when its age is at most the days since the later of the two.
    """
    since = np.minimum(arms.days_since_launch, arms.days_since_edit)[..., None]
    counted = history.age_days <= since
    return np.asarray((history.conversions * counted).sum(axis=-1), dtype=np.float64)


def step(
    arms: ArmState,
    history: History,
    target: Target,
    total_budget: FloatArray | float,
    params: EngineParams,
    rng: np.random.Generator,
) -> EngineStep:
    """Decide stages and budgets for every arm.

    Args:
        arms: arm state ``(..., K)`` as of the planning day.
        history: reported observations ``(..., K, D)`` before the planning day.
        target: objective and target.
        total_budget: the portfolio's daily budget, currency per day, scalar or ``(...)``.
        params: engine settings.
        rng: the only source of randomness (posterior draws).

    Returns:
        The :class:`EngineStep`; the budgets satisfy every guardrail (see
        :mod:`allocator.core.guardrails`) and never sum above ``total_budget``.
    """
    model = _fit(history, arms, target, params)
    draws = model.sample(rng, params.n_draws)
    top = np.argmax(draws, axis=-1)  # each draw's best arm, shared by both users of draws
    # factor from each arm's average rate to its rate at vanishing spend, shared by the
    # kill test, the marginal stop and the saturating allocation (ones when linear)
    weight = exposure_weight(history, params.posterior)
    half = account_half_saturation(history, params)
    to_zero = rate_at_zero_multiplier(history.spend, weight, half)
    kill_at = to_zero if params.kill_at_smallest_budget else None
    decisions = decide(
        draws, model, arms, history, target, params.decisions, top_hint=top,
        kill_rate_multiplier=kill_at,
    )  # fmt: skip
    guard = params.guardrails
    total = np.asarray(total_budget, dtype=np.float64)
    launched = arms.days_since_launch >= 0
    if params.marginal_stop:
        decisions = _keep_useful_losers(
            decisions, draws, launched, Saturation(to_zero, half), total, params
        )
    stage = decisions.stage
    active = launched & ((stage == _TESTING) | (stage == _SCALING))
    acceptable = launched & (stage != _BLOCKED) & (stage != _PAUSED)
    acceptable &= decisions.p_kill < params.decisions.kill_probability
    frozen = in_learning(arms, conversions_since_edit(arms, history), guard) & active
    reserve = acceptable & (stage == _RESTING) & params.spend_reserve
    placer = Placer(draws, top, Saturation(to_zero, half), model, params)
    decisions, room, desired, projection = placer.place(
        decisions, Room(arms, active, frozen, total, guard), reserve
    )
    active = room.active
    starved = active & ~projection.enabled
    return EngineStep(
        model=model,
        decisions=decisions,
        desired=desired,
        projection=projection,
        frozen=frozen,
        stage=decisions.stage,
        starved=starved,
        unspent_by_choice=unspent_by_choice(projection.shortfall, acceptable),
    )


def _fit(history: History, arms: ArmState, target: Target, params: EngineParams) -> ArmModel:
    """The posterior: of the discounted past, or of tomorrow under the fatigue forecast."""
    if not params.fatigue_forecast:
        return fit(history, arms, params.posterior, target)
    age = np.asarray(history.age_days, dtype=np.float64)
    reported = params.posterior.lag.reported_fraction(age)
    scale = forecast_factors(history.impressions, history.spend, history.conversions, reported, age)
    evidence = discounted_evidence(history, params.posterior, scale)
    return from_evidence(evidence, arms, params.posterior, target)


def account_half_saturation(history: History, params: EngineParams) -> float | FloatArray:
    """Half-saturation spend the step uses, currency per day.

    ``params.half_saturation_spend`` as given, or, with ``learn_saturation``, each
    account's own (:func:`allocator.core.saturation.fit_half_saturation`, with the given
    value as the prior's median), shape ``(..., 1)``.
    """
    half = params.half_saturation_spend
    if not params.learn_saturation or math.isinf(half):
        return half
    # conversions are counted whole, so only the lag (not the time discount) scales a
    # day's expected count
    reported = params.posterior.lag.reported_fraction(np.asarray(history.age_days))
    fitted = fit_half_saturation(
        history.spend, history.conversions, reported, half, params.saturation_prior_sd_log
    )
    return np.asarray(fitted, dtype=np.float64)[..., None]


def _keep_useful_losers(
    decisions: Decisions,
    draws: FloatArray,
    launched: BoolArray,
    saturation: Saturation,
    total: FloatArray,
    params: EngineParams,
) -> Decisions:
    """Losers the account still needs keep testing (see :mod:`allocator.core.margin`).

    A clear loser rests only when the best split of the budget under the posterior means
    leaves it unfunded and its rate at vanishing spend is credibly below that split's
    marginal return (``P < p_best_to_stop``).
    """
    loser = decisions.reason == _RESTING_LOSER
    if not loser.any():
        return decisions
    stage = decisions.stage
    candidate = launched & ((stage == _TESTING) | (stage == _SCALING) | loser)
    cap = np.broadcast_to(params.guardrails.max_budget_share * total[..., None], loser.shape)
    probability = params.decisions.p_best_to_stop
    few = draws[..., :_MARGIN_DRAWS, :]  # P < 0.01 needs no more; keeps the step fast
    to_zero, half = saturation
    rest = better_elsewhere(few, to_zero, candidate, cap, total, half, probability)
    keep = loser & ~rest
    return dataclasses.replace(
        decisions,
        stage=np.where(keep, int(Stage.TESTING), stage),
        reason=np.where(keep, int(Reason.TESTING_UNDECIDED), decisions.reason),
    )


def starved_reason(binding: int) -> str:
    """Human reason for an arm the projection switched off."""
    if binding == Binding.NO_ROOM:
        return "off today: the daily budget cannot hold it above the platform minimum"
    return "off today: its share would fall below the platform minimum (paused, not starved)"
