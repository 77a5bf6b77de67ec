"""What the job store records, as typed values; and how a plan becomes intended changes.

Units: budgets are currency per day in the account currency, held as exact cents text
(``"120.50"``) in the store so comparisons with the live state are exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from allocator.core.arms import AdGroupStatus, AuthStatus, Stage
from allocator.errors import StateError
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
    "PlannedAdGroup",
    "PlannedAlert",
    "Run",
    "Settlement",
    "budget_text",
    "intended_changes",
    "parse_plan",
    "period_key",
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


# ------------------------------------------------------------------------ plan parsing


@dataclass(frozen=True, slots=True)
class PlannedAdGroup:
    """One ``adgroups`` entry of the Plan JSON, validated (budgets currency per day)."""

    adgroup_id: str
    from_budget: float
    to_budget: float
    from_status: AdGroupStatus
    to_status: AdGroupStatus
    stage: Stage
    p_best: float | None
    cpa_mean: float | None
    cpa_low: float | None
    cpa_high: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class PlannedAlert:
    """One ``alerts`` entry of the Plan JSON."""

    kind: str
    adgroup_id: str | None
    message: str


@dataclass(frozen=True, slots=True)
class _Plan:
    adgroups: tuple[PlannedAdGroup, ...]
    alerts: tuple[PlannedAlert, ...] = field(default=())


def budget_text(budget: float) -> str:
    """A budget (currency per day) as exact cents text: ``120.5 -> "120.50"``."""
    if not math.isfinite(budget) or budget < 0:
        raise ValueError(f"budget {budget!r} is not a finite non-negative amount")
    cents = round(budget * 100)
    return f"{cents // 100}.{cents % 100:02d}"


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise StateError(f"invalid plan: {where}.{key} is missing")
    return obj[key]


def _text(obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = _field(obj, key, where)
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not value and key.endswith("id")):
        raise StateError(f"invalid plan: {where}.{key} must be a non-empty string")
    return value


def _number(obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = _field(obj, key, where)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StateError(f"invalid plan: {where}.{key} must be a finite number, got {value!r}")
    return float(value)


def _status(obj: Mapping[str, Any], key: str, where: str) -> AdGroupStatus:
    value = _field(obj, key, where)
    try:
        return AdGroupStatus(value)
    except ValueError:
        raise StateError(f"invalid plan: {where}.{key} must be 'enable' or 'disable'") from None


def _stage(obj: Mapping[str, Any], where: str) -> Stage:
    labels = {s.label: s for s in Stage}
    value = _field(obj, "stage", where)
    if value not in labels:
        raise StateError(f"invalid plan: {where}.stage must be one of {sorted(labels)}")
    return labels[value]


def _adgroup(obj: Any, where: str) -> PlannedAdGroup:
    if not isinstance(obj, Mapping):
        raise StateError(f"invalid plan: {where} must be an object")
    row = PlannedAdGroup(
        adgroup_id=_text(obj, "adgroup_id", where),
        from_budget=_number(obj, "from_budget", where),
        to_budget=_number(obj, "to_budget", where),
        from_status=_status(obj, "from_status", where),
        to_status=_status(obj, "to_status", where),
        stage=_stage(obj, where),
        p_best=_number(obj, "p_best", where, optional=True),
        cpa_mean=_number(obj, "cpa_mean", where, optional=True),
        cpa_low=_number(obj, "cpa_low", where, optional=True),
        cpa_high=_number(obj, "cpa_high", where, optional=True),
        reason=_text(obj, "reason", where),
    )
    if min(row.from_budget, row.to_budget) < 0:
        raise StateError(f"invalid plan: {where} has a negative budget")
    if row.p_best is not None and not 0 <= row.p_best <= 1:
        raise StateError(f"invalid plan: {where}.p_best must be in [0, 1]")
    return row


def _list(plan: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = plan.get(key, [])
    if not isinstance(value, list | tuple):
        raise StateError(f"invalid plan: {key} must be a list")
    return value


def parse_plan(plan: Mapping[str, Any]) -> _Plan:
    """Validate the Plan JSON's ``adgroups`` and ``alerts`` (see DESIGN.md's contract).

    Raises:
        StateError: a key is missing or has the wrong type; the message names the key
            (``adgroups[2].to_budget``).
    """
    rows = tuple(_adgroup(obj, f"adgroups[{i}]") for i, obj in enumerate(_list(plan, "adgroups")))
    ids = [r.adgroup_id for r in rows]
    if len(set(ids)) != len(ids):
        raise StateError("invalid plan: an adgroup_id appears twice in adgroups")
    alerts = []
    for i, obj in enumerate(_list(plan, "alerts")):
        where = f"alerts[{i}]"
        if not isinstance(obj, Mapping):
            raise StateError(f"invalid plan: {where} must be an object")
        alerts.append(
            PlannedAlert(
                kind=_text(obj, "kind", where),
                adgroup_id=_text(obj, "adgroup_id", where, optional=True),
                message=_text(obj, "message", where),
            )
        )
    return _Plan(rows, tuple(alerts))


def intended_changes(rows: Sequence[PlannedAdGroup]) -> list[tuple[str, ChangeKind, str, str]]:
    """The changes a plan implies, in a safe apply order.

    Order: disables, then budget decreases, then budget increases, then enables (plan
    order within each group), so spend only goes down before it goes up and a partial
    apply never runs above the old total. Budgets equal to the cent are no change.

    Returns:
        ``(adgroup_id, kind, from_value, to_value)`` tuples in apply order.
    """
    disables: list[tuple[str, ChangeKind, str, str]] = []
    decreases: list[tuple[str, ChangeKind, str, str]] = []
    increases: list[tuple[str, ChangeKind, str, str]] = []
    enables: list[tuple[str, ChangeKind, str, str]] = []
    for r in rows:
        old, new = budget_text(r.from_budget), budget_text(r.to_budget)
        if old != new:
            group = decreases if r.to_budget < r.from_budget else increases
            group.append((r.adgroup_id, ChangeKind.BUDGET, old, new))
        if r.from_status != r.to_status:
            group = enables if r.to_status is AdGroupStatus.ENABLE else disables
            group.append((r.adgroup_id, ChangeKind.STATUS, r.from_status.value, r.to_status.value))
    return disables + decreases + increases + enables
