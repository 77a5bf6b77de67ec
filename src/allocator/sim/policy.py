"""The policy protocol: what a simulated policy is told, what it returns, shared helpers.

Every policy sees only what the platform reports (:class:`ArmState` ``(R, K)`` and
:class:`History` ``(R, K, D)``, lagged and noisy) and returns daily budgets ``(R, K)``
(currency per day) and statuses. All of them keep the total within the daily budget and
give every funded arm at least the platform minimum (an arm whose share would fall below
it is left out that day rather than starved). The one exception to "no truth" is
:class:`~allocator.sim.oracle.Oracle`, which reads :class:`~allocator.sim.truth.Truth`
through :attr:`PolicyContext.truth` by design.

Arms a policy may fund ("eligible"): launched (``days_since_launch >= 0``) and, unless a
policy is told to ignore authorizations, with ``auth_days_left > 0`` (the automated
``rules`` baseline ignores them by default, see :mod:`allocator.sim.rules`).

Ties between equally scored arms are broken at random (not toward the first arm).

The policies: :mod:`allocator.sim.splits` (even and fixed shares),
:mod:`allocator.sim.bandits` (greedy, epsilon-greedy, UCB1), :mod:`allocator.sim.rules`
(ad manager rules), :mod:`allocator.sim.oracle` (the oracle) and
:mod:`allocator.sim.thompson` (the engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState, History
from allocator.core.bounds import check_bounds
from allocator.sim.truth import Truth

__all__ = [
    "Action",
    "Baseline",
    "FramedPolicy",
    "Policy",
    "PolicyContext",
    "eligible_arms",
    "one_hot",
    "proportional_budgets",
    "random_argmax",
    "reported_totals",
    "require_context",
]

Action = tuple[FloatArray, BoolArray]  # budgets (R, K), currency per day; enabled (R, K)


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What a policy is told when a run starts.

    Attributes:
        n_runs: replications ``R``.
        n_arms: arms ``K``.
        daily_budget: total budget, currency per day.
        platform_min_budget: smallest budget an enabled ad group may get, currency per day.
        target_cpa: the account's target CPA, currency per conversion.
        truth: today's truth; only :class:`~allocator.sim.oracle.Oracle` may call it.
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


def random_argmax(score: FloatArray, rng: np.random.Generator) -> IntArray:
    """Index of the maximum per row ``(R,)``, ties broken uniformly at random."""
    top = score == score.max(axis=-1, keepdims=True)
    index: IntArray = np.argmax(np.where(top, rng.random(score.shape), -1.0), axis=-1)
    return index


def one_hot(index: IntArray, n: int) -> BoolArray:
    """Mask ``(..., n)`` that is True at ``index`` ``(...,)`` only."""
    hot: BoolArray = np.arange(n) == index[..., None]
    return hot


def reported_totals(history: History) -> tuple[FloatArray, FloatArray]:
    """Reported spend and conversions per arm over the whole history, ``(R, K)``."""
    return history.spend.sum(axis=-1), history.conversions.sum(axis=-1)


class FramedPolicy:
    """Base of the policies that only remember the episode's budget frame at reset."""

    _ctx: PolicyContext | None = None

    def reset(self, context: PolicyContext) -> None:
        """Remember the budget frame."""
        self._ctx = context


@dataclass(eq=False)
class Baseline(FramedPolicy):
    """Base of the baselines with settings: dataclasses whose fields carry their bounds.

    The bounds are ``annotated_types`` metadata on the fields, enforced on creation by
    :func:`~allocator.core.bounds.check_bounds` (a :class:`~allocator.core.bounds.FieldError`
    names the field). Baselines have no stages.
    """

    def __post_init__(self) -> None:
        check_bounds(self)

    def stages(self) -> IntArray | None:
        """Baselines have no stages."""
        return None


def require_context(policy: object, context: PolicyContext | None) -> PolicyContext:
    """``context``, or a RuntimeError naming ``policy`` if it was not reset yet."""
    if context is None:
        raise RuntimeError(f"{type(policy).__name__}.act called before reset")
    return context
