"""Reconciling the platform with a plan: a recorded dry run, or an apply under the lock.

:func:`dispatch` records a dry run, or with ``apply`` refuses when ``job.kill_switch`` is
on, takes the account lock and runs the store's protocol: close runs of earlier periods
left open; begin the period's run (the same config and data again is a no-op, an open
run is resumed after settling its pending changes against the live state); refuse a new
plan that moves more than ``job.max_budget_moved``, or that the circuit breaker holds
back (:mod:`.breaker`) unless forced, and any plan whose starting state no
longer matches the live one (unless stale state is allowed); then apply write-ahead
(:mod:`.apply`), raise an alert per failed change, and finish the run with the outcome
its changes allow. Budgets are currency per day.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from allocator.config import JobConfig
from allocator.core.arms import AdGroup, Observation
from allocator.errors import StateError
from allocator.job.apply import (
    LiveState,
    apply_pending,
    budget_moved,
    live_state,
    pending_differences,
    plan_differences,
)
from allocator.job.breaker import breaker_reasons
from allocator.job.records import Change, ChangeState, Disposition, Outcome, Run
from allocator.job.results import ApplyReport
from allocator.job.store import Store
from allocator.plans import Plan
from allocator.platform.base import AdPlatform

__all__ = ["ApplyContext", "dispatch", "hash_config", "hash_inputs"]

log = logging.getLogger("allocator.job")


def hash_config(config: JobConfig) -> str:
    """Hash of the config without its ``[job]`` table (what changes the plan)."""
    text = config.model_dump_json(exclude={"job"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def hash_inputs(adgroups: list[AdGroup], observations: list[Observation]) -> str:
    """Hash of what is *new* between runs: the data and the ad groups' identity, not budgets."""
    digest = hashlib.sha256()
    for g in sorted(adgroups, key=lambda g: g.adgroup_id):
        digest.update(repr((g.adgroup_id, g.kind, g.creator, g.post_id, g.authorization)).encode())
    for o in sorted(observations, key=lambda o: (o.date, o.adgroup_id)):
        digest.update(repr(o).encode())
    return digest.hexdigest()[:16]


@dataclass(slots=True)
class ApplyContext:
    """Everything one invocation reconciles with.

    Attributes:
        config: the validated job config.
        config_path: the config file (named in messages).
        platform: the platform the plan is applied through.
        store: the open job store.
        plan: the plan for the period.
        adgroups: the ad groups as planned (with the stage memory attached).
        period: the period key (:func:`~allocator.job.records.period_key`).
        config_hash: :func:`hash_config` of the config.
        inputs_hash: :func:`hash_inputs` of the records read.
        allow_stale: apply even when the live state differs from the plan's start.
        force: apply even when the circuit breaker holds the plan back.
    """

    config: JobConfig
    config_path: Path
    platform: AdPlatform
    store: Store
    plan: Plan
    adgroups: list[AdGroup]
    period: str
    config_hash: str
    inputs_hash: str
    allow_stale: bool
    force: bool = False


# ------------------------------------------------------------------ reports


def _report(ctx: ApplyContext, run: Run, outcome: str, message: str) -> ApplyReport:
    return ApplyReport(
        mode="apply",
        outcome=outcome,
        message=message,
        store_run_id=run.id,
        disposition=str(run.disposition),
        changes=tuple(ctx.store.changes(run.id)),
        budget_moved=budget_moved(ctx.plan),
    )


def _refuse(ctx: ApplyContext, run: Run, kind: str, message: str) -> ApplyReport:
    ctx.store.add_alert(run.id, kind, None, message)
    ctx.store.finish_run(run.id, Outcome.FAILED)
    return _report(ctx, run, "refused", message)


def _refuse_over_cap(ctx: ApplyContext, run: Run) -> ApplyReport | None:
    """Refuse a plan that moves more than ``job.max_budget_moved``; ``None`` when within."""
    cap = ctx.config.job.max_budget_moved
    moved = budget_moved(ctx.plan)
    if cap is not None and moved > cap:
        return _refuse(
            ctx,
            run,
            "budget_cap",
            f"the plan moves {moved:,.2f} {ctx.plan.currency}/day, above "
            f"job.max_budget_moved = {cap:,.2f} in {ctx.config_path}: nothing applied",
        )
    return None


def _refuse_breaker(ctx: ApplyContext, run: Run) -> ApplyReport | None:
    """Refuse a drastic plan (:mod:`.breaker`) unless forced; ``None`` when it may go."""
    reasons = breaker_reasons(ctx.plan, ctx.config.job)
    if not reasons or ctx.force:
        return None
    return _refuse(
        ctx,
        run,
        "circuit_breaker",
        "circuit breaker: "
        + "; ".join(reasons)
        + ": nothing applied; review the plan, then pass --force to apply it",
    )


def _refuse_stale(ctx: ApplyContext, run: Run, differences: list[str]) -> ApplyReport:
    return _refuse(
        ctx,
        run,
        "stale_state",
        "the live state changed since the plan was computed (edited in Ads Manager?): "
        + "; ".join(differences)
        + ": nothing applied; re-run to plan from the new state, or pass --allow-stale",
    )


# ------------------------------------------------------------------ the run's life


def _close_earlier_open_runs(ctx: ApplyContext) -> None:
    """Settle and close runs of earlier periods left open (their plans are outdated)."""
    account = ctx.config.account.name
    stale = [
        r
        for r in ctx.store.runs(account)
        if r.finished is None and not r.dry_run and r.period != ctx.period
    ]
    if not stale:
        return
    live = live_state(ctx.platform.list_adgroups())
    for run in stale:
        ctx.store.settle_pending(run.id, live)
        ctx.store.finish_run(run.id, Outcome.INTERRUPTED)
        log.warning("closed store run %d of period %s: interrupted", run.id, run.period)


def _begin(ctx: ApplyContext) -> Run:
    account = ctx.config.account.name
    plan = ctx.plan
    run = ctx.store.begin_run(
        account, ctx.period, ctx.config_hash, plan, inputs_hash=ctx.inputs_hash
    )
    if run.disposition is Disposition.RESUMED and run.config_hash != ctx.config_hash:
        live = live_state(ctx.platform.list_adgroups())
        ctx.store.settle_pending(run.id, live)
        ctx.store.finish_run(run.id, Outcome.INTERRUPTED)
        log.warning("config changed since store run %d: closed it, planning afresh", run.id)
        run = ctx.store.begin_run(
            account, ctx.period, ctx.config_hash, plan, inputs_hash=ctx.inputs_hash
        )
    return run


def _settle(ctx: ApplyContext, run: Run, live: LiveState) -> list[Change]:
    """Settle a resumed run's pending changes against ``live``; the ones still to send."""
    settled = ctx.store.settle_pending(run.id, live)
    pending = list(settled.pending)
    log.info(
        "resuming store run %d: %d change(s) found applied, %d still pending",
        run.id,
        len(settled.applied),
        len(pending),
    )
    return pending


def _outcome(ctx: ApplyContext, run: Run, stop_reason: str | None) -> tuple[Outcome, str]:
    changes = ctx.store.changes(run.id)
    n_applied = sum(c.state is ChangeState.APPLIED for c in changes)
    n_failed = sum(c.state is ChangeState.FAILED for c in changes)
    if n_failed == 0 and stop_reason is None:
        if not changes:
            return Outcome.NOOP, "the live state already matches the plan: nothing to change"
        return Outcome.APPLIED, f"{n_applied} change(s) applied"
    failed = "; ".join(
        f"{c.adgroup_id} {c.kind} -> {c.to_value}: {c.error}"
        for c in changes
        if c.state is ChangeState.FAILED
    )
    message = f"{n_applied} change(s) applied, {n_failed} failed: {failed}"
    if stop_reason is not None:
        # Unsent changes stay pending until finish_run(FAILED) marks them skipped.
        return Outcome.FAILED, f"{message}; {stop_reason}"
    return (Outcome.PARTIAL if n_applied else Outcome.FAILED), message


def _alert_failures(ctx: ApplyContext, run: Run) -> None:
    """Raise an ``apply_failed`` alert for each of the run's failed changes."""
    for change in ctx.store.changes(run.id):
        if change.state is ChangeState.FAILED:
            ctx.store.add_alert(run.id, "apply_failed", change.adgroup_id, change.error or "")


def _send_and_finish(ctx: ApplyContext, run: Run, pending: list[Change]) -> ApplyReport:
    """Apply ``pending``, then finish the run (or leave it open when outcomes are unknown)."""
    stop = apply_pending(ctx.store, ctx.platform, pending)
    if stop is not None and stop.open_run:
        _alert_failures(ctx, run)
        return _report(ctx, run, "interrupted", f"store run {run.id} left open: {stop.reason}")
    outcome, message = _outcome(ctx, run, None if stop is None else stop.reason)
    _alert_failures(ctx, run)
    ctx.store.finish_run(run.id, outcome)
    if run.disposition is Disposition.RESUMED:
        message = f"resumed store run {run.id}: {message}"
    return _report(ctx, run, outcome.value, message)


def _apply(ctx: ApplyContext) -> ApplyReport:
    _close_earlier_open_runs(ctx)
    run = _begin(ctx)
    if run.is_noop:
        return _report(
            ctx,
            run,
            "noop",
            f"period {run.period} was already applied by store run {run.id} with the same "
            "config and data: nothing to do",
        )
    live = live_state(ctx.platform.list_adgroups())
    if run.disposition is Disposition.RESUMED:
        pending = _settle(ctx, run, live)
        differences = pending_differences(pending, live)
    else:
        pending = list(run.pending)
        refused = _refuse_over_cap(ctx, run) or _refuse_breaker(ctx, run)
        if refused is not None:
            return refused
        differences = plan_differences(ctx.plan, live)
    if differences and not ctx.allow_stale:
        return _refuse_stale(ctx, run, differences)
    return _send_and_finish(ctx, run, pending)


# ------------------------------------------------------------------ entry


def _with_post(ctx: ApplyContext) -> list[AdGroup]:
    """The ad groups that run a Spark post (their authorization is recorded)."""
    return [g for g in ctx.adgroups if g.post_id]


def _dry_run(ctx: ApplyContext) -> ApplyReport:
    run = ctx.store.begin_run(
        ctx.config.account.name, ctx.period, ctx.config_hash, ctx.plan, dry_run=True
    )
    ctx.store.record_authorizations(run.id, _with_post(ctx))
    return ApplyReport(
        mode="dry-run",
        outcome="planned",
        message="dry run: nothing changed on the platform (pass --apply to apply)",
        store_run_id=run.id,
        disposition=str(run.disposition),
        budget_moved=budget_moved(ctx.plan),
    )


def _apply_locked(ctx: ApplyContext, owner: str | None) -> ApplyReport:
    """Apply under the account lock; a lock held elsewhere refuses the run."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(ctx.store.lock(ctx.config.account.name, owner=owner))
        except StateError as exc:
            return ApplyReport(
                mode="apply", outcome="refused", message=f"{exc}: nothing applied by this run"
            )
        report = _apply(ctx)
        if report.store_run_id is not None and report.disposition != str(Disposition.NOOP):
            ctx.store.record_authorizations(report.store_run_id, _with_post(ctx))
        return report


def dispatch(ctx: ApplyContext, apply: bool, owner: str | None) -> ApplyReport:
    """Record a dry run, or with ``apply`` apply the plan (unless the kill switch is on).

    Args:
        ctx: the invocation's config, platform, store and plan.
        apply: apply the plan (else record it as a dry run).
        owner: lock owner name shown to a refused concurrent run (default ``pid N@host``).

    Returns:
        What happened, for the report.
    """
    if not apply:
        return _dry_run(ctx)
    if ctx.config.job.kill_switch:
        return ApplyReport(
            mode="apply",
            outcome="refused",
            message=f"the kill switch is on (job.kill_switch in {ctx.config_path}): "
            "nothing applied",
            budget_moved=budget_moved(ctx.plan),
        )
    return _apply_locked(ctx, owner)
