"""Per-arm decisions from the posterior: stage, reason, alerts and the summaries behind them.

Vectorised over arms ``K`` and any leading batch axes. The Monte Carlo statistics (P(best),
expected loss, value remaining) come from :mod:`allocator.core.draw_stats`; the CPA and
ROAS intervals, P(meets target), the kill test and the fatigue test are exact
(:mod:`allocator.core.exact_stats`); the alert flags come from :mod:`allocator.core.alerts`.
:mod:`allocator.core.explain` words the result.

Stage machine (``prev`` = :attr:`ArmState.prev_stage`):

* any -> ``blocked`` when ``auth_days_left < min_remaining_days`` (lapsed, or lapsing
  soon); ``blocked`` -> ``testing`` once renewed.
* ``paused`` stays ``paused`` (a person re-enables it: the job then passes ``testing``).
* ``testing`` -> ``paused`` when the CPA is credibly above ``kill_cpa_multiple x target``
  (P >= ``kill_probability``); -> ``scaling`` when, after ``min_conversions_to_scale``,
  ``P(best) >= p_best_to_scale`` or value remaining ``<= value_remaining_to_scale``; ->
  ``resting`` when ``P(best) < p_best_to_stop`` and ``P(CPA <= target) <
  p_meets_target_to_keep`` (a clear loser that is also almost surely unprofitable). The kill
  rule waits until the arm spent ``min_spend_to_kill`` target CPAs (ROAS: break-even
  CPAs), the loser rule ``min_spend_to_stop``, so no arm is stopped on its prior alone.
* ``resting`` -> ``testing`` (with ``revive_resting``) once its posterior mean reward is at
  least the budget-weighted mean reward of the arms running now (testing or scaling with a
  budget): the running creatives fatigued down to what it earned when it was paused. A
  resting arm does not fatigue, so its old evidence still describes it; the comparison
  is with today's budgets, so it returns to compete at the test floor, not to a share. An
  arm whose CPA is credibly above the kill threshold (the maximum the advertiser
  accepts) never returns; a killed arm stays ``paused``.
* ``scaling`` -> ``resting`` when fatigued and either a loser (``P(best) < p_best_to_stop``)
  or, on its recent days alone, credibly below break-even (P >= ``kill_probability``): it
  may return like any resting arm; -> ``paused`` when its CPA is credibly above the kill
  threshold.

Fatigue: the recent posterior (half-life ``fatigue_half_life_days``) against the earlier
one (see :func:`allocator.core.exact_stats.fatigue_test`);
``P(lambda_recent < (1 - fatigue_drop) * lambda_earlier) >= fatigue_probability``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Annotated, NamedTuple

import numpy as np
from annotated_types import Ge
from scipy import special

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.alerts import alerts
from allocator.core.arms import ArmState, History, Objective, Stage
from allocator.core.bounds import Finite, NonNegative, Positive, Probability, check_bounds
from allocator.core.draw_stats import DrawStats, draw_stats
from allocator.core.exact_stats import (
    ExactStats,
    Intervals,
    PosteriorSummaries,
    exact_stats,
    fatigue_test,
    intervals,
)
from allocator.core.families import GammaPosterior
from allocator.core.posterior import ArmModel
from allocator.core.target import Target

__all__ = ["DecisionParams", "Decisions", "Reason", "decide"]

# Plain int codes for array work (numpy converts an IntEnum member slowly).
_TESTING, _SCALING, _PAUSED = int(Stage.TESTING), int(Stage.SCALING), int(Stage.PAUSED)
_BLOCKED, _RESTING = int(Stage.BLOCKED), int(Stage.RESTING)
_STAGE_CODES = (min(int(s) for s in Stage), max(int(s) for s in Stage))


class Reason(IntEnum):
    """Why an arm is in its stage (one code per arm; worded by :mod:`allocator.core.explain`)."""

    TESTING_NEEDS_EVIDENCE = 0
    TESTING_UNDECIDED = 1
    TESTING_RENEWED = 2
    SCALING_P_BEST = 3
    SCALING_VALUE_REMAINING = 4
    SCALING_KEPT = 5
    SCALING_FATIGUED = 6
    RESTING_LOSER = 7
    PAUSED_KILL = 8
    PAUSED_FATIGUED = 9
    PAUSED_KEPT = 10
    BLOCKED_LAPSED = 11
    BLOCKED_EXPIRING = 12
    RESTING_KEPT = 13
    TESTING_REVIVED = 14
    RESTING_FATIGUED = 15
    TESTING_RESERVE = 16


@dataclass(frozen=True)
class DecisionParams:
    """Thresholds of the stage machine (TOML table ``[decisions]``).

    Attributes:
        p_best_to_scale: P(best) that makes a testing arm a winner.
        value_remaining_to_scale: Scott's rule, relative value remaining that makes a winner.
        value_remaining_quantile: quantile of the value-remaining distribution (0.95).
        min_conversions_to_scale: raw reported conversions before any scaling.
        min_spend_to_stop: spend, in target CPAs, before an arm can be paused as a loser
            against the others (10: about the evidence ``min_conversions_to_scale``
            asks before scaling, so both calls rest on comparable data).
        min_spend_to_kill: spend, in target CPAs, before an arm whose CPA is credibly
            above ``kill_cpa_multiple x target`` is paused (6: early CPAs run high while
            the platform's learning phase costs 15-35 % of conversions and the lag hides
            recent ones, so the first few target CPAs of spend overstate the CPA; 3 killed
            acceptable creatives on the robustness suite's held-out worlds).
        p_best_to_stop: P(best) below which an arm is a clear loser...
        p_meets_target_to_keep: ...unless it still meets the target with at least this
            probability (0.1: only an arm almost surely above the target CPA is paused
            as a loser): an arm that is not the best but may well be profitable keeps
            testing at its floor (under diminishing returns and fatigue, a second
            profitable creative is worth its reach).
        kill_cpa_multiple: the maximum CPA the advertiser accepts, as a multiple of the
            target (ROAS: the minimum is target / multiple). A creative credibly above it
            is paused and never gets budget back; below it, a creative is acceptable and
            takes money the better ones cannot absorb (a conversion at 2 x target beats
            none). Default 3: the blended CPA is what the target constrains, and a
            creative's early CPA runs up to about 2x its settled one under the learning
            phase (penalty up to 0.35) and saturation at test budgets; 2 left 12-24 % of
            the budget unplanned on the suite's budget-rich worlds.
        kill_probability: posterior probability needed for a kill.
        fatigue_drop: relative drop of the recent rate that counts as fatigue.
        fatigue_probability: posterior probability needed to flag fatigue.
        fatigue_half_life_days: half-life of the recent posterior, days.
        min_remaining_days: block arms whose authorization lapses sooner, days (1: the
            code lapses before the next daily run, so today's budget would be stranded;
            blocking earlier forfeits days of a live creative, often the best one, while
            ``renew_warning_days`` asks for a renewal; raise it when runs may be skipped).
        renew_warning_days: alert when the authorization lapses within this, days.
        cpa_interval: central probability of the CPA (ROAS) interval.
        revive_resting: let a resting loser return to testing once the running arms'
            budget-weighted mean reward falls to its own (creative rotation under
            fatigue); False keeps it resting until a person re-enables it.
    """

    p_best_to_scale: Probability = 0.95
    value_remaining_to_scale: NonNegative = 0.01
    value_remaining_quantile: Probability = 0.95
    min_conversions_to_scale: NonNegative = 10.0
    min_spend_to_stop: NonNegative = 10.0
    min_spend_to_kill: NonNegative = 6.0
    p_best_to_stop: Probability = 0.01
    p_meets_target_to_keep: Probability = 0.1
    kill_cpa_multiple: Annotated[float, Ge(1.0), Finite] = 3.0
    kill_probability: Probability = 0.9
    fatigue_drop: Probability = 0.3
    fatigue_probability: Probability = 0.9
    fatigue_half_life_days: Positive = 3.0
    min_remaining_days: NonNegative = 1.0
    renew_warning_days: NonNegative = 7.0
    cpa_interval: Probability = 0.90
    revive_resting: bool = True

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True, slots=True)
class Decisions(PosteriorSummaries):
    """Per-arm decisions; every array has shape ``(..., K)``.

    The CPA and ROAS summaries (``cpa_mean``, ``roas_mean``, ``p_meets_target``,
    ``p_kill``) are those of :class:`~allocator.core.exact_stats.PosteriorSummaries`. The
    central ``interval`` CPA and ROAS intervals (:meth:`intervals`) are computed from
    ``model`` when first read: only reports read them, and the inverse incomplete gamma
    they need costs more than the rest of the exact statistics together.

    Attributes:
        stage: :class:`~allocator.core.arms.Stage` codes.
        reason: :class:`Reason` codes.
        p_best: probability the arm has the highest reward among arms allowed to run.
        expected_loss: ``E[max_j theta_j - theta_k]``, reward units.
        value_remaining: ``q``-quantile of ``(max_j theta_j - theta_k) / theta_k``.
        p_fatigue: P(recent rate < (1 - fatigue_drop) x earlier rate).
        fatigued: ``p_fatigue >= fatigue_probability``.
        alerts: :class:`~allocator.core.alerts.Alert` bit flags.
        conversions: raw reported conversions (undiscounted).
        spend: raw spend, currency.
        auth_days_left: days until the authorization lapses (copied from the arm state).
        interval: central probability of the CPA and ROAS intervals (a scalar).
        model: the posterior the intervals come from.
        objective: CPA or ROAS (the ROAS interval is NaN for CPA).
    """

    stage: IntArray
    reason: IntArray
    p_best: FloatArray
    expected_loss: FloatArray
    value_remaining: FloatArray
    p_fatigue: FloatArray
    fatigued: BoolArray
    alerts: IntArray
    conversions: FloatArray
    spend: FloatArray
    auth_days_left: FloatArray
    interval: float
    model: ArmModel = field(repr=False, compare=False)
    objective: Objective
    _intervals: list[Intervals] = field(
        default_factory=list, init=False, repr=False, compare=False
    )  # filled on first read

    def intervals(self) -> Intervals:
        """The CPA and ROAS intervals, computed on first read."""
        if not self._intervals:
            self._intervals.append(intervals(self.model, self.objective, self.interval))
        return self._intervals[0]


class _Tests(NamedTuple):
    """The stage machine's per-arm tests (module docstring), boolean ``(..., K)``."""

    blocked: BoolArray  # authorization lapses within min_remaining_days (NaN: blocked)
    lapsed: BoolArray  # authorization already lapsed
    needs_evidence: BoolArray  # fewer than min_conversions_to_scale conversions
    best: BoolArray  # enough evidence and P(best) >= p_best_to_scale
    settled: BoolArray  # enough evidence and value remaining <= value_remaining_to_scale
    kill: BoolArray  # spent min_spend_to_kill, CPA credibly above the kill threshold
    lose: BoolArray  # spent min_spend_to_stop, a clear loser, almost surely unprofitable
    worn_out: BoolArray  # fatigued, and a loser or recently unprofitable
    revive: BoolArray  # mean reward >= the running arms' budget-weighted mean reward


def _tests(
    arms: ArmState,
    stats: DrawStats,
    exact: ExactStats,
    fatigued: BoolArray,
    recent: GammaPosterior,
    model: ArmModel,
    params: DecisionParams,
) -> _Tests:
    """Evaluate every test of the stage machine."""
    days = arms.auth_days_left
    enough = model.evidence.conversions_total >= params.min_conversions_to_scale
    spend = model.evidence.spend_total
    spent = spend >= params.min_spend_to_stop * exact.stop_unit
    kill = (spend >= params.min_spend_to_kill * exact.stop_unit) & (
        exact.p_kill >= params.kill_probability
    )
    loser = spent & (stats.p_best < params.p_best_to_stop)
    # a fatigued arm is judged on its recent days: it stops when it lost the lead or when
    # its recent rate is credibly below break-even, even if the discounted average pays
    recent_unprofitable = (
        special.gammainc(recent.shape, recent.rate / exact.stop_unit) >= params.kill_probability
    )
    return _Tests(
        blocked=~(days >= params.min_remaining_days),  # NaN counts as blocked
        lapsed=~(days > 0.0),
        needs_evidence=~enough,
        best=enough & (stats.p_best >= params.p_best_to_scale),
        settled=enough & (stats.value_remaining <= params.value_remaining_to_scale),
        kill=kill,
        lose=loser & (exact.p_meets_target < params.p_meets_target_to_keep),
        worn_out=fatigued & (loser | recent_unprofitable),
        revive=(
            _revivable(arms, model) & (exact.p_kill < params.kill_probability)
            if params.revive_resting
            else np.zeros_like(kill)
        ),
    )


def _revivable(arms: ArmState, model: ArmModel) -> BoolArray:
    """Arms whose mean reward reaches the budget-weighted mean of the running arms.

    Running arms are those testing or scaling with a budget today (currency per day);
    with none, every arm qualifies (the budget has nowhere else to go). The sums are
    taken in sorted order so that the result is exactly permutation-equivariant.
    """
    prev = np.asarray(arms.prev_stage)
    running = ((prev == _TESTING) | (prev == _SCALING)) & (arms.budget > 0)
    mean = model.reward_mean()
    weight = np.where(running, arms.budget, 0.0)
    # Summed in sorted order, so the level (and a tie with it) does not depend on the
    # arms' order: with equal means, floating point in another order can flip a revival.
    total = np.sort(weight, axis=-1).sum(axis=-1, keepdims=True)
    level = np.divide(
        np.sort(mean * weight, axis=-1).sum(axis=-1, keepdims=True),
        total,
        out=np.zeros_like(total),
        where=total > 0,
    )
    # An arm whose mean equals the level (e.g. every arm still at the pooled prior) counts
    # as reaching it, whatever the rounding of the weighted mean.
    revive: BoolArray = mean >= level - 1e-12 * np.abs(level)
    return revive


def _stages(prev: IntArray, tests: _Tests, fatigued: BoolArray) -> tuple[IntArray, IntArray]:
    """Stage and :class:`Reason` codes per arm: the first rule that holds, in order."""
    t, scaling, resting = tests, prev == _SCALING, prev == _RESTING
    rules: list[tuple[BoolArray, Stage, Reason]] = [
        (t.blocked & t.lapsed, Stage.BLOCKED, Reason.BLOCKED_LAPSED),
        (t.blocked, Stage.BLOCKED, Reason.BLOCKED_EXPIRING),
        (prev == _PAUSED, Stage.PAUSED, Reason.PAUSED_KEPT),
        (resting & t.revive, Stage.TESTING, Reason.TESTING_REVIVED),
        (resting, Stage.RESTING, Reason.RESTING_KEPT),
        (scaling & t.kill, Stage.PAUSED, Reason.PAUSED_KILL),
        (scaling & t.worn_out, Stage.RESTING, Reason.RESTING_FATIGUED),
        (scaling & fatigued, Stage.SCALING, Reason.SCALING_FATIGUED),
        (scaling, Stage.SCALING, Reason.SCALING_KEPT),
        (prev == _BLOCKED, Stage.TESTING, Reason.TESTING_RENEWED),
        (t.kill, Stage.PAUSED, Reason.PAUSED_KILL),
        (t.best, Stage.SCALING, Reason.SCALING_P_BEST),
        (t.settled, Stage.SCALING, Reason.SCALING_VALUE_REMAINING),
        (t.lose, Stage.RESTING, Reason.RESTING_LOSER),
        (t.needs_evidence, Stage.TESTING, Reason.TESTING_NEEDS_EVIDENCE),
    ]
    first = _first_rule([c for c, _, _ in rules], prev.shape)
    stages = np.array([*(int(s) for _, s, _ in rules), int(Stage.TESTING)], dtype=np.int64)
    reasons = [*(int(r) for _, _, r in rules), int(Reason.TESTING_UNDECIDED)]
    return stages[first], np.array(reasons, dtype=np.int64)[first]


def _prev_stage(arms: ArmState) -> IntArray:
    """The previous stage codes, checked to be :class:`~allocator.core.arms.Stage` values."""
    prev = np.asarray(arms.prev_stage)
    low, high = _STAGE_CODES
    if prev.size and (prev.min() < low or prev.max() > high):
        raise ValueError(
            f"prev_stage codes must be Stage values {min(Stage)}..{max(Stage)}, "
            f"got {np.unique(prev)}"
        )
    return prev


def _first_rule(conditions: list[BoolArray], shape: tuple[int, ...]) -> IntArray:
    """Index of the first condition that holds per arm, ``len(conditions)`` if none."""
    holds = np.empty((len(conditions) + 1, *shape), dtype=np.bool_)
    for index, condition in enumerate(conditions):
        holds[index] = condition
    holds[-1] = True
    return np.asarray(holds.argmax(axis=0))


def decide(
    draws: FloatArray,
    model: ArmModel,
    arms: ArmState,
    history: History,
    target: Target,
    params: DecisionParams,
    *,
    top_hint: IntArray | None = None,
    kill_rate_multiplier: FloatArray | None = None,
) -> Decisions:
    """Decide every arm's stage and summaries.

    Args:
        draws: ``(..., S, K)`` reward draws from ``model.sample`` (conversions per
            currency for CPA, value per currency for ROAS).
        model: the fitted posterior (:func:`allocator.core.posterior.fit`), ``(..., K)``.
        arms: arm state ``(..., K)`` (authorization, previous stage, budget).
        history: ``(..., K, D)``, for the fatigue test and the data-missing alert.
        target: objective and target.
        params: thresholds.
        top_hint: ``numpy.argmax(draws, axis=-1)``, shape ``(..., S)``, when the caller
            already has it (the engine shares it with the allocation); it only saves time.
        kill_rate_multiplier: per arm, its rate at the smallest budget over its average
            rate, ``(..., K)`` (>= 1 under diminishing returns; see
            :func:`allocator.core.response.rate_at_zero_multiplier`). The kill then asks
            whether the CPA *at the smallest budget* is credibly above the maximum, not
            the CPA at the spend the arm happened to get; None judges the average.

    Returns:
        :class:`Decisions` of shape ``(..., K)``.
    """
    _check_draws(draws, arms)
    blocked = ~(arms.auth_days_left >= params.min_remaining_days)
    prev = _prev_stage(arms)
    eligible = ~blocked & (prev != _PAUSED) & (prev != _RESTING)
    stats = draw_stats(draws, eligible, params.value_remaining_quantile, top_hint)
    kill_multiple: float | FloatArray = params.kill_cpa_multiple
    if kill_rate_multiplier is not None:
        kill_multiple = params.kill_cpa_multiple * np.asarray(kill_rate_multiplier)
    exact = exact_stats(model, target, kill_multiple)
    p_fatigue, recent = fatigue_test(
        model, history, params.fatigue_drop, params.fatigue_half_life_days
    )
    fatigued = p_fatigue >= params.fatigue_probability
    tests = _tests(arms, stats, exact, fatigued, recent, model, params)
    stage, reason = _stages(prev, tests, fatigued)
    return Decisions(
        stage=stage,
        reason=reason,
        p_best=stats.p_best,
        expected_loss=stats.expected_loss,
        value_remaining=stats.value_remaining,
        cpa_mean=exact.cpa_mean,
        roas_mean=exact.roas_mean,
        p_meets_target=exact.p_meets_target,
        p_kill=exact.p_kill,
        p_fatigue=p_fatigue,
        fatigued=fatigued,
        alerts=alerts(arms, history, fatigued, params.renew_warning_days),
        conversions=model.evidence.conversions_total,
        spend=model.evidence.spend_total,
        auth_days_left=np.asarray(arms.auth_days_left, dtype=np.float64),
        interval=params.cpa_interval,
        model=model,
        objective=target.objective,
    )


def _check_draws(draws: FloatArray, arms: ArmState) -> None:
    """Raise unless ``draws`` is ``(..., S, K)`` with ``S >= 1`` over the arms ``(..., K)``."""
    batch_k = arms.budget.shape
    if draws.ndim != len(batch_k) + 1 or draws.shape[:-2] + draws.shape[-1:] != batch_k:
        raise ValueError(f"draws {draws.shape} do not match arms {batch_k} as (..., S, K)")
    if draws.shape[-2] < 1:
        raise ValueError("draws need at least one posterior draw (S >= 1)")
