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
import functools
import math
import typing
from dataclasses import dataclass, field
from typing import Annotated, Literal, NamedTuple

import numpy as np
from annotated_types import Ge, Gt, Le

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.allocation import thompson_allocate
from allocator.core.arms import ArmState, History, Stage
from allocator.core.bounds import FieldError, check_bounds
from allocator.core.decisions import DecisionParams, Decisions, Reason, decide
from allocator.core.evidence import PosteriorParams, discounted_evidence, exposure_weight
from allocator.core.fatigue_curve import forecast_factors
from allocator.core.guardrail_params import GuardrailParams, in_learning
from allocator.core.guardrails import Binding, Projection, project
from allocator.core.margin import better_elsewhere
from allocator.core.posterior import ArmModel, fit, from_evidence
from allocator.core.response import rate_at_zero_multiplier, saturating_allocate
from allocator.core.saturation import fit_half_saturation
from allocator.core.spend import arm_capacity, fill_reserve, lift_pays, unspent_by_choice
from allocator.core.target import Target

# Plain int codes for array work (numpy converts an IntEnum member slowly).
_TESTING, _SCALING, _PAUSED, _BLOCKED, _RESTING = (
    int(Stage.TESTING), int(Stage.SCALING), int(Stage.PAUSED), int(Stage.BLOCKED),
    int(Stage.RESTING),
)  # fmt: skip
_RESTING_LOSER, _NO_ROOM = int(Reason.RESTING_LOSER), int(Binding.NO_ROOM)

_MARGIN_DRAWS = 400
"""Posterior draws behind the marginal stop's probability (first of the ``n_draws``)."""
_UNCAPPED_STEP = 1e12
"""Step-up cap of the lifted projection: the bounds want a finite number; a 1e12-fold
step takes even a cent past any daily budget."""

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


def exploration_floor(active: BoolArray, total: FloatArray, guard: GuardrailParams) -> FloatArray:
    """Budget floor of a testing arm per row, currency per day, shape ``(...)``.

    ``exploration_share`` of the daily budget spread evenly over the arms allowed to run,
    never below ``test_floor`` nor above the per-arm cap.
    """
    n_active = np.maximum(active.sum(axis=-1), 1)
    even = guard.exploration_share * total / n_active
    floor = np.maximum(even, guard.test_floor)
    return np.asarray(np.minimum(floor, guard.max_budget_share * total), dtype=np.float64)


def start_budget(active: BoolArray, total: FloatArray, guard: GuardrailParams) -> FloatArray:
    """Budget of an arm being enabled, per row, currency per day, shape ``(...)``.

    An even share of the daily budget over the arms allowed to run: a new creative starts
    where an even split would put it, never below the test floor nor above the cap.
    """
    n_active = np.maximum(active.sum(axis=-1), 1)
    even = np.maximum(total / n_active, guard.test_floor)
    return np.asarray(np.minimum(even, guard.max_budget_share * total), dtype=np.float64)


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
            decisions, draws, launched, _Saturation(to_zero, half), total, params
        )
    stage = decisions.stage
    active = launched & ((stage == _TESTING) | (stage == _SCALING))
    acceptable = launched & (stage != _BLOCKED) & (stage != _PAUSED)
    acceptable &= decisions.p_kill < params.decisions.kill_probability
    frozen = in_learning(arms, conversions_since_edit(arms, history), guard) & active
    reserve = acceptable & (stage == _RESTING) & params.spend_reserve
    placer = _Placer(draws, top, _Saturation(to_zero, half), model, params)
    decisions, room, desired, projection = placer.place(
        decisions, _Room(arms, active, frozen, total, guard), reserve
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


class _Saturation(NamedTuple):
    """The response curve the step assumes.

    ``to_zero``: the rate-at-vanishing-spend factor per arm ``(..., K)``; ``half``: the
    half-saturation spend, a scalar or one per account ``(..., 1)``, currency per day.
    """

    to_zero: FloatArray
    half: float | FloatArray


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
    saturation: _Saturation,
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


@dataclass(frozen=True)
class _Room:
    """Where the budget can go tomorrow: arm state, who runs, who learns, the total."""

    arms: ArmState
    active: BoolArray
    frozen: BoolArray
    total: FloatArray
    guard: GuardrailParams

    def start(self) -> FloatArray:
        """Start budget of each arm being enabled, ``(..., K)``, currency per day.

        ``new_arm_budget`` when set, else the even share of :func:`start_budget`;
        lowered where the running arms' floors (today's budget when frozen, else today's
        less the step-down cap) leave less than that for the arms being enabled: they
        split what is left when that is at least the platform minimum (a start budget
        is fixed, so without the split some of them would find no room while money is
        left; the test floor yields to spending the budget). Where even that does not
        fit, the even share stays and the projection chooses who runs. Computed once
        per room (read only).
        """
        return self._start

    @functools.cached_property
    def _start(self) -> FloatArray:
        """:meth:`start`, computed on its first call."""
        guard, arms, total = self.guard, self.arms, self.total
        if guard.new_arm_budget is None:
            wanted = start_budget(self.active, total, guard)
        else:
            wanted = np.full(np.shape(total), guard.start_budget)
        today = np.asarray(arms.budget, dtype=np.float64)
        running = self.active & np.asarray(arms.enabled) & (today > 0)
        kept = np.where(self.frozen, today, today * (1.0 - guard.max_step_down))
        floor = np.minimum(
            np.maximum(kept, guard.platform_min_budget), guard.max_budget_share * total[..., None]
        )
        left = total - np.where(running, floor, 0.0).sum(axis=-1)
        n_new = np.maximum((self.active & ~running).sum(axis=-1), 1)
        split = left / n_new
        fits = split >= max(guard.platform_min_budget, 0.01)  # else the projection chooses
        share = np.where(fits, np.minimum(wanted, split), wanted)
        return np.broadcast_to(share[..., None], self.active.shape)

    def adding(self, back: BoolArray) -> _Room:
        """The room with the arms ``back`` running too (this room when there are none)."""
        if not back.any():
            return self
        return dataclasses.replace(self, active=self.active | back)


_RESERVE_ROUNDS = 4
"""Rounds of the reserve's fixed point: each arm brought back lowers the start budgets,
so the capacity counted before falls short; the chosen set only grows, and settles in
one or two rounds in practice."""


def _reserve(room: _Room, reserve: BoolArray, rank: FloatArray) -> BoolArray:
    """Resting arms to bring back so that the running arms can absorb the budget.

    :func:`~allocator.core.spend.fill_reserve` counts each arm's capacity with the start
    budgets of the arms already chosen; bringing arms back lowers those start budgets,
    so the choice is repeated with them until it stops growing.
    """
    back = np.zeros_like(room.active)
    for _ in range(_RESERVE_ROUNDS):
        chosen = room.adding(back)
        capacity = arm_capacity(room.arms, room.frozen, chosen.start(), room.total, room.guard)
        more = back | fill_reserve(room.active, reserve, rank, capacity, room.total)
        if np.array_equal(more, back):
            break
        back = more
    return back


@dataclass(frozen=True)
class _Placer:
    """Places the daily budget: reserve, Thompson allocation, projection, step-cap lift."""

    draws: FloatArray
    top: IntArray
    saturation: _Saturation
    model: ArmModel
    params: EngineParams

    def place(
        self, decisions: Decisions, room: _Room, reserve: BoolArray
    ) -> tuple[Decisions, _Room, FloatArray, Projection]:
        """Decisions, room, desired budgets and projection once the budget is placed.

        Resting acceptable arms (``reserve``) come back first by the capacity count of
        :func:`_reserve`; where the projection still leaves more than rounding unplanned
        beside an idle reserve arm (the count cannot see which arms the projection will
        cut for room), the reserve is counted again without the arms cut for room, and
        the budget placed again over the rest (the cut arms stay off, ``NO_ROOM``).
        Then the step-up cap is lifted where ``step_cap_on_shortfall`` says so.
        """
        rank = self.model.reward_mean()
        if reserve.any():
            back = _reserve(room, reserve, rank)
            decisions, room = _bring_back(decisions, back), room.adding(back)
        desired, projection = self._project(decisions, room)
        loose = projection.shortfall > 0.01 * np.maximum(projection.enabled.sum(axis=-1), 1)
        idle = reserve & ~room.active & loose[..., None]
        if idle.any():
            cut = room.active & (projection.binding == _NO_ROOM) & loose[..., None]
            kept = dataclasses.replace(room, active=room.active & ~cut)
            more = _reserve(kept, idle, rank) & idle
            if more.any() or cut.any():
                decisions = _bring_back(decisions, more)
                desired, projection = self._project(decisions, kept.adding(more))
                binding = np.where(cut, int(Binding.NO_ROOM), projection.binding)
                projection = dataclasses.replace(projection, binding=binding)
                room = room.adding(more)
        if self.params.step_cap_on_shortfall != "hold" and (projection.shortfall > 0).any():
            projection = _lift_step_cap(projection, desired, self.model, room, self.params)
        return decisions, room, desired, projection

    def _project(self, decisions: Decisions, room: _Room) -> tuple[FloatArray, Projection]:
        """Thompson allocation over ``room.active`` and its guardrail projection."""
        desired = _allocate(
            self.draws, self.top, decisions.stage, room.active, self.saturation, room.total,
            self.params,
        )  # fmt: skip
        projection = project(
            desired, room.arms, room.active, room.frozen, room.total, room.guard,
            start=room.start(),
        )  # fmt: skip
        return desired, projection


def _lift_step_cap(
    projection: Projection,
    desired: FloatArray,
    model: ArmModel,
    room: _Room,
    params: EngineParams,
) -> Projection:
    """Rows with a shortfall re-projected without the step-up cap, where that pays.

    Under ``step_cap_on_shortfall = "lift"`` every such row; under ``"by_value"`` the
    rows where :func:`~allocator.core.spend.lift_pays` finds the money placed worth more
    than the learning the large edits restart.
    """
    arms, guard = room.arms, room.guard
    free = dataclasses.replace(guard, max_step_up=_UNCAPPED_STEP)
    lifted = project(desired, arms, room.active, room.frozen, room.total, free, start=room.start())
    short = projection.shortfall > 0
    if params.step_cap_on_shortfall == "by_value":
        running = np.asarray(arms.enabled) & (np.asarray(arms.budget) > 0)
        today = np.where(running, np.asarray(arms.budget, dtype=np.float64), 0.0)
        short &= lift_pays(
            projection.budget,
            lifted.budget,
            today,
            model.rate.mean(),
            model.reward_mean(),
            guard,
            params.reset_penalty,
            params.relearning_days,
        )
    fields = {
        f.name: np.where(
            short if getattr(projection, f.name).ndim == short.ndim else short[..., None],
            getattr(lifted, f.name),
            getattr(projection, f.name),
        )
        for f in dataclasses.fields(projection)
    }
    return Projection(**fields)


def _bring_back(decisions: Decisions, back: BoolArray) -> Decisions:
    """Decisions with the reserve arms ``back`` testing again (reason ``TESTING_RESERVE``)."""
    if not back.any():
        return decisions
    return dataclasses.replace(
        decisions,
        stage=np.where(back, int(Stage.TESTING), decisions.stage),
        reason=np.where(back, int(Reason.TESTING_RESERVE), decisions.reason),
    )


def _allocate(
    draws: FloatArray,
    top: IntArray,
    stage: IntArray,
    active: BoolArray,
    saturation: _Saturation,
    total: FloatArray,
    params: EngineParams,
) -> FloatArray:
    """Thompson allocation of ``total`` over the active arms (floors, caps, saturation)."""
    guard = params.guardrails
    cap = np.where(active, guard.max_budget_share * total[..., None], 0.0)
    explore = exploration_floor(active, total, guard)
    floor = np.where(stage == _TESTING, explore[..., None], guard.platform_min_budget)
    floors = np.where(active, floor, 0.0)
    to_zero, half = saturation
    if np.ndim(half) == 0 and math.isinf(float(half)):
        return thompson_allocate(draws, floors, cap, total, top_hint=top)
    few = draws[..., : params.allocation_draws, :]  # water-filling costs S K log K per row
    return saturating_allocate(few * to_zero[..., None, :], floors, cap, total, half)


def starved_reason(binding: int) -> str:
    """Human reason for an arm the projection switched off."""
    if binding == Binding.NO_ROOM:
        return "off today: the daily budget cannot hold it above the platform minimum"
    return "off today: its share would fall below the platform minimum (paused, not starved)"
