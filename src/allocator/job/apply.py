"""Applying a recorded run's changes through a platform, write-ahead, in a safe order.

Each phase (disables, budget decreases, budget increases, enables: the order of
:func:`~allocator.job.records.intended_changes`) is one platform call: every change of the
phase is marked attempted in the store *before* the call and its result recorded after.
When a change that frees budget (a disable or a decrease) fails, the phases that add
spend are not sent, so a partial apply never runs the account above its old total.

An ambiguous failure (the platform did not answer, the token was refused mid-way) stops
the apply and leaves the run open: its attempted changes stay ``pending`` and the next
invocation resumes the run, re-reads the live state and settles them before sending
anything again.

Units: budgets are currency per day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from allocator.core.arms import AdGroup, AdGroupStatus
from allocator.errors import ApiError, ConfigError
from allocator.job.records import Change, ChangeKind, ChangeState, budget_text
from allocator.job.store import Store
from allocator.plans import Plan
from allocator.platform.base import (
    AdPlatform,
    BudgetChange,
    ChangeResult,
    InvalidChangeError,
    StatusChange,
)

__all__ = [
    "ApplyStop",
    "LiveState",
    "apply_pending",
    "budget_moved",
    "live_state",
    "outcome_unknown",
    "pending_differences",
    "plan_differences",
]

log = logging.getLogger("allocator.job")

LiveState = Mapping[str, tuple[float, bool]]
"""``adgroup_id -> (daily budget in currency per day, enabled)`` as the platform shows it."""


@dataclass(frozen=True, slots=True)
class ApplyStop:
    """Why :func:`apply_pending` stopped before sending every change.

    Attributes:
        reason: one line for the person reading the report.
        open_run: True when the outcome of sent changes is unknown: leave the run open so
            the next invocation resumes it; False when the remaining changes were
            deliberately not sent (finish the run).
    """

    reason: str
    open_run: bool


def live_state(adgroups: Sequence[AdGroup]) -> dict[str, tuple[float, bool]]:
    """The live budgets and statuses of ``adgroups`` (as the platform listed them)."""
    return {g.adgroup_id: (g.budget, g.status is AdGroupStatus.ENABLE) for g in adgroups}


def budget_moved(plan: Plan) -> float:
    """Spend the plan moves, currency per day: ``sum |to - from|`` of effective budgets.

    An ad group's effective budget is its daily budget while enabled and 0 while disabled,
    so pausing a 50/day ad group moves 50.
    """
    total = 0.0
    for a in plan.adgroups:
        before = a.from_budget if a.from_status == AdGroupStatus.ENABLE else 0.0
        after = a.to_budget if a.to_status == AdGroupStatus.ENABLE else 0.0
        total += abs(after - before)
    return round(total, 2)


def _status_text(enabled: bool) -> str:
    return str(AdGroupStatus.ENABLE if enabled else AdGroupStatus.DISABLE)


def plan_differences(plan: Plan, live: LiveState) -> list[str]:
    """Where the live state differs from what the plan was computed from (one line each)."""
    found: list[str] = []
    for a in plan.adgroups:
        now = live.get(a.adgroup_id)
        if now is None:
            found.append(f"ad group {a.adgroup_id} is no longer listed by the platform")
            continue
        budget, enabled = now
        if budget_text(budget) != budget_text(a.from_budget):
            found.append(
                f"ad group {a.adgroup_id} budget is {budget_text(budget)}, "
                f"the plan was computed from {budget_text(a.from_budget)}"
            )
        if _status_text(enabled) != a.from_status:
            found.append(
                f"ad group {a.adgroup_id} status is {_status_text(enabled)}, "
                f"the plan was computed from {a.from_status}"
            )
    return found


def pending_differences(pending: Sequence[Change], live: LiveState) -> list[str]:
    """Pending changes whose ad group shows neither their start value nor their target."""
    found: list[str] = []
    for c in pending:
        now = live.get(c.adgroup_id)
        if now is None:
            found.append(f"ad group {c.adgroup_id} is no longer listed by the platform")
            continue
        value = budget_text(now[0]) if c.kind is ChangeKind.BUDGET else _status_text(now[1])
        if value not in (c.from_value, c.to_value):
            found.append(
                f"ad group {c.adgroup_id} {c.kind} is {value}, the run expected {c.from_value}"
            )
    return found


def _phase(change: Change) -> int:
    """0 disable, 1 budget decrease, 2 budget increase, 3 enable."""
    if change.kind is ChangeKind.STATUS:
        return 3 if change.to_value == AdGroupStatus.ENABLE else 0
    return 2 if float(change.to_value) > float(change.from_value) else 1


def _send(platform: AdPlatform, batch: Sequence[Change]) -> list[ChangeResult]:
    if batch[0].kind is ChangeKind.BUDGET:
        budgets = [BudgetChange(c.adgroup_id, float(c.to_value)) for c in batch]
        return platform.update_budgets(budgets)
    statuses = [StatusChange(c.adgroup_id, c.to_value == AdGroupStatus.ENABLE) for c in batch]
    return platform.update_statuses(statuses)


def apply_pending(
    store: Store, platform: AdPlatform, pending: Sequence[Change]
) -> ApplyStop | None:
    """Send ``pending`` changes phase by phase, recording each before and after sending.

    Args:
        store: the job store, with the run's account locked.
        platform: where the changes go.
        pending: the run's pending changes in apply order (``seq``).

    Returns:
        ``None`` when every change was sent and answered; else why it stopped.
    """
    for phase, group in groupby(pending, key=_phase):
        batch = list(group)
        if phase >= 2 and _freeing_failed(store, batch[0].run_id):
            return ApplyStop(
                "a disable or budget decrease failed, so budget increases and enables were "
                "not sent (they would run the account above its daily budget)",
                open_run=False,
            )
        stop = _apply_batch(store, platform, batch)
        if stop is not None:
            return stop
    return None


def _apply_batch(store: Store, platform: AdPlatform, batch: Sequence[Change]) -> ApplyStop | None:
    """Mark one phase's changes attempted, send them in one call, record the answers."""
    for change in batch:
        store.mark_attempted(change.id)
    ids = ", ".join(c.adgroup_id for c in batch)
    log.info("sending %d %s change(s): %s", len(batch), batch[0].kind, ids)
    try:
        results = _send(platform, batch)
    except (InvalidChangeError, ConfigError) as exc:  # refused before sending
        for change in batch:
            store.record_change_result(change.id, False, None, f"not sent: {exc}")
        return None
    except ApiError as exc:
        return ApplyStop(
            f"the platform did not answer for {len(batch)} {batch[0].kind} change(s) "
            f"({exc.__class__.__name__}: {exc}); their outcome is unknown: run the job "
            "again to resume (it re-reads the live state first)",
            open_run=True,
        )
    return _record_results(store, batch, results)


def _record_results(
    store: Store, batch: Sequence[Change], results: Sequence[ChangeResult]
) -> ApplyStop | None:
    """Record each answer; a change whose outcome is unknown stays pending and stops."""
    unknown = []
    for change, result in zip(batch, results, strict=True):
        if outcome_unknown(result):
            unknown.append(change.adgroup_id)  # stays pending: settled on resume
            continue
        store.record_change_result(change.id, result.ok, result.request_id, result.error)
        if not result.ok:
            log.warning("change rejected: ad group %s: %s", change.adgroup_id, result.error)
    if unknown:
        return ApplyStop(
            f"the outcome of {len(unknown)} {batch[0].kind} change(s) is unknown (no answer "
            f"and the read-back failed: {', '.join(unknown)}): run the job again to resume "
            "(it re-reads the live state first)",
            open_run=True,
        )
    return None


def outcome_unknown(result: ChangeResult) -> bool:
    """True when the platform neither confirmed nor refused the change.

    The client reports this as a failed result whose error starts with ``outcome
    unknown`` (the write got no answer and reading the ad group back failed too): the
    change may have landed, so it must not be recorded as failed.
    """
    return not result.ok and (result.error or "").startswith("outcome unknown")


def _freeing_failed(store: Store, run_id: int) -> bool:
    return any(c.state is ChangeState.FAILED and _phase(c) < 2 for c in store.changes(run_id))
