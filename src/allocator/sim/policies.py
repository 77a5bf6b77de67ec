"""Allocation policies behind one protocol: the baselines a media buyer uses, and the oracle.

Every policy sees only what the platform reports (:class:`ArmState` ``(R, K)`` and
:class:`History` ``(R, K, D)``, lagged and noisy) and returns daily budgets ``(R, K)``
(currency per day) and statuses. All of them keep the total within the daily budget and
give every funded arm at least the platform minimum (an arm whose share would fall below
it is left out that day rather than starved). The one exception to "no truth" is
:class:`Oracle`, which reads :class:`~allocator.sim.environment.Truth` through
:attr:`PolicyContext.truth` by design.

Arms a policy may fund ("eligible"): launched (``days_since_launch >= 0``) and, unless a
policy is told to ignore authorizations, with ``auth_days_left > 0``. The automated
``rules`` baseline ignores authorizations by default: ad managers' automated rules act on
metrics (CPA, spend) only and have no condition on a Spark code's status, and a lapsed
ad group spends nothing, so no CPA rule ever fires on it; its budget stays stranded.

Ties between equally scored arms are broken at random (not toward the first arm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState, History
from allocator.core.response import expected_conversions, water_fill
from allocator.sim.environment import Truth

__all__ = [
    "UCB1",
    "EpsilonGreedy",
    "EvenSplit",
    "FixedSplit",
    "Greedy",
    "Oracle",
    "Policy",
    "PolicyContext",
    "Rules",
    "eligible_arms",
    "optimal_allocation",
    "proportional_budgets",
]

Action = tuple[FloatArray, BoolArray]


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What a policy is told when a run starts.

    Attributes:
        n_runs: replications ``R``.
        n_arms: arms ``K``.
        daily_budget: total budget, currency per day.
        platform_min_budget: smallest budget an enabled ad group may get, currency per day.
        target_cpa: the account's target CPA, currency per conversion.
        truth: today's truth; only :class:`Oracle` may call it.
    """

    n_runs: int
    n_arms: int
    daily_budget: float
    platform_min_budget: float
    target_cpa: float
    truth: Callable[[], Truth] | None = None


@runtime_checkable
class Policy(Protocol):
    """A daily budget allocation policy over ``R`` replications of ``K`` arms."""

    name: str

    def reset(self, context: PolicyContext) -> None:
        """Forget everything and prepare for a run described by ``context``."""

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Budgets ``(R, K)`` (currency per day) and statuses ``(R, K)`` for ``day``."""

    def stages(self) -> IntArray | None:
        """Stage codes ``(R, K)`` after the last :meth:`act`, or None if it has none."""


# --------------------------------------------------------------------------- helpers
def eligible_arms(arms: ArmState, respect_authorization: bool = True) -> BoolArray:
    """Arms that exist today and, optionally, whose authorization has not lapsed."""
    launched = arms.days_since_launch >= 0
    if not respect_authorization:
        return launched
    return launched & (arms.auth_days_left > 0)


def proportional_budgets(
    weights: FloatArray, eligible: BoolArray, total: float, min_budget: float
) -> Action:
    """Split ``total`` in proportion to ``weights`` over eligible arms, minimum respected.

    The largest set of top-weighted arms whose proportional shares all reach
    ``min_budget`` is funded (shares among the funded arms fall as arms are added, so
    that set is a prefix of the arms sorted by weight); the rest get 0 and are disabled.

    Args:
        weights: ``(R, K)``, non-negative; arms with weight 0 are never funded.
        eligible: ``(R, K)``.
        total: currency per day.
        min_budget: currency per day.

    Returns:
        ``(budgets, enabled)``; budgets sum to ``total`` wherever any arm is funded.
    """
    w = np.where(eligible, np.maximum(weights, 0.0), 0.0)
    top_weight = w.max(axis=-1, keepdims=True)
    w = np.divide(w, top_weight, out=np.zeros_like(w), where=top_weight > 0)  # scale-free
    order = np.argsort(-w, axis=-1, kind="stable")
    ws = np.take_along_axis(w, order, axis=-1)
    cum = np.cumsum(ws, axis=-1)
    share = np.divide(total * ws, cum, out=np.zeros_like(ws), where=cum > 0)
    ok = (ws > 0) & (share >= min_budget * (1 - 1e-12))
    n_funded = np.cumprod(ok, axis=-1).sum(axis=-1, keepdims=True)
    top = np.take_along_axis(cum, np.maximum(n_funded - 1, 0), axis=-1)
    rank = np.arange(w.shape[-1])
    sorted_budget = np.where(
        rank < n_funded, np.divide(total * ws, top, out=np.zeros_like(ws), where=top > 0), 0.0
    )
    budgets = np.zeros_like(w)
    np.put_along_axis(budgets, order, sorted_budget, axis=-1)
    return budgets, budgets > 0


def _random_argmax(score: FloatArray, rng: np.random.Generator) -> IntArray:
    """Index of the maximum per row ``(R,)``, ties broken uniformly at random."""
    top = score == score.max(axis=-1, keepdims=True)
    index: IntArray = np.argmax(np.where(top, rng.random(score.shape), -1.0), axis=-1)
    return index


def _one_hot(index: IntArray, n: int) -> BoolArray:
    hot: BoolArray = np.arange(n) == index[..., None]
    return hot


def _totals(history: History) -> tuple[FloatArray, FloatArray]:
    """Reported spend and conversions per arm over the whole history, ``(R, K)``."""
    return history.spend.sum(axis=-1), history.conversions.sum(axis=-1)


def _context(policy: object, context: PolicyContext | None) -> PolicyContext:
    if context is None:
        raise RuntimeError(f"{type(policy).__name__}.act called before reset")
    return context


# -------------------------------------------------------------------------- baselines
class EvenSplit:
    """The daily budget split evenly over eligible arms (``even``)."""

    name = "even"

    def __init__(self) -> None:
        """Create the policy; call :meth:`reset` before use."""
        self._ctx: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame."""
        self._ctx = context

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Equal shares; with too many arms for the minimum, a random subset is funded."""
        ctx = _context(self, self._ctx)
        eligible = eligible_arms(arms)
        weights = 1.0 + 1e-9 * rng.random(eligible.shape)  # random choice among equals
        return proportional_budgets(weights, eligible, ctx.daily_budget, ctx.platform_min_budget)

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


class FixedSplit:
    """The daily budget split in fixed proportions over eligible arms (``fixed``)."""

    name = "fixed"

    def __init__(self, weights: FloatArray) -> None:
        """Create the policy.

        Args:
            weights: ``(K,)`` non-negative relative shares; renormalized over the arms
                eligible each day.
        """
        w = np.asarray(weights, dtype=float)
        if w.ndim != 1 or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
            raise ValueError("weights must be a finite, non-negative (K,) vector, not all 0")
        self.weights = w
        self._ctx: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame; the weights must match ``K``."""
        if self.weights.shape[0] != context.n_arms:
            raise ValueError(f"{self.weights.shape[0]} weights for {context.n_arms} arms")
        self._ctx = context

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Fixed shares over today's eligible arms."""
        ctx = _context(self, self._ctx)
        weights = np.broadcast_to(self.weights, arms.budget.shape)
        return proportional_budgets(
            weights, eligible_arms(arms), ctx.daily_budget, ctx.platform_min_budget
        )

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


class Greedy:
    """Greedy on observed CPA, after a minimum test spend per arm (``greedy``).

    Arms with less than ``min_test_multiple x target CPA`` of reported spend get the
    platform minimum (a test budget); the rest of the budget goes to the tested arm with
    the best reported conversions per spend. With ``epsilon > 0`` a share ``epsilon`` of
    that rest is spread over a random subset of the other tested arms
    (``epsilon_greedy``). The estimate uses reported conversions as they are, lag and all,
    as a buyer reading the dashboard would.
    """

    name = "greedy"

    def __init__(self, min_test_multiple: float = 2.0, epsilon: float = 0.0) -> None:
        """Create the policy.

        Args:
            min_test_multiple: test spend per arm, in multiples of the target CPA.
            epsilon: share of the exploitable budget spent exploring, in [0, 1).
        """
        if min_test_multiple < 0 or not 0.0 <= epsilon < 1.0:
            raise ValueError("need min_test_multiple >= 0 and 0 <= epsilon < 1")
        self.min_test_multiple = min_test_multiple
        self.epsilon = epsilon
        self._ctx: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame."""
        self._ctx = context

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Test new arms at the minimum, give the rest to the best observed arm."""
        ctx = _context(self, self._ctx)
        total, m = ctx.daily_budget, ctx.platform_min_budget
        eligible = eligible_arms(arms)
        spend, conv = _totals(history)
        untested = eligible & (spend < self.min_test_multiple * ctx.target_cpa)
        tested = eligible & ~untested
        rate = np.divide(conv, spend, out=np.zeros_like(spend), where=spend > 0)
        best = _one_hot(_random_argmax(np.where(tested, rate, -np.inf), rng), rate.shape[-1])
        rest = total - m * untested.sum(axis=-1, keepdims=True)
        exploit = tested.any(axis=-1, keepdims=True) & (rest >= m)
        budgets = np.where(untested, m, 0.0) + np.where(best & tested, rest, 0.0)
        if self.epsilon > 0:
            budgets = budgets + self._explore(best, tested, rest, m, rng)
        fallback, _ = proportional_budgets(1.0 + 1e-9 * rng.random(rate.shape), untested, total, m)
        budgets = np.where(exploit, budgets, fallback)
        return budgets, budgets > 0

    def _explore(
        self,
        best: BoolArray,
        tested: BoolArray,
        rest: FloatArray,
        m: float,
        rng: np.random.Generator,
    ) -> FloatArray:
        """Move ``epsilon x rest`` from the best arm to a random subset of the others."""
        others = tested & ~best
        pot = self.epsilon * rest  # (R, 1)
        n_explore = np.minimum(others.sum(axis=-1, keepdims=True), np.floor(pot / m))
        priority = np.where(others, rng.random(others.shape), -1.0)
        rank = np.argsort(np.argsort(-priority, axis=-1), axis=-1)
        chosen = others & (rank < n_explore)
        each = np.divide(pot, n_explore, out=np.zeros_like(pot), where=n_explore > 0)
        moved = np.where(n_explore > 0, pot, 0.0)
        return np.where(chosen, each, 0.0) - np.where(best & tested, moved, 0.0)

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


class EpsilonGreedy(Greedy):
    """:class:`Greedy` that keeps exploring with a share ``epsilon`` (``epsilon_greedy``)."""

    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.1, min_test_multiple: float = 2.0) -> None:
        """Create the policy (see :class:`Greedy`)."""
        super().__init__(min_test_multiple=min_test_multiple, epsilon=epsilon)


class UCB1:
    """UCB1 on conversions per spend, with the budget cut into slots (``ucb1``).

    Spend is counted in "pulls" of one target CPA each, so the mean reward is conversions
    per target CPA of spend (about 1 for an arm at target). Each day the budget is cut
    into ``n_slots`` equal slots (each at least the platform minimum) assigned one by one
    to the arm with the highest index ``mean + c * sqrt(2 ln N / n)``, counting each
    assigned slot as pulls so the day's slots spread (batched UCB). Unspent arms have an
    infinite index.
    """

    name = "ucb1"

    def __init__(self, n_slots: int = 10, c: float = 1.0) -> None:
        """Create the policy.

        Args:
            n_slots: slots per day (fewer if the budget cannot give each the minimum).
            c: exploration constant (1 = UCB1).
        """
        if n_slots < 1 or c < 0:
            raise ValueError("need n_slots >= 1 and c >= 0")
        self.n_slots = n_slots
        self.c = c
        self._ctx: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame."""
        self._ctx = context

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Assign slots to the highest upper confidence bounds."""
        ctx = _context(self, self._ctx)
        total, unit = ctx.daily_budget, ctx.target_cpa
        eligible = eligible_arms(arms)
        spend, conv = _totals(history)
        pulls = spend / unit
        mean = np.divide(conv, pulls, out=np.zeros_like(pulls), where=pulls > 0)
        n_slots = int(min(self.n_slots, np.floor(total / ctx.platform_min_budget)))
        budgets = np.zeros_like(spend)
        if n_slots < 1:  # the budget cannot fund a single ad group
            return budgets, budgets > 0
        slot = total / n_slots
        any_eligible = eligible.any(axis=-1, keepdims=True)
        for _ in range(n_slots):
            n_total = np.maximum(pulls.sum(axis=-1, keepdims=True), np.e)
            bonus = self.c * np.sqrt(2.0 * np.log(n_total) / np.where(pulls > 0, pulls, 1.0))
            index = np.where(pulls > 0, mean + bonus, np.inf)
            pick = _one_hot(
                _random_argmax(np.where(eligible, index, -np.inf), rng), spend.shape[-1]
            )
            pick &= any_eligible
            budgets += np.where(pick, slot, 0.0)
            pulls = pulls + np.where(pick, slot / unit, 0.0)
        return budgets, budgets > 0

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


class Rules:
    """Automated rules as ad managers offer them (``rules``).

    Every day, over the last ``lookback_days`` of reported data (CPA = spend /
    conversions, infinite with spend and no conversion), for each running arm:

    * pause it if CPA > ``pause_cpa_multiple x target`` once its lifetime spend is at
      least ``min_spend_multiple x target`` (paused arms stay paused);
    * otherwise raise its budget by ``step`` when CPA < target, lower it by ``step``
      when CPA > target.

    New arms start at the average budget of the running ones. The budgets are then
    rescaled to the daily budget (the buyer moves freed budget to the running ad groups)
    with the platform minimum respected. Lapsed authorizations are ignored by default
    (see the module docstring); ``respect_authorization=True`` leaves such arms out.
    """

    name = "rules"

    def __init__(
        self,
        pause_cpa_multiple: float = 2.0,
        min_spend_multiple: float = 3.0,
        step: float = 0.2,
        lookback_days: int = 7,
        respect_authorization: bool = False,
    ) -> None:
        """Create the policy (parameters as in the class docstring)."""
        if pause_cpa_multiple <= 0 or min_spend_multiple < 0 or not 0 <= step < 1:
            raise ValueError("need pause_cpa_multiple > 0, min_spend_multiple >= 0, 0<=step<1")
        if lookback_days < 1:
            raise ValueError("lookback_days must be >= 1")
        self.pause_cpa_multiple = pause_cpa_multiple
        self.min_spend_multiple = min_spend_multiple
        self.step = step
        self.lookback_days = lookback_days
        self.respect_authorization = respect_authorization
        self._ctx: PolicyContext | None = None
        self._weight = np.zeros((0, 0))
        self._paused = np.zeros((0, 0), dtype=bool)
        self._started = np.zeros((0, 0), dtype=bool)

    def reset(self, context: PolicyContext) -> None:
        """Clear the rule state (budgets, paused arms)."""
        self._ctx = context
        shape = (context.n_runs, context.n_arms)
        self._weight = np.zeros(shape)
        self._paused = np.zeros(shape, dtype=bool)
        self._started = np.zeros(shape, dtype=bool)

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Apply the rules to yesterday's report, then rescale to the daily budget."""
        ctx = _context(self, self._ctx)
        target = ctx.target_cpa
        new = (arms.days_since_launch >= 0) & ~self._started
        running = self._started & ~self._paused
        recent = history.age_days <= self.lookback_days
        spend_w = history.spend[..., recent].sum(axis=-1)
        conv_w = history.conversions[..., recent].sum(axis=-1)
        cpa = np.divide(spend_w, conv_w, out=np.full_like(spend_w, np.inf), where=conv_w > 0)
        judged = running & (spend_w > 0)
        lifetime = history.spend.sum(axis=-1)
        pause = judged & (lifetime >= self.min_spend_multiple * target)
        pause &= cpa > self.pause_cpa_multiple * target
        self._paused |= pause
        factor = np.where(cpa < target, 1.0 + self.step, np.where(cpa > target, 1 - self.step, 1))
        self._weight = np.where(judged & ~pause, self._weight * factor, self._weight)
        running = self._started & ~self._paused
        n_running = running.sum(axis=-1, keepdims=True)
        mean_running = np.divide(
            (self._weight * running).sum(axis=-1, keepdims=True),
            n_running,
            out=np.ones((self._weight.shape[0], 1)),
            where=n_running > 0,
        )
        self._weight = np.where(new, mean_running, self._weight)
        self._started |= new
        eligible = eligible_arms(arms, self.respect_authorization) & ~self._paused
        budgets, enabled = proportional_budgets(
            self._weight, eligible & self._started, ctx.daily_budget, ctx.platform_min_budget
        )
        self._weight = np.where(enabled, budgets, self._weight)
        return budgets, enabled

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


# ----------------------------------------------------------------------------- oracle
def optimal_allocation(
    rate: FloatArray,
    half_saturation: FloatArray,
    total: float,
    min_budget: float,
    cap: float | None = None,
) -> FloatArray:
    """Budgets maximizing expected conversions ``sum rate * b / (1 + b / h)``.

    Each funded arm must get at least ``min_budget``, which makes the problem
    semi-continuous: for a *given* set of funded arms it is concave and solved exactly by
    water-filling (equal marginal returns ``rate / (1 + b / h)**2`` above the floors:
    :func:`allocator.core.response.water_fill`, the solver the engine's saturating
    allocation uses per posterior draw). The set is searched over the ``n`` arms with the best
    average rate at the minimum, ``rate / (1 + min / h)``: a binary search per row finds
    the largest feasible ``n`` (``n * min <= total``) whose extra arm still adds value,
    which is the optimum of that family when the value is unimodal in ``n`` (checked
    against brute force in the tests). Vectorized over rows; the loop runs over the
    ``log2 K`` search steps, never over arms or rows.

    Args:
        rate: ``(R, K)`` conversions per currency at vanishing budget (0 = unavailable).
        half_saturation: ``(R, K)`` currency per day.
        total: daily budget, currency per day.
        min_budget: platform minimum per funded arm, currency per day.
        cap: maximum per arm (default: ``total``).

    Returns:
        Budgets ``(R, K)``, currency per day; each 0 or in ``[min_budget, cap]``; row
        sums ``<= total``, equal to it unless every available arm is capped.
    """
    cap = total if cap is None else cap
    rate = np.maximum(rate, 0.0)
    best = np.zeros_like(rate)
    if min_budget > min(cap, total) or min_budget <= 0:
        if min_budget <= 0:
            raise ValueError("min_budget must be > 0")
        return best
    score = np.where(rate > 0, rate / (1.0 + min_budget / half_saturation), -1.0)
    rank = np.argsort(np.argsort(-score, axis=-1, kind="stable"), axis=-1)
    n_available = (rate > 0).sum(axis=-1, keepdims=True)

    def solve(n: IntArray) -> tuple[FloatArray, FloatArray]:
        floor = np.where((rank < n) & (rank < n_available), min_budget, 0.0)
        chosen_cap = np.where(floor > 0.0, cap, 0.0)
        budgets = water_fill(rate, half_saturation, floor, chosen_cap, np.asarray(total))
        return budgets, expected_conversions(rate, half_saturation, budgets).sum(axis=-1)

    # binary search per row for the last n whose extra arm still adds value
    n_max = int(min(rate.shape[-1], np.floor(total / min_budget)))
    lo = np.ones((*rate.shape[:-1], 1), dtype=np.int64)
    hi = np.full_like(lo, n_max)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        gain = solve(mid + 1)[1] - solve(mid)[1]
        up = gain[..., None] > 0
        lo, hi = np.where(up & (lo < hi), mid + 1, lo), np.where(up | (lo >= hi), hi, mid)
    best, _ = solve(lo)
    return best


class Oracle:
    """Knows the truth; each day allocates to maximize that day's expected conversions.

    It reads :class:`~allocator.sim.environment.Truth` (true rates with fatigue,
    weekday and availability, including a revocation later today, and the response
    curves) and solves :func:`optimal_allocation`. It is *myopic*: it does not trade
    today's conversions for slower fatigue tomorrow, the usual per-round oracle of
    bandit regret.
    """

    name = "oracle"

    def __init__(self) -> None:
        """Create the policy; :meth:`reset` must be given a context with ``truth``."""
        self._ctx: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame and the truth accessor."""
        if context.truth is None:
            raise ValueError("the oracle needs PolicyContext.truth")
        self._ctx = context

    def act(self, arms: ArmState, history: History, day: int, rng: np.random.Generator) -> Action:
        """Optimal budgets for today's true response curves."""
        ctx = _context(self, self._ctx)
        assert ctx.truth is not None  # checked in reset
        truth = ctx.truth()
        budgets = optimal_allocation(
            truth.rate, truth.half_saturation, ctx.daily_budget, ctx.platform_min_budget
        )
        return budgets, budgets > 0

    def stages(self) -> IntArray | None:
        """The oracle has no stages."""
        return None
