"""Guardrail projection: from the budgets the bandit wants to budgets the platform may get.

:func:`project` takes desired budgets (``thompson_allocate``'s output) and returns the
closest budgets, in the Euclidean sense, that satisfy every guardrail, rounded to cents,
with the reason each arm ended where it did. Everything is vectorized over leading batch
axes (the simulator projects a thousand replications at once); money is handled in
integer cents stored in float64, so sums are exact.

The rules, in the order they apply (``today`` = the arm's current daily budget):

1. **Inactive arms** (``active`` False: blocked, paused, a clear loser) get 0 and are
   disabled, in or out of learning. Pausing is a status change, not a budget step, so
   step caps never keep an arm running.
2. **Bounds of an active arm**, all in currency per day. ``max = max_budget_share x
   total``; when ``max`` is below the platform minimum no arm can run (all disabled,
   reported as ``MAX_BELOW_MIN``).

   * running (enabled with a budget > 0), not frozen:
     ``lo = max(platform_min, today x (1 - max_step_down))``,
     ``hi = min(max, today x (1 + max_step_up))``. Where these collide the platform
     minimum beats the step-up cap (a budget below the minimum is raised to it) and the
     ``max`` cap beats the step-down cap (a cut total is obeyed).
   * running and frozen (in learning): ``lo = hi = today`` clipped into
     ``[platform_min, max]``.
   * not running (disabled, or budget 0): it starts at the start budget
     (``new_arm_budget``, else ``test_budget``, else the platform minimum), clipped into
     ``[platform_min, max]``: ``lo = hi = start``. A frozen flag on such an arm is ignored.

   Lower bounds are rounded up and upper bounds down to whole cents, so the rounded
   budgets never leave them; the platform minimum is at least one cent (an enabled arm
   always spends).
3. **Learning over total**: if the frozen arms' budgets alone exceed the total, the freeze
   cannot hold. Those arms are unfrozen (they get the running-arm bounds above) and the row
   is reported as ``LEARNING_OVER_TOTAL`` with the excess as ``infeasible_amount``.
4. **Who runs**: active non-frozen arms are ranked by desired budget (ties: lower index
   first). The least desired are disabled until the lower bounds fit in the total
   (``NO_ROOM``). Arms whose desired budget is below the platform minimum are disabled
   rather than starved (``BELOW_MIN``), except those still needed to keep the upper bounds
   at or above the total (the least desired go first), so a below-minimum wish never
   causes a shortfall.
5. **Projection**: ``b = clip(desired - lam, lo, hi)`` with the level ``lam`` solved
   exactly from the sorted breakpoints so that ``sum(b) = total``; then
   largest-remainder rounding to cents (ties: lower index first) keeps the sum exact to
   the cent.
6. **Shortfall**: when the enabled arms' upper bounds add up to less than the total,
   every enabled arm sits at its upper bound, the rest is ``shortfall`` (never spent,
   never exceeded) and ``infeasible`` names the binding kind of upper bound: step-up caps
   first, then start budgets, then learning, then the ``max`` share; ``SHORTFALL_NO_ARMS``
   when no arm may run.

Learning phase (:func:`in_learning`): an arm is in learning while it runs and both fewer
than ``learning_days`` days have passed since its launch or last large edit and it has
fewer than ``learning_conversions`` conversions since then. ``learning_max_days`` is a
hard ceiling on ``learning_days``: whatever the configuration, an arm whose small test
budget never reaches the conversion count is released after ``learning_max_days``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState

__all__ = [
    "Binding",
    "GuardrailParams",
    "Infeasibility",
    "Projection",
    "in_learning",
    "project",
]

_CENT_NOISE = 1e-6  # cents; float noise tolerated when snapping to whole cents


class Binding(IntEnum):
    """Why an arm's budget ended where it did (per arm codes in :class:`Projection`)."""

    FREE = 0  # strictly inside its bounds: the desired budget minus the common level
    INACTIVE = 1  # not allowed to run (blocked, paused, clear loser): 0, disabled
    BELOW_MIN = 2  # desired below the platform minimum: disabled rather than starved
    NO_ROOM = 3  # disabled because the total cannot hold every arm's lower bound
    MAX_BELOW_MIN = 4  # max_budget_share x total is below the platform minimum
    PLATFORM_MIN = 5  # at the platform minimum
    MAX_SHARE = 6  # at max_budget_share x total
    STEP_DOWN = 7  # at today x (1 - max_step_down)
    STEP_UP = 8  # at today x (1 + max_step_up)
    LEARNING = 9  # frozen at today's budget (learning phase)
    START = 10  # enabled now, at its start budget


# Plain int codes for array work (numpy converts an IntEnum member slowly).
_FREE, _INACTIVE, _BELOW_MIN, _NO_ROOM, _MAX_BELOW_MIN = 0, 1, 2, 3, 4
_PLATFORM_MIN, _MAX_SHARE, _STEP_DOWN, _STEP_UP, _LEARNING, _START = 5, 6, 7, 8, 9, 10


class Infeasibility(IntEnum):
    """Per row code of the guardrail that could not hold (0 = all held)."""

    OK = 0
    SHORTFALL_STEP_UP = 1  # step-up caps keep part of the total unspent
    SHORTFALL_START = 2  # newly enabled arms at their start budget cannot take more
    SHORTFALL_LEARNING = 3  # frozen arms cannot take more
    SHORTFALL_MAX_SHARE = 4  # max_budget_share caps keep part of the total unspent
    SHORTFALL_NO_ARMS = 5  # no arm may run
    LEARNING_OVER_TOTAL = 6  # frozen arms alone exceed the total; they were unfrozen


@dataclass(frozen=True)
class GuardrailParams:
    """Guardrails of the projection; money in currency per day, days in days.

    Attributes:
        platform_min_budget: smallest daily budget the platform accepts for an ad group
            (TikTok: a daily budget must exceed 20 USD, so 20.01 in whole cents).
        max_budget_share: cap per arm as a share of the total daily budget, in (0, 1].
        max_step_up: largest relative budget increase per run (0.3 = +30%: no more than
            ``large_edit_fraction``, so ramping a winner never restarts its learning).
        max_step_down: largest relative budget cut per run (0.5 = -50%); pausing is not
            a step.
        learning_days: protected days after launch or a large edit.
        learning_conversions: conversions since launch or edit that end learning early.
        learning_max_days: hard ceiling on the learning window, whatever
            ``learning_days`` says.
        large_edit_fraction: a relative budget change above this restarts learning.
        test_budget: floor for testing arms; ``None`` = the platform minimum.
        exploration_share: share of the daily budget the engine spreads evenly over the
            arms it runs as the testing arms' floor (their exploration budget); the rest
            follows the Thompson allocation. ``test_budget`` stays a lower bound.
        new_arm_budget: start budget of an arm being enabled; ``None`` = the test floor.
    """

    platform_min_budget: float = 20.01
    max_budget_share: float = 1.0
    max_step_up: float = 0.3
    max_step_down: float = 0.5
    learning_days: float = 3.0
    learning_conversions: float = 50.0
    learning_max_days: float = 14.0
    large_edit_fraction: float = 0.3
    test_budget: float | None = None
    new_arm_budget: float | None = None
    exploration_share: float = 0.5

    def __post_init__(self) -> None:
        checks = {
            "platform_min_budget": self.platform_min_budget >= 0,
            "max_budget_share": 0 < self.max_budget_share <= 1,
            "max_step_up": self.max_step_up >= 0,
            "max_step_down": 0 <= self.max_step_down <= 1,
            "learning_days": self.learning_days >= 0,
            "learning_conversions": self.learning_conversions >= 0,
            "learning_max_days": self.learning_max_days >= 0,
            "large_edit_fraction": self.large_edit_fraction >= 0,
            "test_budget": self.test_budget is None or self.test_budget >= 0,
            "new_arm_budget": self.new_arm_budget is None or self.new_arm_budget >= 0,
            "exploration_share": 0 <= self.exploration_share < 1,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or (value is not None and math.isnan(value)):
                raise ValueError(f"GuardrailParams.{name} out of range: {value!r}")

    @property
    def test_floor(self) -> float:
        """Exploration floor of a testing arm, currency per day."""
        if self.test_budget is None:
            return self.platform_min_budget
        return max(self.test_budget, self.platform_min_budget)

    @property
    def start_budget(self) -> float:
        """Budget an arm gets on the run that enables it, currency per day."""
        if self.new_arm_budget is None:
            return self.test_floor
        return max(self.new_arm_budget, self.platform_min_budget)


@dataclass(frozen=True)
class Projection:
    """Budgets after the guardrails, with the reasons.

    Attributes:
        budget: planned daily budget per arm, currency per day, whole cents, 0 where
            disabled; shape ``(..., K)``.
        enabled: planned operation status, shape ``(..., K)``.
        shortfall: part of the total the guardrails keep unspent, currency per day,
            shape ``(...)`` (0 when the budgets sum to the total to the cent).
        binding: :class:`Binding` code per arm, shape ``(..., K)``.
        infeasible: :class:`Infeasibility` code per row, shape ``(...)``.
        infeasible_amount: by how much that guardrail fails, currency per day, shape
            ``(...)`` (the shortfall, or the frozen budgets' excess over the total).
        large_edit: enabled arms that were running and whose budget changes by more
            than ``large_edit_fraction`` (this restarts learning), shape ``(..., K)``.
    """

    budget: FloatArray
    enabled: BoolArray
    shortfall: FloatArray
    binding: IntArray
    infeasible: IntArray
    infeasible_amount: FloatArray
    large_edit: BoolArray


def in_learning(
    arms: ArmState, conversions_since_edit: FloatArray, params: GuardrailParams
) -> BoolArray:
    """Which arms are in the platform's learning phase and keep their budget.

    Args:
        arms: arm state, fields of shape ``(..., K)``.
        conversions_since_edit: conversions since launch or the last large edit,
            shape ``(..., K)``.
        params: the learning window (``learning_days``, ``learning_conversions``,
            ``learning_max_days``).

    Returns:
        Shape ``(..., K)``: running arms younger than ``min(learning_days,
        learning_max_days)`` days (since launch or last large edit, whichever is later)
        with fewer than ``learning_conversions`` conversions since then.
    """
    age = np.minimum(arms.days_since_launch, arms.days_since_edit)
    window = min(params.learning_days, params.learning_max_days)
    running = arms.enabled & (arms.budget > 0)
    young = age < window
    few = np.asarray(conversions_since_edit) < params.learning_conversions
    return np.asarray(running & young & few, dtype=bool)


def project(
    desired: FloatArray,
    arms: ArmState,
    active: BoolArray,
    frozen: BoolArray,
    total: FloatArray | float,
    params: GuardrailParams,
    start: FloatArray | None = None,
) -> Projection:
    """Project desired budgets onto the guardrails (rules in the module docstring).

    Args:
        desired: budgets the allocation wants, currency per day, shape ``(..., K)``.
        arms: current state; ``budget`` (today's budget) and ``enabled`` are used.
        active: arms allowed to run (False for blocked or paused), shape ``(..., K)``.
        frozen: arms in learning (see :func:`in_learning`), shape ``(..., K)``.
        total: the daily budget, currency per day, scalar or shape ``(...)``.
        params: the guardrails.
        start: per-arm start budget of an arm being enabled, currency per day, shape
            ``(..., K)``; default ``params.start_budget`` for every arm.

    Returns:
        The :class:`Projection`; batch axes are the broadcast of the inputs' batch axes.

    Raises:
        ValueError: on shapes that do not broadcast, or negative or non-finite money.
    """
    shape = _common_shape(desired, arms, active, frozen, total)
    des = _rows(desired, np.float64, shape) * 100.0
    today = _rows(arms.budget, np.float64, shape)
    total_r = np.broadcast_to(np.asarray(total, dtype=np.float64), shape[:-1]).reshape(-1)
    for name, values in (("desired", des), ("arms.budget", today), ("total", total_r)):
        if values.size and not (values.min() >= 0.0 and values.max() < math.inf):  # NaN fails
            raise ValueError(f"project: {name} must be finite and >= 0")
    running = _rows(arms.enabled, np.bool_, shape) & (today > 0)
    start_r = None if start is None else _rows(start, np.float64, shape)
    frame = _frame(today, running, _rows(active, np.bool_, shape), total_r, params, start_r)
    frozen_r = _rows(frozen, np.bool_, shape) & frame.eligible & running
    kept = np.clip(np.round(today * 100.0), frame.pmin, frame.cap[:, None])
    excess = np.where(frozen_r, kept, 0.0).sum(axis=-1) - frame.total
    frozen_r &= (excess <= 0.0)[:, None]
    bounds = _bounds(today, running, frozen_r, kept, frame, params)
    enabled, no_room = _choose_enabled(des, bounds, frame.eligible & ~frozen_r, frame)
    cents, level, short = _solve(des, bounds, enabled, frame.total)
    binding = _binding(des - level[:, None], short, bounds, enabled, frame, no_room)
    shortfall = np.where(short, frame.total - cents.sum(axis=-1), 0.0)
    over = np.maximum(excess, 0.0)
    infeasible = np.where(over > 0.0, int(Infeasibility.LEARNING_OVER_TOTAL), 0)
    if (shortfall > 0.0).any():
        infeasible = np.where(
            over > 0.0,
            infeasible,
            np.where(shortfall > 0.0, _shortfall_code(binding, enabled), int(Infeasibility.OK)),
        )
    budget = cents / 100.0
    change = np.abs(budget - today)
    batch = shape[:-1]
    return Projection(
        budget=budget.reshape(shape),
        enabled=enabled.reshape(shape),
        shortfall=(shortfall / 100.0).reshape(batch),
        binding=binding.reshape(shape),
        infeasible=infeasible.astype(np.int64).reshape(batch),
        infeasible_amount=(np.where(over > 0.0, over, shortfall) / 100.0).reshape(batch),
        large_edit=(enabled & running & (change > params.large_edit_fraction * today)).reshape(
            shape
        ),
    )


def _common_shape(
    desired: FloatArray,
    arms: ArmState,
    active: BoolArray,
    frozen: BoolArray,
    total: FloatArray | float,
) -> tuple[int, ...]:
    """Broadcast shape ``(..., K)`` of every per-arm input and the total's batch axes."""
    arrays = [desired, arms.budget, arms.enabled, active, frozen]
    try:
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
        if not shape:
            raise ValueError("per-arm inputs need a trailing arm axis")
        batch = np.broadcast_shapes(shape[:-1], np.shape(total))
    except ValueError as exc:
        raise ValueError(f"project: inputs do not broadcast to (..., K): {exc}") from exc
    if shape[-1] == 0:
        raise ValueError("project: need at least one arm")
    return (*batch, shape[-1])


def _rows(values: object, dtype: type[np.generic], shape: tuple[int, ...]) -> Any:
    """``values`` broadcast to ``shape`` and flattened to ``(B, K)`` (read only: no copy)."""
    array = np.asarray(values, dtype=dtype)
    if array.shape != shape:
        array = np.broadcast_to(array, shape)
    return array.reshape(-1, shape[-1])


def _cents_up(x: FloatArray | float) -> FloatArray:
    """Whole cents, rounded up (float noise below a millionth of a cent ignored)."""
    return np.ceil(np.asarray(x, dtype=np.float64) * 100.0 - _CENT_NOISE)


def _cents_down(x: FloatArray | float) -> FloatArray:
    """Whole cents, rounded down (float noise below a millionth of a cent ignored)."""
    return np.floor(np.asarray(x, dtype=np.float64) * 100.0 + _CENT_NOISE)


class _Frame(NamedTuple):
    """Row-level limits in cents: ``total``, ``cap`` (B,), ``start`` (B, 1), ``pmin``."""

    total: FloatArray
    cap: FloatArray
    start: FloatArray
    pmin: float
    active: BoolArray  # arms allowed to run, (B, K)
    eligible: BoolArray  # active arms that may run at all, (B, K)


class _Bounds(NamedTuple):
    """Per arm bounds in cents (0 for ineligible arms) and their :class:`Binding` kinds."""

    lo: FloatArray
    hi: FloatArray
    lo_kind: IntArray
    hi_kind: IntArray


def _frame(
    today: FloatArray,
    running: BoolArray,
    active: BoolArray,
    total: FloatArray,
    params: GuardrailParams,
    start: FloatArray | None = None,
) -> _Frame:
    """Total, per-arm max and start budget in cents; which active arms may run."""
    pmin = max(float(_cents_up(params.platform_min_budget)), 1.0)  # an enabled arm spends
    total_c = _cents_down(total)
    cap = np.minimum(_cents_down(params.max_budget_share * total), total_c)
    wanted = params.start_budget if start is None else start
    start_c = np.clip(_cents_down(wanted), pmin, cap[:, None])
    start_c = np.broadcast_to(start_c, today.shape)
    eligible = active & (cap >= pmin)[:, None]
    return _Frame(total_c, cap, start_c, pmin, active, eligible)


def _bounds(
    today: FloatArray,
    running: BoolArray,
    frozen: BoolArray,
    kept: FloatArray,
    frame: _Frame,
    params: GuardrailParams,
) -> _Bounds:
    """Lower and upper budget per arm in cents (rule 2 of the module docstring)."""
    cap = frame.cap[:, None]
    low = np.maximum(frame.pmin, _cents_up(today * (1.0 - params.max_step_down)))
    high = np.maximum(frame.pmin, _cents_down(today * (1.0 + params.max_step_up)))
    lo_kind = np.where(low > cap, _MAX_SHARE, np.where(low > frame.pmin, _STEP_DOWN, _PLATFORM_MIN))
    hi_kind = np.where(
        high >= cap, _MAX_SHARE, np.where(high <= frame.pmin, _PLATFORM_MIN, _STEP_UP)
    )
    fixed = frozen | ~running
    fixed_value = np.where(frozen, kept, frame.start)
    fixed_kind = np.where(frozen, _LEARNING, _START)
    lo = np.where(fixed, fixed_value, np.minimum(low, cap))
    hi = np.where(fixed, fixed_value, np.minimum(high, cap))
    return _Bounds(
        lo=np.where(frame.eligible, lo, 0.0),
        hi=np.where(frame.eligible, hi, 0.0),
        lo_kind=np.where(fixed, fixed_kind, lo_kind),
        hi_kind=np.where(fixed, fixed_kind, hi_kind),
    )


def _choose_enabled(
    des: FloatArray, bounds: _Bounds, removable: BoolArray, frame: _Frame
) -> tuple[BoolArray, BoolArray]:
    """Eligible arms left after disabling the least desired ones (rule 4).

    The cut ``n`` along the ranking by desired budget is the larger of the fewest arms
    whose removal makes the lower bounds fit the total, and the number of below-minimum
    arms, limited so that the remaining upper bounds still reach the total.
    """
    n_rows, n_arms = des.shape
    order = np.argsort(np.where(removable, des, np.inf), axis=-1, kind="stable")
    total = frame.total[:, None]

    def left_after_cut(bound: FloatArray) -> FloatArray:
        ranked = np.take_along_axis(np.where(removable, bound, 0.0), order, axis=-1)
        cut = np.cumsum(np.concatenate([np.zeros((n_rows, 1)), ranked], axis=-1), axis=-1)
        left: FloatArray = bound.sum(axis=-1, keepdims=True) - cut
        return left

    n_for_lo = (left_after_cut(bounds.lo) > total).sum(axis=-1)
    n_keep_hi = (left_after_cut(bounds.hi) >= total).sum(axis=-1) - 1
    n_below = (removable & (des < frame.pmin)).sum(axis=-1)
    n_cut = np.maximum(n_for_lo, np.minimum(n_below, n_keep_hi))
    rank = np.empty((n_rows, n_arms), dtype=np.int64)
    np.put_along_axis(rank, order, np.arange(n_arms)[None, :], axis=-1)
    enabled: BoolArray = frame.eligible & (rank >= n_cut[:, None])
    no_room: BoolArray = frame.eligible & (rank < n_for_lo[:, None])
    return enabled, no_room


def _solve(
    des: FloatArray, bounds: _Bounds, enabled: BoolArray, total: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Budgets in whole cents, the level ``lam`` per row and the shortfall rows."""
    lo = np.where(enabled, bounds.lo, 0.0)
    hi = np.where(enabled, bounds.hi, 0.0)
    short = hi.sum(axis=-1) < total
    level = _level(des, lo, hi, total)
    exact = np.where(short[:, None], hi, np.clip(des - level[:, None], lo, hi))
    cents = np.clip(np.floor(exact + _CENT_NOISE), lo, hi)
    gap = np.where(short, 0.0, total - cents.sum(axis=-1))
    frac = exact - cents
    if (gap > 0.0).any():
        cents += _nudge(frac, enabled & (cents < hi), np.maximum(gap, 0.0))
    if (gap < 0.0).any():
        cents -= _nudge(-frac, enabled & (cents > lo), np.maximum(-gap, 0.0))
    return cents, level, short


def _level(des: FloatArray, lo: FloatArray, hi: FloatArray, total: FloatArray) -> FloatArray:
    """Level ``lam`` per row with ``sum(clip(des - lam, lo, hi)) = total``, shape ``(B,)``.

    ``f(lam) = sum(clip(des - lam, lo, hi))`` is piecewise linear and non-increasing, with
    breakpoints ``des - hi`` (an arm leaves its upper bound) and ``des - lo`` (it reaches
    its lower bound). The ``2K`` breakpoints of each row are sorted once and ``f`` is
    evaluated at all of them with cumulative sums of the intercept and slope changes;
    the first breakpoint where ``f`` drops below the total closes the linear piece that
    holds the solution. The arms free on that piece (classified at its midpoint) give the
    level exactly: ``(sum of their des - (total - the pinned bounds)) / their count``.
    Rows whose bounds cannot reach the total get the level at a bracket end: the lowest
    breakpoint (every arm at ``hi``) or the highest (every arm at ``lo``).
    """
    n_rows, n_arms = des.shape
    rows = np.arange(n_rows)[:, None]
    at_hi = des - hi  # below this level the arm sits at hi
    at_lo = des - lo  # above this level the arm sits at lo
    points = np.concatenate([at_hi, at_lo], axis=-1)  # (B, 2K)
    order = np.argsort(points, axis=-1, kind="stable")
    ranked = points[rows, order]
    # Crossing a breakpoint upwards: at des - hi the arm turns free (intercept += des - hi,
    # slope -= 1); at des - lo it is pinned again (intercept += lo - des, slope += 1).
    d_intercept = np.concatenate([at_hi, -at_lo], axis=-1)[rows, order]
    d_free = np.where(order < n_arms, 1.0, -1.0)
    intercept = hi.sum(axis=-1, keepdims=True) + np.cumsum(d_intercept, axis=-1)
    n_free_at = np.cumsum(d_free, axis=-1)
    below = intercept - n_free_at * ranked < total[:, None]  # f(breakpoint) < total
    first = np.argmax(below, axis=-1)
    crossed = below[np.arange(n_rows), first]  # False: f >= total everywhere
    upper = np.where(crossed, first, 2 * n_arms - 1)
    lower = np.where(crossed, np.maximum(first - 1, 0), upper)
    bracket = ranked[np.arange(n_rows)[:, None], np.stack([lower, upper], axis=-1)]
    mid = 0.5 * (bracket[:, 0] + bracket[:, 1])
    raw = des - mid[:, None]
    free = (raw > lo) & (raw < hi)
    n_free = free.sum(axis=-1)
    pinned = np.where(free, 0.0, np.clip(raw, lo, hi)).sum(axis=-1)
    free_des = np.where(free, des, 0.0).sum(axis=-1)
    exact = (free_des - (total - pinned)) / np.maximum(n_free, 1)
    level: FloatArray = np.where(n_free > 0, exact, mid)
    return level


def _nudge(priority: FloatArray, candidate: BoolArray, count: FloatArray) -> FloatArray:
    """One cent to the ``count`` candidates of each row with the highest priority.

    Ties go to the lower index. Shapes: ``(B, K)``, ``(B, K)``, ``(B,)``.
    """
    order = np.argsort(np.where(candidate, -priority, np.inf), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[-1])[None, :], axis=-1)
    step: FloatArray = (candidate & (rank < count[:, None])).astype(np.float64)
    return step


def _binding(
    raw: FloatArray,
    short: BoolArray,
    bounds: _Bounds,
    enabled: BoolArray,
    frame: _Frame,
    no_room: BoolArray,
) -> IntArray:
    """:class:`Binding` code per arm; ``raw`` = desired minus level, cents."""
    at_hi = short[:, None] | (raw >= bounds.hi)
    at_lo = raw <= bounds.lo
    in_bounds = np.where(at_hi, bounds.hi_kind, np.where(at_lo, bounds.lo_kind, _FREE))
    off = np.where(no_room, _NO_ROOM, _BELOW_MIN)
    binding = np.where(
        frame.eligible,
        np.where(enabled, in_bounds, off),
        np.where(frame.active, _MAX_BELOW_MIN, _INACTIVE),
    )
    return np.asarray(binding, dtype=np.int64)


def _shortfall_code(binding: IntArray, enabled: BoolArray) -> IntArray:
    """Which kind of upper bound keeps the total from being spent, per row."""
    step_up = (enabled & ((binding == _STEP_UP) | (binding == _PLATFORM_MIN))).any(axis=-1)
    start = (enabled & (binding == _START)).any(axis=-1)
    learning = (enabled & (binding == _LEARNING)).any(axis=-1)
    code = np.where(
        ~enabled.any(axis=-1),
        int(Infeasibility.SHORTFALL_NO_ARMS),
        np.where(
            step_up,
            int(Infeasibility.SHORTFALL_STEP_UP),
            np.where(
                start,
                int(Infeasibility.SHORTFALL_START),
                np.where(
                    learning,
                    int(Infeasibility.SHORTFALL_LEARNING),
                    int(Infeasibility.SHORTFALL_MAX_SHARE),
                ),
            ),
        ),
    )
    return np.asarray(code, dtype=np.int64)
