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
   (``NO_ROOM``); those whose lower bounds still fit in what that left come back,
   smallest lower bound first. Arms whose desired budget is below the platform minimum are disabled
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

:class:`~allocator.core.guardrail_params.GuardrailParams` holds the limits (and the
learning window of :func:`~allocator.core.guardrail_params.in_learning`); the exact level
and the rounding of rule 5 are in :mod:`allocator.core.box_projection`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.arms import ArmState
from allocator.core.box_projection import CENT_NOISE, cents_down, cents_up, solve_cents
from allocator.core.guardrail_params import GuardrailParams

__all__ = ["Binding", "Infeasibility", "Projection", "project"]


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
        frozen: arms in learning (see
            :func:`~allocator.core.guardrail_params.in_learning`), shape ``(..., K)``.
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
    _check_money(des, today, total_r)
    running = _rows(arms.enabled, np.bool_, shape) & (today > 0)
    start_r = None if start is None else _rows(start, np.float64, shape)
    frame = _frame(today, running, _rows(active, np.bool_, shape), total_r, params, start_r)
    frozen_r, kept, excess = _hold_learning(_rows(frozen, np.bool_, shape), today, running, frame)
    bounds = _bounds(today, running, frozen_r, kept, frame, params)
    enabled, no_room = _choose_enabled(des, bounds, frame.eligible & ~frozen_r, frame)
    cents, level, short = solve_cents(des, bounds.lo, bounds.hi, enabled, frame.total)
    binding = _binding(des - level[:, None], short, bounds, enabled, frame, no_room)
    shortfall = np.where(short, frame.total - cents.sum(axis=-1), 0.0)
    over = np.maximum(excess, 0.0)
    budget = cents / 100.0
    change = np.abs(budget - today)
    batch = shape[:-1]
    return Projection(
        budget=budget.reshape(shape),
        enabled=enabled.reshape(shape),
        shortfall=(shortfall / 100.0).reshape(batch),
        binding=binding.reshape(shape),
        infeasible=_infeasible(over, shortfall, binding, enabled).reshape(batch),
        infeasible_amount=(np.where(over > 0.0, over, shortfall) / 100.0).reshape(batch),
        large_edit=(enabled & running & (change > params.large_edit_fraction * today)).reshape(
            shape
        ),
    )


def _check_money(des: FloatArray, today: FloatArray, total: FloatArray) -> None:
    """Raise unless the desired budgets, today's budgets and the totals are finite, >= 0."""
    for name, values in (("desired", des), ("arms.budget", today), ("total", total)):
        if values.size and not (values.min() >= 0.0 and values.max() < math.inf):  # NaN fails
            raise ValueError(f"project: {name} must be finite and >= 0")


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
        shape = np.broadcast(*arrays).shape
        if not shape:
            raise ValueError("per-arm inputs need a trailing arm axis")
        total_shape = np.shape(total)
        batch = (
            shape[:-1]
            if total_shape in ((), shape[:-1])
            else np.broadcast_shapes(shape[:-1], total_shape)
        )
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
    pmin = max(float(cents_up(params.platform_min_budget)), 1.0)  # an enabled arm spends
    total_c = cents_down(total)
    cap = np.minimum(cents_down(params.max_budget_share * total), total_c)
    wanted = params.start_budget if start is None else start
    start_c = np.clip(cents_down(wanted), pmin, cap[:, None])
    start_c = np.broadcast_to(start_c, today.shape)
    eligible = active & (cap >= pmin)[:, None]
    return _Frame(total_c, cap, start_c, pmin, active, eligible)


def _hold_learning(
    frozen: BoolArray, today: FloatArray, running: BoolArray, frame: _Frame
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Frozen arms that keep today's budget (rules 2 and 3 of the module docstring).

    Returns the frozen running eligible arms (all unfrozen in rows where their budgets
    alone exceed the total), today's budget in cents clipped into ``[pmin, cap]``
    ``(B, K)``, and per row the frozen cents minus the total ``(B,)`` (> 0: the excess).
    """
    held = frozen & frame.eligible & running
    kept = np.clip(np.round(today * 100.0), frame.pmin, frame.cap[:, None])
    excess = np.where(held, kept, 0.0).sum(axis=-1) - frame.total
    held &= (excess <= 0.0)[:, None]
    return held, kept, excess


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
    low = np.maximum(frame.pmin, cents_up(today * (1.0 - params.max_step_down)))
    high = np.maximum(frame.pmin, cents_down(today * (1.0 + params.max_step_up)))
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
    # ranked by desired whole cents (ties: lower index first), so float noise in the
    # desired budgets never reorders arms the allocation put at the same floor
    key = np.floor(des + CENT_NOISE)
    order = np.argsort(np.where(removable, key, np.inf), axis=-1, kind="stable")
    at = (np.arange(n_rows)[:, None], order)  # fancy index of the ranking, row by row
    total = frame.total[:, None]

    def left_after_cut(bound: FloatArray) -> FloatArray:
        ranked = np.where(removable, bound, 0.0)[at]
        cut = np.cumsum(np.concatenate([np.zeros((n_rows, 1)), ranked], axis=-1), axis=-1)
        left: FloatArray = bound.sum(axis=-1, keepdims=True) - cut
        return left

    n_for_lo = (left_after_cut(bounds.lo) > total).sum(axis=-1)
    n_keep_hi = (left_after_cut(bounds.hi) >= total).sum(axis=-1) - 1
    n_below = (removable & (des < frame.pmin - CENT_NOISE)).sum(axis=-1)
    n_cut = np.maximum(n_for_lo, np.minimum(n_below, n_keep_hi))
    rank = np.empty((n_rows, n_arms), dtype=np.int64)
    rank[at] = np.arange(n_arms)
    enabled: BoolArray = frame.eligible & (rank >= n_cut[:, None])
    no_room: BoolArray = frame.eligible & (rank < n_for_lo[:, None])
    if not no_room.any():  # nobody was cut for room: nobody to readmit
        return enabled, no_room
    back = _readmit(no_room, bounds.lo, frame.total - np.where(enabled, bounds.lo, 0.0).sum(-1))
    return enabled | back, no_room & ~back


def _readmit(no_room: BoolArray, lo: FloatArray, room: FloatArray) -> BoolArray:
    """Arms cut for room whose lower bounds still fit in what the cut left, ``(B, K)``.

    The cut follows the ranking by desired budget, so an arm with a large lower bound
    (a running arm that may not step down) can push out arms that would fit once it is
    gone. Those come back, smallest lower bound first (ties: lower index first), while
    their lower bounds fit in ``room`` (cents, ``(B,)``).
    """
    key = np.where(no_room, lo, np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    ranked = np.take_along_axis(np.where(no_room, lo, 0.0), order, axis=-1)
    fits = np.cumsum(ranked, axis=-1) <= room[:, None]
    back = np.zeros_like(no_room)
    np.put_along_axis(back, order, fits, axis=-1)
    out: BoolArray = back & no_room
    return out


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


def _infeasible(
    over: FloatArray, shortfall: FloatArray, binding: IntArray, enabled: BoolArray
) -> IntArray:
    """:class:`Infeasibility` code per row: learning over the total, else the shortfall's."""
    infeasible = np.where(over > 0.0, int(Infeasibility.LEARNING_OVER_TOTAL), 0)
    if (shortfall > 0.0).any():
        infeasible = np.where(
            over > 0.0,
            infeasible,
            np.where(shortfall > 0.0, _shortfall_code(binding, enabled), int(Infeasibility.OK)),
        )
    return infeasible.astype(np.int64)
