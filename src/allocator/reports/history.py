"""An account's history as the job report reads it: runs, plans, changes, alerts, delivery.

:func:`history_from_store` reads every run of an account from the job's store (each run's
plan JSON holds its per-ad-group budgets, stages, intervals and alerts; its changes hold
what was sent and how it ended) and keeps those of the last ``days`` planning days.
:func:`history_from_plan` makes the one-run history of the read-only ``files`` platform,
which has no store. Daily delivery (spend, conversions) is not in the store: the caller
passes the observations it read from the platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from allocator.core.arms import AdGroup, Observation
from allocator.job.queries import StoreQueries
from allocator.job.records import Change
from allocator.plans import Plan

__all__ = [
    "AlertSpan",
    "JobHistory",
    "RunSnapshot",
    "alert_spans",
    "creative_names",
    "history_from_plan",
    "history_from_store",
]


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """One run as the report shows it.

    Attributes:
        run_id: the store's run id (0 for a files-platform plan, which is not stored).
        as_of: the planning day.
        started: ISO-8601 UTC start time ("" when not stored).
        outcome: how the run ended (``planned``, ``applied``, ``partial``...).
        dry_run: True for a plan-only run.
        plan: the plan JSON (see :meth:`allocator.plans.Plan.to_json_dict`).
        changes: the run's changes with their final state, in apply order.
    """

    run_id: int
    as_of: date
    started: str
    outcome: str
    dry_run: bool
    plan: Mapping[str, Any]
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class JobHistory:
    """What the job report is built from.

    Attributes:
        account: the account name.
        currency: the account currency.
        objective: ``cpa`` or ``roas``.
        target: the target CPA (or ROAS), if set.
        names: ad group id -> creative name (creator, concept, post).
        runs: every run in the window, oldest first.
        observations: daily delivery per ad group over the window.
    """

    account: str
    currency: str
    objective: str
    target: float | None
    names: Mapping[str, str]
    runs: tuple[RunSnapshot, ...]
    observations: tuple[Observation, ...]

    @property
    def daily(self) -> tuple[RunSnapshot, ...]:
        """One run per planning day (the last one that day, applied runs before dry runs)."""
        by_day: dict[date, RunSnapshot] = {}
        for run in self.runs:
            kept = by_day.get(run.as_of)
            if kept is None or kept.dry_run or not run.dry_run:
                by_day[run.as_of] = run
        return tuple(by_day[d] for d in sorted(by_day))

    @property
    def adgroup_ids(self) -> list[str]:
        """Every ad group in the window, in order of first appearance."""
        seen: dict[str, None] = {}
        for run in self.runs:
            for row in run.plan["adgroups"]:
                seen.setdefault(row["adgroup_id"], None)
        for ob in self.observations:
            seen.setdefault(ob.adgroup_id, None)
        return list(seen)

    def name(self, adgroup_id: str | None) -> str:
        """The creative's name, or the id when unknown; ``account`` for ``None``."""
        if adgroup_id is None:
            return "account"
        return self.names.get(adgroup_id, adgroup_id)


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """An alert over consecutive runs: raised on ``first``, cleared on ``cleared``.

    ``cleared`` is ``None`` while the latest run still raises it.
    """

    kind: str
    adgroup_id: str | None
    message: str
    first: date
    last: date
    cleared: date | None


def creative_names(adgroups: Sequence[AdGroup]) -> dict[str, str]:
    """Ad group id -> ``creator · concept · post …1234`` (short enough for a legend).

    The creator is left out when the concept already names them, the post (Spark only)
    is shown by its last four digits.
    """
    out = {}
    for g in adgroups:
        named = g.creator and not g.creator.isdigit()  # a dark post's creator is an id
        parts = [] if not named or g.creator.lower() in g.concept.lower() else [g.creator]
        parts += [g.concept] + ([f"post …{g.post_id[-4:]}"] if g.post_id else [])
        out[g.adgroup_id] = " · ".join(p for p in parts if p)
    return out


def history_from_store(
    store: StoreQueries,
    account: str,
    frame: tuple[str, str, float | None],
    records: tuple[Sequence[AdGroup], Sequence[Observation]],
    days: int = 30,
) -> JobHistory:
    """The account's runs of the last ``days`` planning days, from the job's store.

    Args:
        store: the open store.
        account: the account name.
        frame: ``(currency, objective, target)``.
        records: the ad groups (for names) and observations read from the platform.
        days: the window, in planning days before and including the latest.
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    runs = [
        RunSnapshot(
            run_id=r.id,
            as_of=date.fromisoformat(r.plan["as_of"]),
            started=r.started,
            outcome="unfinished" if r.outcome is None else str(r.outcome),
            dry_run=r.dry_run,
            plan=r.plan,
            changes=tuple(store.changes(r.id)),
        )
        for r in store.runs(account)
    ]
    return _windowed(account, frame, runs, records, days)


def history_from_plan(
    plan: Plan,
    frame: tuple[str, float | None],
    records: tuple[Sequence[AdGroup], Sequence[Observation]],
    days: int = 30,
) -> JobHistory:
    """The one-run history of a plan that no store holds (the ``files`` platform).

    ``frame`` is ``(objective, target)``.
    """
    run = RunSnapshot(0, plan.as_of, "", "planned", True, plan.to_json_dict())
    return _windowed(plan.account, (plan.currency, *frame), [run], records, days)


def _windowed(
    account: str,
    frame: tuple[str, str, float | None],
    runs: list[RunSnapshot],
    records: tuple[Sequence[AdGroup], Sequence[Observation]],
    days: int,
) -> JobHistory:
    adgroups, observations = records
    last = max((r.as_of for r in runs), default=max((o.date for o in observations), default=None))
    start = date.min if last is None else last - timedelta(days=days)
    currency, objective, target = frame
    planned = {row["adgroup_id"] for r in runs for row in r.plan["adgroups"]}
    if planned:  # delivery of ad groups the job does not manage is not its story
        observations = [o for o in observations if o.adgroup_id in planned]
    return JobHistory(
        account=account,
        currency=currency,
        objective=objective,
        target=target,
        names=creative_names(adgroups),
        runs=tuple(r for r in runs if r.as_of > start),
        observations=tuple(
            sorted((o for o in observations if start <= o.date), key=lambda o: o.date)
        ),
    )


def alert_spans(history: JobHistory) -> list[AlertSpan]:
    """Alerts raised over the window, each span of consecutive planning days once."""
    open_spans: dict[tuple[str, str | None], AlertSpan] = {}
    done: list[AlertSpan] = []
    for run in history.daily:
        raised = {(a["kind"], a["adgroup_id"]): a["message"] for a in run.plan["alerts"]}
        for key in [k for k in open_spans if k not in raised]:
            span = open_spans.pop(key)
            done.append(
                AlertSpan(
                    span.kind, span.adgroup_id, span.message, span.first, span.last, run.as_of
                )
            )
        for (kind, adgroup_id), message in raised.items():
            first = (
                open_spans[(kind, adgroup_id)].first if (kind, adgroup_id) in open_spans else None
            )
            open_spans[(kind, adgroup_id)] = AlertSpan(
                kind, adgroup_id, message, first or run.as_of, run.as_of, None
            )
    return sorted([*done, *open_spans.values()], key=lambda s: (s.first, s.kind))
