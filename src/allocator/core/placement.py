"""Placing the daily budget: who runs, where the money goes, and the step cap's lift.

The part of :func:`allocator.core.engine.step` after the decisions. :class:`Room` says
where the budget can go tomorrow (arm state, who runs, who learns, the total) and the
start budgets of arms being enabled; :func:`reserve_back` brings resting acceptable arms
back until the running ones can absorb the budget; :class:`Placer` runs the Thompson
allocation and the guardrail projection, places the reserve a second time where the
projection's cut for room left money beside an idle arm, and lifts the step-up cap where
``step_cap_on_shortfall`` says so (:func:`allocator.core.spend.lift_pays`).

Money in currency per day; arrays ``(..., K)`` with any leading batch axes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from allocator._types import BoolArray, FloatArray, IntArray
from allocator.core.allocation import thompson_allocate
from allocator.core.arms import ArmState, Stage
from allocator.core.decisions import Decisions, Reason
from allocator.core.guardrail_params import GuardrailParams
from allocator.core.guardrails import Binding, Infeasibility, Projection, project
from allocator.core.posterior import ArmModel
from allocator.core.response import saturating_allocate
from allocator.core.spend import arm_capacity, fill_reserve, lift_pays

if TYPE_CHECKING:
    from allocator.core.engine import EngineParams

__all__ = [
    "Placer",
    "Room",
    "Saturation",
    "exploration_floor",
    "reserve_back",
    "start_budget",
]

_TESTING = int(Stage.TESTING)
_NO_ROOM, _LEARNING_OVER_TOTAL = int(Binding.NO_ROOM), int(Infeasibility.LEARNING_OVER_TOTAL)
_UNCAPPED_STEP = 1e12
"""Step-up cap of the lifted projection: the bounds want a finite number; a 1e12-fold
step takes even a cent past any daily budget."""


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


class Saturation(NamedTuple):
    """The response curve the step assumes.

    ``to_zero``: the rate-at-vanishing-spend factor per arm ``(..., K)``; ``half``: the
    half-saturation spend, a scalar or one per account ``(..., 1)``, currency per day.
    """

    to_zero: FloatArray
    half: float | FloatArray


@dataclass(frozen=True)
class Room:
    """Where the budget can go tomorrow: arm state, who runs, who learns, the total.

    ``allowed``: the arms the even start share is counted over (default ``active``).
    Arms a placement cuts for room stay counted, so the arms being enabled beside them
    never start above the even share of every arm allowed to run.
    """

    arms: ArmState
    active: BoolArray
    frozen: BoolArray
    total: FloatArray
    guard: GuardrailParams
    allowed: BoolArray | None = None

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
            counted = self.active if self.allowed is None else self.allowed
            wanted = start_budget(counted, total, guard)
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

    def adding(self, back: BoolArray) -> Room:
        """The room with the arms ``back`` running too (this room when there are none)."""
        if not back.any():
            return self
        allowed = None if self.allowed is None else self.allowed | back
        return dataclasses.replace(self, active=self.active | back, allowed=allowed)


_RESERVE_ROUNDS = 4
"""Rounds of the reserve's fixed point: each arm brought back lowers the start budgets,
so the capacity counted before falls short; the chosen set only grows, and settles in
one or two rounds in practice."""


def reserve_back(room: Room, reserve: BoolArray, rank: FloatArray) -> BoolArray:
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
class Placer:
    """Places the daily budget: reserve, Thompson allocation, projection, step-cap lift."""

    draws: FloatArray
    top: IntArray
    saturation: Saturation
    model: ArmModel
    params: EngineParams

    def place(
        self, decisions: Decisions, room: Room, reserve: BoolArray
    ) -> tuple[Decisions, Room, FloatArray, Projection]:
        """Decisions, room, desired budgets and projection once the budget is placed.

        Resting acceptable arms (``reserve``) come back first by the capacity count of
        :func:`reserve_back`; where the projection still leaves more than rounding unplanned
        beside an idle reserve arm (the count cannot see which arms the projection will
        cut for room), the reserve is counted again without the arms cut for room, and
        the budget placed again over the rest (the cut arms stay off, ``NO_ROOM``).
        Then the step-up cap is lifted where ``step_cap_on_shortfall`` says so, over the
        same arms as the projection it lifts.
        """
        rank = self.model.reward_mean()
        if reserve.any():
            back = reserve_back(room, reserve, rank)
            decisions, room = _bring_back(decisions, back), room.adding(back)
        desired, projection = self._project(decisions, room)
        first, placed, cut = projection, room, None  # arms cut for room stay off
        loose = projection.shortfall > 0.01 * np.maximum(projection.enabled.sum(axis=-1), 1)
        idle = reserve & ~room.active & loose[..., None]
        if idle.any():
            cut = room.active & (projection.binding == _NO_ROOM) & loose[..., None]
            kept = dataclasses.replace(room, active=room.active & ~cut, allowed=room.active)
            more = reserve_back(kept, idle, rank) & idle
            if more.any() or cut.any():
                decisions = _bring_back(decisions, more)
                placed, room = kept.adding(more), room.adding(more)
                desired, projection = self._project(decisions, placed)
        if self.params.step_cap_on_shortfall != "hold" and (projection.shortfall > 0).any():
            projection = _lift_step_cap(projection, desired, self.model, placed, self.params)
        if cut is not None and placed is not room:
            projection = _with_cut(projection, first, cut)
        return decisions, room, desired, projection

    def _project(self, decisions: Decisions, room: Room) -> tuple[FloatArray, Projection]:
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


def _with_cut(projection: Projection, first: Projection, cut: BoolArray) -> Projection:
    """The second placement's projection, with what the first one found kept.

    The arms the first cut for room stay off (``NO_ROOM``), and rows where the frozen
    arms alone exceeded the total keep that report (``LEARNING_OVER_TOTAL``: the freeze
    was lifted there, which is why an arm in learning could be cut).
    """
    over = first.infeasible == _LEARNING_OVER_TOTAL
    return dataclasses.replace(
        projection,
        binding=np.where(cut, _NO_ROOM, projection.binding),
        infeasible=np.where(over, first.infeasible, projection.infeasible),
        infeasible_amount=np.where(over, first.infeasible_amount, projection.infeasible_amount),
    )


def _lift_step_cap(
    projection: Projection,
    desired: FloatArray,
    model: ArmModel,
    room: Room,
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
    saturation: Saturation,
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
