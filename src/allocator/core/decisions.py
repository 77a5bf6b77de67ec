"""Per-arm decisions from the posterior: P(best), value remaining, CPA, stage, alerts.

Everything is vectorised over arms ``K`` and any leading batch axes. The Monte Carlo part
makes one argmax pass over the ``(..., S, K)`` reward draws for each draw's best arm, then
works through cache-sized blocks of arms (gap, its mean, the relative gap and one
partition for the value-remaining quantile) without any ``(..., S, K)`` temporary; CPA
and ROAS intervals, P(meets target), the kill test and the fatigue test are exact
functions of the conjugate posteriors (regularised incomplete gamma and beta functions).

Ties in the draws (equal rewards, e.g. zeros) share the win equally among the tied arms,
the expectation of breaking them uniformly at random: no arm is favoured by position.

Stage machine (``prev`` = :attr:`ArmState.prev_stage`):

* any -> ``blocked`` when ``auth_days_left < min_remaining_days`` (lapsed, or lapsing
  soon); ``blocked`` -> ``testing`` once renewed.
* ``paused`` stays ``paused`` (a person re-enables it: the job then passes ``testing``).
* ``testing`` -> ``paused`` when the CPA is credibly above ``kill_cpa_multiple x target``
  (P >= ``kill_probability``); -> ``scaling`` when, after ``min_conversions_to_scale``,
  ``P(best) >= p_best_to_scale`` or value remaining ``<= value_remaining_to_scale``; ->
  ``paused`` when ``P(best) < p_best_to_stop`` and ``P(CPA <= target) <
  p_meets_target_to_keep`` (a clear loser that is also almost surely unprofitable). The kill
  rule waits until the arm spent ``min_spend_to_kill`` target CPAs (ROAS: break-even
  CPAs), the loser rule ``min_spend_to_stop``, so no arm is stopped on its prior alone.
* ``scaling`` -> ``paused`` when fatigued and either a loser (``P(best) < p_best_to_stop``)
  or, on its recent days alone, credibly below break-even (P >= ``kill_probability``), or
  when its CPA is credibly above the kill threshold.

Fatigue: the recent posterior (half-life ``fatigue_half_life_days``) against the earlier
one (see :func:`allocator.core.evidence.fatigue_evidence`);
``P(lambda_recent < (1 - fatigue_drop) * lambda_earlier) >= fatigue_probability``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import IntEnum, IntFlag

import numpy as np
from scipy import special

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState, History, Objective, Stage
from allocator.core.evidence import fatigue_evidence
from allocator.core.families import GammaPosterior
from allocator.core.posterior import ArmModel, update
from allocator.core.target import Target

__all__ = ["Alert", "DecisionParams", "Decisions", "Reason", "alert_labels", "decide", "explain"]


class Reason(IntEnum):
    """Why an arm is in its stage (one code per arm; see :func:`explain`)."""

    TESTING_NEEDS_EVIDENCE = 0
    TESTING_UNDECIDED = 1
    TESTING_RENEWED = 2
    SCALING_P_BEST = 3
    SCALING_VALUE_REMAINING = 4
    SCALING_KEPT = 5
    SCALING_FATIGUED = 6
    PAUSED_LOSER = 7
    PAUSED_KILL = 8
    PAUSED_FATIGUED = 9
    PAUSED_KEPT = 10
    BLOCKED_LAPSED = 11
    BLOCKED_EXPIRING = 12


class Alert(IntFlag):
    """Alert bit flags per arm (combine with ``|``)."""

    AUTH_EXPIRING = 1
    AUTH_LAPSED = 2
    FATIGUED = 4
    DATA_MISSING = 8


_PROBABILITIES = (
    "p_best_to_scale",
    "value_remaining_quantile",
    "p_best_to_stop",
    "p_meets_target_to_keep",
    "kill_probability",
    "fatigue_probability",
    "cpa_interval",
)


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
            above ``kill_cpa_multiple x target`` is paused (3: that test is strong on
            its own).
        p_best_to_stop: P(best) below which an arm is a clear loser...
        p_meets_target_to_keep: ...unless it still meets the target with at least this
            probability (0.1: only an arm almost surely above the target CPA is paused
            as a loser): an arm that is not the best but may well be profitable keeps
            testing at its floor (under diminishing returns and fatigue, a second
            profitable creative is worth its reach).
        kill_cpa_multiple: CPA above this multiple of the target (ROAS: below target /
            multiple) is a kill.
        kill_probability: posterior probability needed for a kill.
        fatigue_drop: relative drop of the recent rate that counts as fatigue.
        fatigue_probability: posterior probability needed to flag fatigue.
        fatigue_half_life_days: half-life of the recent posterior, days.
        min_remaining_days: block arms whose authorization lapses sooner, days.
        renew_warning_days: alert when the authorization lapses within this, days.
        cpa_interval: central probability of the CPA (ROAS) interval.
    """

    p_best_to_scale: float = 0.95
    value_remaining_to_scale: float = 0.01
    value_remaining_quantile: float = 0.95
    min_conversions_to_scale: float = 10.0
    min_spend_to_stop: float = 10.0
    min_spend_to_kill: float = 3.0
    p_best_to_stop: float = 0.01
    p_meets_target_to_keep: float = 0.1
    kill_cpa_multiple: float = 2.0
    kill_probability: float = 0.9
    fatigue_drop: float = 0.3
    fatigue_probability: float = 0.9
    fatigue_half_life_days: float = 3.0
    min_remaining_days: float = 3.0
    renew_warning_days: float = 7.0
    cpa_interval: float = 0.90

    def __post_init__(self) -> None:
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {value}")
        if not 0.0 < self.fatigue_drop < 1.0:
            raise ValueError(f"fatigue_drop must be in (0, 1), got {self.fatigue_drop}")
        for name in (
            "value_remaining_to_scale",
            "min_conversions_to_scale",
            "min_spend_to_stop",
            "min_spend_to_kill",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not (math.isfinite(self.kill_cpa_multiple) and self.kill_cpa_multiple >= 1):
            raise ValueError(f"kill_cpa_multiple must be >= 1, got {self.kill_cpa_multiple}")
        if not self.fatigue_half_life_days > 0:
            raise ValueError(
                f"fatigue_half_life_days must be > 0, got {self.fatigue_half_life_days}"
            )
        for name in ("min_remaining_days", "renew_warning_days"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of days >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class Decisions:
    """Per-arm decisions; every field has shape ``(..., K)``.

    Attributes:
        stage: :class:`~allocator.core.arms.Stage` codes.
        reason: :class:`Reason` codes.
        p_best: probability the arm has the highest reward among arms allowed to run.
        expected_loss: ``E[max_j theta_j - theta_k]``, reward units.
        value_remaining: ``q``-quantile of ``(max_j theta_j - theta_k) / theta_k``.
        cpa_mean: posterior mean CPA, currency per conversion (``inf`` if undefined).
        cpa_low: lower end of the central ``cpa_interval`` CPA interval, currency.
        cpa_high: upper end, currency.
        roas_mean: posterior mean ROAS, value per currency (NaN for the CPA objective).
        roas_low: lower end of the ROAS interval (NaN for CPA).
        roas_high: upper end of the ROAS interval (NaN for CPA).
        p_meets_target: P(CPA <= target CPA) or P(ROAS >= target ROAS).
        p_kill: P(CPA > kill multiple x target) or P(ROAS < target / kill multiple).
        p_fatigue: P(recent rate < (1 - fatigue_drop) x earlier rate).
        fatigued: ``p_fatigue >= fatigue_probability``.
        alerts: :class:`Alert` bit flags.
        conversions: raw reported conversions (undiscounted).
        spend: raw spend, currency.
        auth_days_left: days until the authorization lapses (copied from the arm state).
        interval: central probability of the CPA and ROAS intervals (a scalar).
    """

    stage: IntArray
    reason: IntArray
    p_best: FloatArray
    expected_loss: FloatArray
    value_remaining: FloatArray
    cpa_mean: FloatArray
    cpa_low: FloatArray
    cpa_high: FloatArray
    roas_mean: FloatArray
    roas_low: FloatArray
    roas_high: FloatArray
    p_meets_target: FloatArray
    p_kill: FloatArray
    p_fatigue: FloatArray
    fatigued: BoolArray
    alerts: IntArray
    conversions: FloatArray
    spend: FloatArray
    auth_days_left: FloatArray
    interval: float


_BLOCK = 1 << 15  # draws per working block of the Monte Carlo statistics (256 KiB)
_MIN_BLOCK_ARMS = 16


@dataclass(frozen=True, slots=True)
class _DrawStats:
    p_best: FloatArray
    expected_loss: FloatArray
    value_remaining: FloatArray


def _draw_stats(
    draws: FloatArray, eligible: BoolArray, quantile: float, top_hint: IntArray | None = None
) -> _DrawStats:
    """P(best), expected loss and value remaining from reward draws ``(..., S, K)``.

    One pass finds each draw's best eligible arm; the rest runs block by block (a few
    dozen arms of a few batch rows, about :data:`_BLOCK` draws at a time, copied arm-major
    so every arm's draws are contiguous) so that the gaps, their sums, the relative gaps
    and their quantile stay in cache and no ``(..., S, K)`` temporary is ever allocated.
    ``top_hint``, when given, is ``argmax(draws, axis=-1)`` ``(..., S)`` (not modified).
    """
    *batch, n_draws, n_arms = draws.shape
    n_rows = math.prod(batch)
    eligible = eligible | ~eligible.any(axis=-1, keepdims=True)  # all-ineligible rows: all
    mask = np.broadcast_to(eligible, (*batch, n_arms)).reshape(n_rows, n_arms)
    values = draws.reshape(n_rows, n_draws, n_arms)
    hint = None if top_hint is None else np.asarray(top_hint).reshape(n_rows, n_draws)
    top = _best_arm(values, mask, hint)  # (B, S)
    at = top.ravel() + np.arange(0, n_rows * n_draws * n_arms, n_arms)  # flat (B * S)
    best = np.ravel(values)[at].reshape(n_rows, 1, n_draws)  # values[b, s, top[b, s]]
    # Where every draw's best is positive, a zero gap (the arm is the best) divides to 0
    # as it is; otherwise the division must skip zero gaps (0 / 0).
    skip_zero = not bool((best > 0.0).all())
    kth = min(max(math.ceil(quantile * n_draws) - 1, 0), n_draws - 1)
    expected_loss = np.empty((n_rows, n_arms))
    value_remaining = np.empty((n_rows, n_arms))
    n_zero = 0  # zero gaps: one per draw (its best arm) unless some arm ties it
    for rows, arms in _blocks(n_rows, n_draws, n_arms):
        sub = values[rows, :, arms].transpose(0, 2, 1).copy()  # (b, k, S), arm-major
        gap = best[rows] - sub  # >= 0 for eligible arms
        n_zero += int(np.count_nonzero(gap == 0.0))
        expected_loss[rows, arms] = gap.mean(axis=-1)
        with np.errstate(divide="ignore", over="ignore"):  # x / 0 and x / tiny: inf
            if skip_zero:
                np.divide(gap, sub, out=gap, where=gap != 0.0)  # relative gap, in place
            else:
                np.divide(gap, sub, out=gap)
        gap.partition(kth, axis=-1)  # in place: gap is ours
        value_remaining[rows, arms] = gap[..., kth]
    if n_zero == n_rows * n_draws and np.isfinite(best).all():
        flat = (top + (n_arms * np.arange(n_rows))[:, None]).ravel()
        p_best = np.bincount(flat, minlength=n_rows * n_arms) / n_draws
    else:  # exact ties share the win: uniform tie-breaking in expectation
        p_best = _shared_wins(values, best, mask) / n_draws
    shape = (*batch, n_arms)
    return _DrawStats(
        p_best.reshape(shape),
        expected_loss.reshape(shape),
        value_remaining.reshape(shape),
    )


def _best_arm(values: FloatArray, mask: BoolArray, top_hint: IntArray | None = None) -> IntArray:
    """Index of each draw's best arm among ``mask`` (the first if tied), ``(B, S)``.

    Shapes: ``values`` ``(B, S, K)``, ``mask`` ``(B, K)``. The best arm over all arms is
    the answer wherever it is eligible; only the other draws are searched again, with
    the ineligible arms masked, a block of draws at a time. ``top_hint`` is that overall
    argmax when the caller has it (copied before any change).
    """
    n_arms = values.shape[-1]
    if mask.all():
        return np.argmax(values, axis=-1) if top_hint is None else top_hint
    top: IntArray = np.argmax(values, axis=-1) if top_hint is None else top_hint.copy()
    rows, draws = np.nonzero(~np.take_along_axis(mask, top, axis=-1))
    step = max(1, _BLOCK // n_arms)
    for start in range(0, rows.size, step):
        r, d = rows[start : start + step], draws[start : start + step]
        top[r, d] = np.argmax(np.where(mask[r], values[r, d], -np.inf), axis=-1)
    return top


def _blocks(n_rows: int, n_draws: int, n_arms: int) -> list[tuple[slice, slice]]:
    """Blocks ``(batch rows, arms)`` of about :data:`_BLOCK` draws, arms evenly split.

    A block holds at least :data:`_MIN_BLOCK_ARMS` arms (or all of them), so the
    number of blocks never grows with the arms faster than the work does.
    """
    width = max(_BLOCK // n_draws, _MIN_BLOCK_ARMS)
    n_splits = max(1, -(-n_arms // width))
    edges = [i * n_arms // n_splits for i in range(n_splits + 1)]
    depth = max(1, _BLOCK // (n_draws * n_arms)) if n_splits == 1 else 1
    return [
        (slice(r, min(r + depth, n_rows)), slice(lo, hi))
        for r in range(0, n_rows, depth)
        for lo, hi in itertools.pairwise(edges)
    ]


def _shared_wins(values: FloatArray, best: FloatArray, mask: BoolArray) -> FloatArray:
    """Wins when draws tie for the best: each tied arm gets ``1 / n_tied``, ``(B, K)``.

    Shapes: ``values`` ``(B, S, K)``, ``best`` ``(B, 1, S)``, ``mask`` ``(B, K)``.
    """
    is_max = (best.transpose(0, 2, 1) - values) == 0.0
    is_max &= mask[:, None, :]
    n_max = np.count_nonzero(is_max, axis=-1)  # (B, S)
    wins: FloatArray = (is_max / np.maximum(n_max, 1)[..., None]).sum(axis=-2)
    return wins


@dataclass(frozen=True, slots=True)
class _Exact:
    cpa_mean: FloatArray
    cpa_low: FloatArray
    cpa_high: FloatArray
    roas_mean: FloatArray
    roas_low: FloatArray
    roas_high: FloatArray
    p_meets_target: FloatArray
    p_kill: FloatArray
    stop_unit: FloatArray  # spend unit of the stop rules: target CPA or break-even CPA


def _exact_stats(model: ArmModel, target: Target, params: DecisionParams) -> _Exact:
    """Analytic CPA/ROAS summaries of the conjugate posteriors, ``(..., K)``."""
    a, b = model.rate.shape, model.rate.rate
    tail = (1.0 - params.cpa_interval) / 2.0
    with np.errstate(divide="ignore"):
        cpa_mean = np.where(a > 1.0, b / np.maximum(a - 1.0, 1e-300), np.inf)
        cpa_low = b / special.gammaincinv(a, 1.0 - tail)
        cpa_high = b / special.gammaincinv(a, tail)
    nan = np.full(a.shape, np.nan)
    if target.objective is Objective.CPA:
        assert target.target_cpa is not None
        t = target.target_cpa
        return _Exact(
            cpa_mean,
            cpa_low,
            cpa_high,
            nan,
            nan.copy(),
            nan.copy(),
            p_meets_target=special.gammaincc(a, b / t),
            p_kill=special.gammainc(a, b / (params.kill_cpa_multiple * t)),
            stop_unit=np.full(a.shape, t),
        )
    if model.value is None or target.target_roas is None:
        raise ValueError("a ROAS target needs a model fitted for ROAS (with a value model)")
    # ROAS = s * G1 / G2 with G1 ~ Gamma(a), G2 ~ Gamma(av): G1 / (G1 + G2) ~ Beta(a, av).
    av, scale = model.value.shape, model.value.value_shape * model.value.rate / b

    def below(roas: float) -> FloatArray:
        ratio = roas / scale
        out: FloatArray = special.betainc(a, av, ratio / (1.0 + ratio))
        return out

    def quantile(q: float) -> FloatArray:
        x = special.betaincinv(a, av, q)
        with np.errstate(divide="ignore"):
            out: FloatArray = scale * x / (1.0 - x)
        return out

    roas_mean = np.where(av > 1.0, scale * a / np.maximum(av - 1.0, 1e-300), np.inf)
    return _Exact(
        cpa_mean,
        cpa_low,
        cpa_high,
        roas_mean,
        quantile(tail),
        quantile(1.0 - tail),
        p_meets_target=1.0 - below(target.target_roas),
        p_kill=below(target.target_roas / params.kill_cpa_multiple),
        stop_unit=model.value.mean() / target.target_roas,
    )


def _fatigue(
    model: ArmModel, history: History, params: DecisionParams
) -> tuple[FloatArray, GammaPosterior]:
    """P(recent rate < (1 - drop) x earlier rate), ``(..., K)``, exact (beta function).

    Also returns the recent posterior, which judges whether a fatigued arm still pays.
    """
    recent_ev, earlier_ev = fatigue_evidence(history, model.params, params.fatigue_half_life_days)
    recent, earlier = update(model.prior, recent_ev), update(model.prior, earlier_ev)
    ratio = (1.0 - params.fatigue_drop) * recent.rate / earlier.rate
    out: FloatArray = special.betainc(recent.shape, earlier.shape, ratio / (1.0 + ratio))
    return out, recent


def _observed_yesterday(history: History) -> BoolArray:
    yesterday = np.asarray(history.age_days) == 1.0
    return np.asarray(history.observed[..., yesterday].any(axis=-1), dtype=np.bool_)


def _stages(
    arms: ArmState,
    stats: _DrawStats,
    exact: _Exact,
    fatigued: BoolArray,
    recent: GammaPosterior,
    model: ArmModel,
    params: DecisionParams,
) -> tuple[IntArray, IntArray]:
    prev = np.asarray(arms.prev_stage)
    if prev.size and (prev.min() < Stage.TESTING or prev.max() > Stage.BLOCKED):
        raise ValueError(f"prev_stage codes must be Stage values 0..3, got {np.unique(prev)}")
    days = arms.auth_days_left
    blocked = ~(days >= params.min_remaining_days)  # NaN counts as blocked
    lapsed = ~(days > 0.0)
    enough = model.evidence.conversions_total >= params.min_conversions_to_scale
    spend = model.evidence.spend_total
    spent = spend >= params.min_spend_to_stop * exact.stop_unit
    kill = (spend >= params.min_spend_to_kill * exact.stop_unit) & (
        exact.p_kill >= params.kill_probability
    )
    loser = spent & (stats.p_best < params.p_best_to_stop)
    lose = loser & (exact.p_meets_target < params.p_meets_target_to_keep)
    # a fatigued arm is judged on its recent days: it stops when it lost the lead or when
    # its recent rate is credibly below break-even, even if the discounted average pays
    recent_unprofitable = (
        special.gammainc(recent.shape, recent.rate / exact.stop_unit) >= params.kill_probability
    )
    worn_out = fatigued & (loser | recent_unprofitable)
    scaling = prev == Stage.SCALING
    rules: list[tuple[BoolArray, Stage, Reason]] = [
        (blocked & lapsed, Stage.BLOCKED, Reason.BLOCKED_LAPSED),
        (blocked, Stage.BLOCKED, Reason.BLOCKED_EXPIRING),
        (prev == Stage.PAUSED, Stage.PAUSED, Reason.PAUSED_KEPT),
        (scaling & kill, Stage.PAUSED, Reason.PAUSED_KILL),
        (scaling & worn_out, Stage.PAUSED, Reason.PAUSED_FATIGUED),
        (scaling & fatigued, Stage.SCALING, Reason.SCALING_FATIGUED),
        (scaling, Stage.SCALING, Reason.SCALING_KEPT),
        (prev == Stage.BLOCKED, Stage.TESTING, Reason.TESTING_RENEWED),
        (kill, Stage.PAUSED, Reason.PAUSED_KILL),
        (enough & (stats.p_best >= params.p_best_to_scale), Stage.SCALING, Reason.SCALING_P_BEST),
        (
            enough & (stats.value_remaining <= params.value_remaining_to_scale),
            Stage.SCALING,
            Reason.SCALING_VALUE_REMAINING,
        ),
        (lose, Stage.PAUSED, Reason.PAUSED_LOSER),
        (~enough, Stage.TESTING, Reason.TESTING_NEEDS_EVIDENCE),
    ]
    first = _first_rule([c for c, _, _ in rules], prev.shape)
    stages = np.array([*(int(s) for _, s, _ in rules), int(Stage.TESTING)], dtype=np.int64)
    reasons = [*(int(r) for _, _, r in rules), int(Reason.TESTING_UNDECIDED)]
    return stages[first], np.array(reasons, dtype=np.int64)[first]


def _first_rule(conditions: list[BoolArray], shape: tuple[int, ...]) -> IntArray:
    """Index of the first condition that holds per arm, ``len(conditions)`` if none."""
    holds = np.empty((len(conditions) + 1, *shape), dtype=np.bool_)
    for index, condition in enumerate(conditions):
        holds[index] = condition
    holds[-1] = True
    return np.asarray(holds.argmax(axis=0))


def _alerts(
    arms: ArmState, history: History, fatigued: BoolArray, params: DecisionParams
) -> IntArray:
    days = arms.auth_days_left
    lapsed = ~(days > 0.0)
    live = ~lapsed & (np.asarray(arms.prev_stage) != Stage.PAUSED)
    expiring = (days > 0.0) & (days <= params.renew_warning_days)
    missing = (
        arms.enabled
        & (arms.budget > 0.0)
        & (arms.days_since_launch >= 2.0)
        & ~lapsed
        & ~_observed_yesterday(history)
    )
    alerts = (
        expiring * int(Alert.AUTH_EXPIRING)
        + lapsed * int(Alert.AUTH_LAPSED)
        + (fatigued & live) * int(Alert.FATIGUED)
        + missing * int(Alert.DATA_MISSING)
    )
    return np.asarray(alerts, dtype=np.int64)


def decide(
    draws: FloatArray,
    model: ArmModel,
    arms: ArmState,
    history: History,
    target: Target,
    params: DecisionParams,
    *,
    top_hint: IntArray | None = None,
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

    Returns:
        :class:`Decisions` of shape ``(..., K)``.
    """
    batch_k = arms.budget.shape
    if draws.ndim != len(batch_k) + 1 or draws.shape[:-2] + draws.shape[-1:] != batch_k:
        raise ValueError(f"draws {draws.shape} do not match arms {batch_k} as (..., S, K)")
    if draws.shape[-2] < 1:
        raise ValueError("draws need at least one posterior draw (S >= 1)")
    blocked = ~(arms.auth_days_left >= params.min_remaining_days)
    eligible = ~blocked & (np.asarray(arms.prev_stage) != Stage.PAUSED)
    stats = _draw_stats(draws, eligible, params.value_remaining_quantile, top_hint)
    exact = _exact_stats(model, target, params)
    p_fatigue, recent = _fatigue(model, history, params)
    fatigued = p_fatigue >= params.fatigue_probability
    stage, reason = _stages(arms, stats, exact, fatigued, recent, model, params)
    return Decisions(
        stage=stage,
        reason=reason,
        p_best=stats.p_best,
        expected_loss=stats.expected_loss,
        value_remaining=stats.value_remaining,
        cpa_mean=exact.cpa_mean,
        cpa_low=exact.cpa_low,
        cpa_high=exact.cpa_high,
        roas_mean=exact.roas_mean,
        roas_low=exact.roas_low,
        roas_high=exact.roas_high,
        p_meets_target=exact.p_meets_target,
        p_kill=exact.p_kill,
        p_fatigue=p_fatigue,
        fatigued=fatigued,
        alerts=_alerts(arms, history, fatigued, params),
        conversions=model.evidence.conversions_total,
        spend=model.evidence.spend_total,
        auth_days_left=np.asarray(arms.auth_days_left, dtype=np.float64),
        interval=params.cpa_interval,
    )


def alert_labels(flags: int, auth_days_left: float = math.inf) -> list[str]:
    """Human labels of an alert bit set (for one arm)."""
    labels: list[str] = []
    if flags & Alert.AUTH_EXPIRING:
        labels.append(f"authorization expires in {auth_days_left:.1f} days: renew it")
    if flags & Alert.AUTH_LAPSED:
        labels.append("authorization lapsed (expired, revoked or post deleted)")
    if flags & Alert.FATIGUED:
        labels.append("creative fatigued")
    if flags & Alert.DATA_MISSING:
        labels.append("no data reported for yesterday")
    return labels


def _num(x: float, fmt: str = ".2f") -> str:
    return format(x, fmt) if math.isfinite(x) else "n/a"


def _metric(d: Decisions, i: int | tuple[int, ...], currency: str, target: Target) -> str:
    pct = f"{100 * d.interval:g}%"
    if target.objective is Objective.CPA:
        low, high = float(d.cpa_low[i]), float(d.cpa_high[i])
        return (
            f"CPA {_num(float(d.cpa_mean[i]))} {currency} ({pct} {_num(low)}-{_num(high)}) "
            f"vs target {_num(target.target_cpa or math.nan)}"
        )
    low, high = float(d.roas_low[i]), float(d.roas_high[i])
    return (
        f"ROAS {_num(float(d.roas_mean[i]))} ({pct} {_num(low)}-{_num(high)}) "
        f"vs target {_num(target.target_roas or math.nan)}"
    )


def explain(
    decisions: Decisions, index: int | tuple[int, ...], currency: str, target: Target
) -> str:
    """One-line human reason for one arm.

    Args:
        decisions: the decisions, ``(..., K)``.
        index: the arm, as an index into the ``(..., K)`` arrays (an int when unbatched).
        currency: account currency code, e.g. ``"USD"``.
        target: the target the decisions were made against.

    Returns:
        e.g. ``"scaling: P(best) 0.97 after 42 conversions; CPA 18.20 USD (90%
        15.10-22.40) vs target 25.00"``.
    """
    d, i = decisions, index
    p, conv = float(d.p_best[i]), float(d.conversions[i])
    spend, days = float(d.spend[i]), float(d.auth_days_left[i])
    texts = {
        Reason.TESTING_NEEDS_EVIDENCE: f"testing: {conv:.0f} conversions so far, P(best) {p:.2f}",
        Reason.TESTING_UNDECIDED: (
            f"testing: P(best) {p:.2f} after {conv:.0f} conversions, no clear winner or loser"
        ),
        Reason.TESTING_RENEWED: "testing: authorization renewed, testing again",
        Reason.SCALING_P_BEST: f"scaling: P(best) {p:.2f} after {conv:.0f} conversions",
        Reason.SCALING_VALUE_REMAINING: (
            f"scaling: value remaining {float(d.value_remaining[i]):.1%} "
            f"after {conv:.0f} conversions"
        ),
        Reason.SCALING_KEPT: f"scaling: kept, P(best) {p:.2f}",
        Reason.SCALING_FATIGUED: (
            f"scaling: recent rate down (P {float(d.p_fatigue[i]):.2f}), not yet a loser"
        ),
        Reason.PAUSED_LOSER: f"paused: P(best) {p:.3f} after {spend:.2f} {currency} spent",
        Reason.PAUSED_KILL: (
            f"paused: P(below kill threshold) {float(d.p_kill[i]):.2f} "
            f"after {spend:.2f} {currency} spent"
        ),
        Reason.PAUSED_FATIGUED: (
            f"paused: fatigued (P {float(d.p_fatigue[i]):.2f}) and P(best) {p:.3f}"
        ),
        Reason.PAUSED_KEPT: "paused: stays paused until a person re-enables it",
        Reason.BLOCKED_LAPSED: "blocked: authorization expired, revoked or post deleted",
        Reason.BLOCKED_EXPIRING: f"blocked: authorization lapses in {days:.1f} days",
    }
    parts = [texts[Reason(int(d.reason[i]))], _metric(d, i, currency, target)]
    labels = alert_labels(int(d.alerts[i]), days)
    if labels:
        parts.append("alerts: " + ", ".join(labels))
    return "; ".join(parts)
