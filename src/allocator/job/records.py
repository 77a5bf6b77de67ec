"""What the job store records, as typed values; and how a plan becomes intended changes.

The store takes a :class:`~allocator.plans.Plan` as it is (one plan type end to end):
:func:`check_plan` refuses one it cannot record, :func:`intended_changes` orders its
changes, and the store serialises it to JSON only when writing it to SQLite.

Units: budgets are currency per day in the account currency, held as exact cents text
(``"120.50"``) in the store so comparisons with the live state are exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from allocator.core.arms import AdGroupStatus, AuthStatus, Stage
from allocator.errors import StateError
from allocator.plans import Plan, PlannedAdGroup
from allocator.platform.base import BudgetChange, StatusChange

__all__ = [
    "AlertRecord",
    "AuthorizationSeen",
    "Cadence",
    "Change",
    "ChangeKind",
    "ChangeState",
    "DecisionRecord",
    "Disposition",
    "Outcome",
    "Run",
    "Settlement",
    "budget_text",
    "check_plan",
    "intended_changes",
    "period_key",
    "recorded_plan",
]


class Cadence(StrEnum):
    """How often the job plans: one run per account per period."""

    DAILY = "daily"
    WEEKLY = "weekly"


def period_key(as_of: date, cadence: Cadence = Cadence.DAILY) -> str:
    """The period an as-of date falls in: ``2026-11-20`` daily, ``2026-W47`` weekly (ISO).

    Keys sort in time order as strings within one cadence.
    """
    if cadence is Cadence.DAILY:
        return as_of.isoformat()
    year, week, _ = as_of.isocalendar()
    return f"{year:04d}-W{week:02d}"


class Outcome(StrEnum):
    """How a run ended."""

    PLANNED = "planned"  # dry run: recorded, nothing sent
    APPLIED = "applied"  # every change is in effect
    PARTIAL = "partial"  # some changes in effect, some rejected
    FAILED = "failed"  # stopped by an error
    NOOP = "noop"  # nothing needed changing
    INTERRUPTED = "interrupted"  # abandoned before all changes were settled


class ChangeKind(StrEnum):
    """What a change sets."""

    BUDGET = "budget"
    STATUS = "status"


class ChangeState(StrEnum):
    """Where a change is: ``pending`` until settled, then one of the others for good."""

    PENDING = "pending"  # intended; maybe sent (see attempted_at), outcome not recorded
    APPLIED = "applied"  # the platform confirmed it (or the live state shows it)
    FAILED = "failed"  # the platform rejected it
    SKIPPED = "skipped"  # never sent (dry run, already at target, run ended first)


class Disposition(StrEnum):
    """What :meth:`~allocator.job.store.Store.begin_run` did."""

    NEW = "new"  # a new run was recorded with its changes pending
    RESUMED = "resumed"  # an unfinished run for the period was found: continue it
    NOOP = "noop"  # the period is already done with the same inputs: nothing to do
    LOADED = "loaded"  # read back (get_run, runs)


@dataclass(frozen=True, slots=True)
class Change:
    """One intended change and its result.

    Attributes:
        id: store id (pass to ``mark_attempted`` / ``record_change_result``).
        run_id: the run it belongs to.
        seq: position in the run's apply order (1-based).
        adgroup_id: the ad group.
        kind: budget or status.
        from_value: value before, ``"120.00"`` (currency per day) or ``enable``/``disable``.
        to_value: target value, same format.
        state: see :class:`ChangeState`.
        request_id: the platform's request id when known.
        error: why it failed or was skipped (access tokens redacted).
        attempted_at: ISO-8601 UTC time it was last about to be sent; ``None``: never sent.
        applied_at: ISO-8601 UTC time it was recorded as applied.
        sent_order: position among all the store's sends of its last send (a resumed
            change that is sent again moves to the end); ``None``: never sent.
    """

    id: int
    run_id: int
    seq: int
    adgroup_id: str
    kind: ChangeKind
    from_value: str
    to_value: str
    state: ChangeState
    request_id: str | None = None
    error: str | None = None
    attempted_at: str | None = None
    applied_at: str | None = None
    sent_order: int | None = None

    def as_platform_change(self) -> BudgetChange | StatusChange:
        """The change as the platform's write request."""
        if self.kind is ChangeKind.BUDGET:
            return BudgetChange(self.adgroup_id, float(self.to_value))
        return StatusChange(self.adgroup_id, self.to_value == AdGroupStatus.ENABLE)

    def reached(self, budget: float, enabled: bool) -> bool:
        """True when a live ad group (budget per day, enabled) already shows the target."""
        if self.kind is ChangeKind.BUDGET:
            return budget_text(budget) == self.to_value
        return enabled == (self.to_value == AdGroupStatus.ENABLE)


@dataclass(frozen=True, slots=True)
class Run:
    """One invocation's record for an account and period.

    Attributes:
        id: store id; also the plan's ``run_id``.
        account: account name.
        period: period key (:func:`period_key`).
        config_hash: hash of the config the plan came from.
        fingerprint: hash of the run's inputs (account, period, config and inputs hash).
        owner: the lock owner that recorded it (``None`` for dry runs).
        dry_run: True for a plan-only run.
        started: ISO-8601 UTC start time.
        finished: ISO-8601 UTC end time; ``None`` while unfinished.
        outcome: how it ended; ``None`` while unfinished.
        plan: the Plan JSON object, with ``run_id`` filled in.
        disposition: what ``begin_run`` did (``LOADED`` when read back).
        pending: the changes still pending when returned (``begin_run`` only).
    """

    id: int
    account: str
    period: str
    config_hash: str
    fingerprint: str
    owner: str | None
    dry_run: bool
    started: str
    finished: str | None
    outcome: Outcome | None
    plan: Mapping[str, Any]
    disposition: Disposition = Disposition.LOADED
    pending: tuple[Change, ...] = ()

    @property
    def is_noop(self) -> bool:
        """True when ``begin_run`` found this period already done: report a no-op."""
        return self.disposition is Disposition.NOOP


@dataclass(frozen=True, slots=True)
class Settlement:
    """What :meth:`~allocator.job.store.Store.settle_pending` concluded.

    Attributes:
        applied: sent earlier and found in effect: now ``applied``.
        skipped: never sent but already at target: now ``skipped``.
        pending: still to send, in apply order.
    """

    applied: tuple[Change, ...]
    skipped: tuple[Change, ...]
    pending: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """The engine's decision and posterior summary for one arm in one run.

    Attributes:
        run_id: the run.
        adgroup_id: the arm's ad group.
        stage: the stage decided.
        p_best: posterior probability the arm is best, or ``None``.
        cpa_mean: posterior mean cost per conversion (currency), or ``None``.
        cpa_low: 5th percentile of CPA (currency), or ``None``.
        cpa_high: 95th percentile of CPA (currency), or ``None``.
        reason: why, in words.
    """

    run_id: int
    adgroup_id: str
    stage: Stage
    p_best: float | None
    cpa_mean: float | None
    cpa_low: float | None
    cpa_high: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert raised by a run (``kind`` e.g. ``auth_expiring``, ``fatigue``)."""

    run_id: int
    kind: str
    adgroup_id: str | None
    message: str


@dataclass(frozen=True, slots=True)
class AuthorizationSeen:
    """A Spark authorization as a run saw it.

    Attributes:
        run_id: the run that saw it.
        adgroup_id: the ad group.
        post_id: the TikTok post id, if any.
        status: the authorization status.
        expires_at: ISO-8601 expiry, if any.
        seen_at: ISO-8601 UTC time it was recorded.
    """

    run_id: int
    adgroup_id: str
    post_id: str | None
    status: AuthStatus
    expires_at: str | None
    seen_at: str


def budget_text(budget: float) -> str:
    """A budget (currency per day) as exact cents text: ``120.5 -> "120.50"``."""
    if not math.isfinite(budget) or budget < 0:
        raise ValueError(f"budget {budget!r} is not a finite non-negative amount")
    cents = round(budget * 100)
    return f"{cents // 100}.{cents % 100:02d}"


# ------------------------------------------------------------------------ plan checks


def _where_row(plan: Plan, i: int, key: str) -> str:
    return f"invalid plan: adgroups[{i}].{key}"


def _check_row(plan: Plan, i: int, labels: frozenset[str]) -> None:
    row = plan.adgroups[i]
    if not row.adgroup_id:
        raise StateError(_where_row(plan, i, "adgroup_id") + " must be a non-empty string")
    for key in ("from_budget", "to_budget"):
        value = getattr(row, key)
        if not math.isfinite(value):
            raise StateError(_where_row(plan, i, key) + f" must be a finite number, got {value!r}")
    if min(row.from_budget, row.to_budget) < 0:
        raise StateError(f"invalid plan: adgroups[{i}] has a negative budget")
    for key in ("from_status", "to_status"):
        if getattr(row, key) not in (AdGroupStatus.ENABLE, AdGroupStatus.DISABLE):
            raise StateError(_where_row(plan, i, key) + " must be 'enable' or 'disable'")
    if row.stage not in labels:
        raise StateError(_where_row(plan, i, "stage") + f" must be one of {sorted(labels)}")
    if not 0 <= row.p_best <= 1:
        raise StateError(_where_row(plan, i, "p_best") + " must be in [0, 1]")


def check_plan(plan: Plan) -> None:
    """Refuse a plan the store cannot record faithfully (see DESIGN.md's plan contract).

    Raises:
        StateError: an ad group appears twice, or a row has an empty id, a negative or
            non-finite budget, a status other than ``enable``/``disable``, an unknown stage
            or a ``p_best`` outside [0, 1]; the message names the row and field
            (``adgroups[2].to_budget``).
    """
    labels = frozenset(s.label for s in Stage)
    for i in range(len(plan.adgroups)):
        _check_row(plan, i, labels)
    ids = [r.adgroup_id for r in plan.adgroups]
    if len(set(ids)) != len(ids):
        raise StateError("invalid plan: an adgroup_id appears twice in adgroups")


def recorded_plan(plan: Plan) -> dict[str, Any]:
    """The plan JSON as the store records it: what the account holds after the run.

    That is the plan's own JSON, except that a disabled ad group's ``to_budget`` is its
    ``from_budget``: disabling leaves the budget as it is (see :func:`intended_changes`).
    """
    data = plan.to_json_dict()
    data["adgroups"] = [
        {**row, "to_budget": row["from_budget"]}
        if row["to_status"] == AdGroupStatus.DISABLE
        else row
        for row in data["adgroups"]
    ]
    return data


def intended_changes(rows: Sequence[PlannedAdGroup]) -> list[tuple[str, ChangeKind, str, str]]:
    """The changes a plan implies, in a safe apply order.

    Order: disables, then budget decreases, then budget increases, then enables (plan
    order within each group), so spend only goes down before it goes up and a partial
    apply never runs above the old total. Budgets equal to the cent are no change, and a
    disabled ad group's budget is left as it is (only its status changes).

    Returns:
        ``(adgroup_id, kind, from_value, to_value)`` tuples in apply order.
    """
    disables: list[tuple[str, ChangeKind, str, str]] = []
    decreases: list[tuple[str, ChangeKind, str, str]] = []
    increases: list[tuple[str, ChangeKind, str, str]] = []
    enables: list[tuple[str, ChangeKind, str, str]] = []
    for r in rows:
        old, new = budget_text(r.from_budget), budget_text(r.to_budget)
        if old != new and r.to_status == AdGroupStatus.ENABLE:
            group = decreases if r.to_budget < r.from_budget else increases
            group.append((r.adgroup_id, ChangeKind.BUDGET, old, new))
        if r.from_status != r.to_status:
            group = enables if r.to_status == AdGroupStatus.ENABLE else disables
            group.append((r.adgroup_id, ChangeKind.STATUS, r.from_status, r.to_status))
    return disables + decreases + increases + enables
