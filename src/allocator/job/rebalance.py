"""The rebalancing reconciler: fetch, remember, plan, print, and with ``--apply`` apply.

:func:`run_rebalance` is ``allocator rebalance`` on an API platform (``sandbox`` or
``tiktok``). Like Terraform's plan/apply it computes the desired state, shows it, and
applies it only when asked, idempotently and with a record of everything:

1. read the ad groups and the observations of the ``lookback_days`` days before the
   planning day from the platform; attach the stage memory and last large edits from
   the store (:mod:`.memory`); plan with :func:`~allocator.plan.make_plan`;
2. without ``apply``: record the plan as a dry run and print it; nothing changes;
3. with ``apply``: refuse when ``job.kill_switch`` is on; take the account lock (a second
   invocation exits 1 naming the holder); begin the period's run in the store (the same
   period with the same config and data again is a no-op; an interrupted run is resumed
   after re-reading the live state and settling its pending changes); refuse a plan that
   moves more than ``job.max_budget_moved``; re-read the live budgets and statuses and
   refuse when they differ from what the plan was computed from (unless allowed); then
   apply write-ahead in a safe order (:mod:`.apply`).

Exit codes: 0 ok or no-op, 1 failure or refusal, 2 bad config or data (raised as
:class:`~allocator.errors.ConfigError` / :class:`~allocator.errors.DataError` for the
command line to report), 3 partial apply. The access token comes from the environment
(or a file) and is never printed, logged or stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console

from allocator.config import JobConfig, SandboxPlatform, TikTokPlatform
from allocator.core.arms import AdGroup, AdGroupStatus, Observation
from allocator.errors import ConfigError, StateError
from allocator.job.apply import (
    apply_pending,
    budget_moved,
    live_state,
    pending_differences,
    plan_differences,
)
from allocator.job.memory import remember
from allocator.job.records import Cadence, ChangeState, Disposition, Outcome, Run, period_key
from allocator.job.report import ApplyReport, markdown_report, render_apply, render_plan
from allocator.job.store import Store
from allocator.plan import Plan, make_plan
from allocator.platform.tiktok import RetryPolicy, Secret, TikTokClient, TikTokConfig, load_token

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "ClientTuning",
    "account_today",
    "plan_records",
    "run_rebalance",
]

EXIT_OK, EXIT_FAILURE, EXIT_PARTIAL = 0, 1, 3

log = logging.getLogger("allocator.job")


@dataclass(frozen=True, slots=True)
class ClientTuning:
    """Overrides of the API client's timeouts and retries (tests, the local demo).

    Attributes:
        timeout: HTTP timeout, seconds (``None``: the client's defaults).
        read_retry: retry policy of reads.
        write_retry: retry policy of writes.
        sleep: how retries wait, seconds (``time.sleep``).
    """

    timeout: float | None = None
    read_retry: RetryPolicy | None = None
    write_retry: RetryPolicy | None = None
    sleep: Callable[[float], None] = time.sleep


def account_today(config: JobConfig) -> date:
    """Today's date in the account's time zone."""
    return datetime.now(ZoneInfo(config.account.timezone)).date()


# ------------------------------------------------------------------------ logging


class _JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message (token scrubbed)."""

    def __init__(self, secret: Secret) -> None:
        super().__init__()
        self._secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": self._secret.scrub(record.getMessage()),
            }
        )


class _Plain(logging.Formatter):
    def __init__(self, secret: Secret) -> None:
        super().__init__("allocator: %(levelname)s: %(message)s")
        self._secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return self._secret.scrub(super().format(record))


@contextlib.contextmanager
def _logging(stream: TextIO, as_json: bool, secret: Secret) -> Iterator[None]:
    """Route ``allocator`` logs to ``stream`` for the run (JSON lines at INFO on request)."""
    logger = logging.getLogger("allocator")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonLines(secret) if as_json else _Plain(secret))
    handler.setLevel(logging.INFO if as_json else logging.WARNING)
    old_level = logger.level
    logger.addHandler(handler)
    if as_json and logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# ------------------------------------------------------------------------ inputs


def _token(
    platform: SandboxPlatform | TikTokPlatform,
    environ: Mapping[str, str] | None,
    config_path: Path | None = None,
) -> Secret:
    """The access token named by the config; a missing one names the file and key."""
    file = platform.token_file if isinstance(platform, TikTokPlatform) else None
    try:
        return load_token(platform.token_env, file=file, environ=environ)
    except ConfigError as exc:
        key = "platform.token_file" if file is not None else "platform.token_env"
        raise ConfigError(exc.reason, path=config_path, key=key) from None


def _client(
    http: httpx.Client,
    config: JobConfig,
    platform: SandboxPlatform | TikTokPlatform,
    token: Secret,
    tuning: ClientTuning,
) -> TikTokClient:
    settings = TikTokConfig(
        advertiser_id=platform.advertiser_id,
        base_url=platform.base_url,
        min_budget=config.guardrails.platform_min_budget,
    )
    if tuning.timeout is not None:
        settings = replace(settings, timeout=httpx.Timeout(tuning.timeout))
    if tuning.read_retry is not None:
        settings = replace(settings, read_retry=tuning.read_retry)
    if tuning.write_retry is not None:
        settings = replace(settings, write_retry=tuning.write_retry)
    return TikTokClient(http, settings, token, sleep=tuning.sleep)


def _config_hash(config: JobConfig) -> str:
    text = config.model_dump_json(exclude={"job"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _inputs_hash(adgroups: list[AdGroup], observations: list[Observation]) -> str:
    """Hash of what is *new* between runs: the data and the ad groups' identity, not budgets."""
    digest = hashlib.sha256()
    for g in sorted(adgroups, key=lambda g: g.adgroup_id):
        digest.update(repr((g.adgroup_id, g.kind, g.creator, g.post_id, g.authorization)).encode())
    for o in sorted(observations, key=lambda o: (o.date, o.adgroup_id)):
        digest.update(repr(o).encode())
    return digest.hexdigest()[:16]


def _store_plan(plan: Plan) -> dict[str, object]:
    """The plan JSON the store records: a disabled ad group's budget is left as it is."""
    data = plan.to_json_dict()
    data["adgroups"] = [
        {**row, "to_budget": row["from_budget"]}
        if row["to_status"] == AdGroupStatus.DISABLE
        else row
        for row in data["adgroups"]
    ]
    return data


# ------------------------------------------------------------------------ apply


@dataclass(slots=True)
class _Context:
    config: JobConfig
    config_path: Path
    client: TikTokClient
    store: Store
    plan: Plan
    adgroups: list[AdGroup]
    period: str
    config_hash: str
    inputs_hash: str
    allow_stale: bool


def _report(ctx: _Context, run: Run, outcome: str, message: str) -> ApplyReport:
    return ApplyReport(
        mode="apply",
        outcome=outcome,
        message=message,
        store_run_id=run.id,
        disposition=str(run.disposition),
        changes=tuple(ctx.store.changes(run.id)),
        budget_moved=budget_moved(ctx.plan),
    )


def _refuse(ctx: _Context, run: Run, kind: str, message: str) -> ApplyReport:
    ctx.store.add_alert(run.id, kind, None, message)
    ctx.store.finish_run(run.id, Outcome.FAILED)
    return _report(ctx, run, "refused", message)


def _close_earlier_open_runs(ctx: _Context) -> None:
    """Settle and close runs of earlier periods left open (their plans are outdated)."""
    account = ctx.config.account.name
    stale = [
        r
        for r in ctx.store.runs(account)
        if r.finished is None and not r.dry_run and r.period != ctx.period
    ]
    if not stale:
        return
    live = live_state(ctx.client.list_adgroups())
    for run in stale:
        ctx.store.settle_pending(run.id, live)
        ctx.store.finish_run(run.id, Outcome.INTERRUPTED)
        log.warning("closed store run %d of period %s: interrupted", run.id, run.period)


def _begin(ctx: _Context) -> Run:
    account = ctx.config.account.name
    plan = _store_plan(ctx.plan)
    run = ctx.store.begin_run(
        account, ctx.period, ctx.config_hash, plan, inputs_hash=ctx.inputs_hash
    )
    if run.disposition is Disposition.RESUMED and run.config_hash != ctx.config_hash:
        live = live_state(ctx.client.list_adgroups())
        ctx.store.settle_pending(run.id, live)
        ctx.store.finish_run(run.id, Outcome.INTERRUPTED)
        log.warning("config changed since store run %d: closed it, planning afresh", run.id)
        run = ctx.store.begin_run(
            account, ctx.period, ctx.config_hash, plan, inputs_hash=ctx.inputs_hash
        )
    return run


def _outcome(ctx: _Context, run: Run, stop_reason: str | None) -> tuple[Outcome, str]:
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


def _apply(ctx: _Context) -> ApplyReport:
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
    live = live_state(ctx.client.list_adgroups())
    if run.disposition is Disposition.RESUMED:
        settled = ctx.store.settle_pending(run.id, live)
        pending = list(settled.pending)
        log.info(
            "resuming store run %d: %d change(s) found applied, %d still pending",
            run.id,
            len(settled.applied),
            len(pending),
        )
        differences = pending_differences(pending, live)
    else:
        pending = list(run.pending)
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
        differences = plan_differences(ctx.plan, live)
    if differences and not ctx.allow_stale:
        return _refuse(
            ctx,
            run,
            "stale_state",
            "the live state changed since the plan was computed (edited in Ads Manager?): "
            + "; ".join(differences)
            + ": nothing applied; re-run to plan from the new state, or pass --allow-stale",
        )
    stop = apply_pending(ctx.store, ctx.client, pending)
    if stop is not None and stop.open_run:
        for change in ctx.store.changes(run.id):
            if change.state is ChangeState.FAILED:
                ctx.store.add_alert(run.id, "apply_failed", change.adgroup_id, change.error or "")
        return _report(ctx, run, "interrupted", f"store run {run.id} left open: {stop.reason}")
    outcome, message = _outcome(ctx, run, None if stop is None else stop.reason)
    for change in ctx.store.changes(run.id):
        if change.state is ChangeState.FAILED:
            ctx.store.add_alert(run.id, "apply_failed", change.adgroup_id, change.error or "")
    ctx.store.finish_run(run.id, outcome)
    if run.disposition is Disposition.RESUMED:
        message = f"resumed store run {run.id}: {message}"
    return _report(ctx, run, outcome.value, message)


def _exit_code(report: ApplyReport) -> int:
    if report.outcome in ("planned", "applied", "noop"):
        return EXIT_OK
    applied = any(c.state is ChangeState.APPLIED for c in report.changes)
    if report.outcome == "partial" or (report.outcome in ("interrupted", "failed") and applied):
        return EXIT_PARTIAL
    return EXIT_FAILURE


# ------------------------------------------------------------------------ entry point


def _fetch(
    client: TikTokClient, config: JobConfig, as_of: date
) -> tuple[list[AdGroup], list[Observation]]:
    adgroups = client.list_adgroups()
    start = as_of - timedelta(days=config.engine.lookback_days)
    observations = client.fetch_observations(start, as_of - timedelta(days=1))
    known = {g.adgroup_id for g in adgroups}
    return adgroups, [o for o in observations if o.adgroup_id in known]


def plan_records(
    config: JobConfig,
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    as_of: date,
    today: date,
) -> Plan:
    """Plan ``as_of`` from validated records with the config's account and engine settings."""
    return make_plan(
        adgroups,
        observations,
        config.portfolio(),
        account=config.account.name,
        as_of=as_of,
        today=today,
        params=config.engine_params(),
        seed=config.engine.seed,
        timezone=config.account.timezone,
        lookback_days=config.engine.lookback_days,
    )


def _dispatch(ctx: _Context, apply: bool, owner: str | None) -> ApplyReport:
    account = ctx.config.account.name
    if not apply:
        run = ctx.store.begin_run(
            account, ctx.period, ctx.config_hash, _store_plan(ctx.plan), dry_run=True
        )
        ctx.store.record_authorizations(run.id, [g for g in ctx.adgroups if g.post_id])
        return ApplyReport(
            mode="dry-run",
            outcome="planned",
            message="dry run: nothing changed on the platform (pass --apply to apply)",
            store_run_id=run.id,
            disposition=str(run.disposition),
            budget_moved=budget_moved(ctx.plan),
        )
    if ctx.config.job.kill_switch:
        return ApplyReport(
            mode="apply",
            outcome="refused",
            message=f"the kill switch is on (job.kill_switch in {ctx.config_path}): "
            "nothing applied",
            budget_moved=budget_moved(ctx.plan),
        )
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(ctx.store.lock(account, owner=owner))
        except StateError as exc:
            return ApplyReport(
                mode="apply", outcome="refused", message=f"{exc}: nothing applied by this run"
            )
        report = _apply(ctx)
        if report.store_run_id is not None and report.disposition != str(Disposition.NOOP):
            ctx.store.record_authorizations(
                report.store_run_id, [g for g in ctx.adgroups if g.post_id]
            )
        return report


def run_rebalance(
    config: JobConfig,
    config_path: Path,
    *,
    as_of: date | None = None,
    apply: bool = False,
    as_json: bool = False,
    allow_stale: bool = False,
    log_json: bool = False,
    today: date | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    tuning: ClientTuning | None = None,
    owner: str | None = None,
) -> int:
    """Plan the budgets for ``as_of`` on an API platform; with ``apply``, apply them.

    Args:
        config: the validated job config (``platform.kind`` ``sandbox`` or ``tiktok``).
        config_path: the config file (named in messages).
        as_of: the planning day (default: today in the account's time zone).
        apply: apply the plan (default: dry run).
        as_json: print the plan JSON with an ``apply`` object instead of tables.
        allow_stale: apply even when the live state differs from the plan's start
            (also ``job.allow_stale``).
        log_json: logs as JSON lines (INFO and up) on ``err``; else warnings as text.
        today: the real current day in the account's time zone (default: the clock).
        out: where the plan and results go (default stdout).
        err: where logs and refusals go (default stderr).
        environ: environment holding the token (default ``os.environ``).
        tuning: client timeouts and retries (default: the client's).
        owner: lock owner name shown to a refused concurrent run (default ``pid N@host``).

    Returns:
        The exit code: 0 ok / no-op / dry run, 1 failure or refusal, 3 partial apply.

    Raises:
        ConfigError: the platform is ``files``, the token is missing, ``as_of`` is after
            today, or the platform refuses to manage an ad group (exit 2).
        DataError: the platform's data is invalid (exit 2).
        ApiError: the platform failed while reading (exit 1).
    """
    platform = config.platform
    if not isinstance(platform, SandboxPlatform | TikTokPlatform):
        raise ConfigError(
            "the 'files' platform is plan-only; run_rebalance needs 'sandbox' or 'tiktok'",
            path=config_path,
            key="platform.kind",
        )
    out = out or sys.stdout
    err = err or sys.stderr
    token = _token(platform, environ, config_path)
    today = today or account_today(config)
    as_of = as_of or today
    if as_of > today:
        raise ConfigError(f"--as-of {as_of} is after today ({today}) in the account time zone")
    with _logging(err, log_json, token), httpx.Client() as http:
        client = _client(http, config, platform, token, tuning or ClientTuning())
        adgroups, observations = _fetch(client, config, as_of)
        with Store.open(config.job.store, secrets=[token]) as store:
            remembered = remember(
                store,
                config.account.name,
                adgroups,
                large_edit_fraction=config.guardrails.large_edit_fraction,
            )
            plan = plan_records(config, remembered, observations, as_of, today)
            console = Console(file=out, width=160)
            if not as_json:
                render_plan(plan, console)
            ctx = _Context(
                config=config,
                config_path=config_path,
                client=client,
                store=store,
                plan=plan,
                adgroups=remembered,
                period=period_key(as_of, Cadence(config.job.cadence)),
                config_hash=_config_hash(config),
                inputs_hash=_inputs_hash(adgroups, observations),
                allow_stale=allow_stale or config.job.allow_stale,
            )
            report = _dispatch(ctx, apply, owner)
    code = _exit_code(report)
    if as_json:
        out.write(json.dumps({**plan.to_json_dict(), "apply": report.to_json_dict()}, indent=2))
        out.write("\n")
    else:
        render_apply(report, console)
    if code != EXIT_OK:
        print(f"allocator: {report.outcome}: {report.message}", file=err)
    if config.job.report_md is not None:
        markdown_report(plan, report, config.job.report_md)
    return code
