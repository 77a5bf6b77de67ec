"""The rebalancing reconciler: fetch, remember, plan, print, and with ``--apply`` apply.

:func:`run_rebalance` is ``allocator rebalance`` on an API platform (``sandbox`` or
``tiktok``). Like Terraform's plan/apply it computes the desired state, shows it, and
applies it only when asked, idempotently and with a record of everything:

1. read the ad groups and the observations of the ``lookback_days`` days before the
   planning day from the platform (:mod:`.client`); attach the stage memory and last
   large edits from the store (:mod:`.memory`); plan with
   :func:`~allocator.plan.make_plan`;
2. without ``apply``: record the plan as a dry run and print it; nothing changes;
3. with ``apply``: refuse when ``job.kill_switch`` is on; take the account lock (a second
   invocation exits 1 naming the holder); begin the period's run in the store (the same
   period with the same config and data again is a no-op; an interrupted run is resumed
   after re-reading the live state and settling its pending changes); refuse a plan that
   moves more than ``job.max_budget_moved``; re-read the live budgets and statuses and
   refuse when they differ from what the plan was computed from (unless allowed); then
   apply write-ahead in a safe order (:mod:`.apply`). The steps after planning are in
   :mod:`.reconcile`; logs go through :mod:`.logs`.

Exit codes: 0 ok or no-op, 1 failure or refusal, 2 bad config or data (raised as
:class:`~allocator.errors.ConfigError` / :class:`~allocator.errors.DataError` for the
command line to report), 3 partial apply. The access token comes from the environment
(or a file) and is never printed, logged or stored.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console

from allocator.config import JobConfig, SandboxPlatform, TikTokPlatform
from allocator.core.arms import AdGroup, Observation
from allocator.errors import ConfigError
from allocator.job.client import ClientTuning, fetch_records, load_job_token, make_client
from allocator.job.logs import route_logs
from allocator.job.memory import remember
from allocator.job.reconcile import ApplyContext, dispatch, hash_config, hash_inputs
from allocator.job.records import Cadence, ChangeState, period_key
from allocator.job.report import ApplyReport, markdown_report, render_apply, render_plan
from allocator.job.store import Store
from allocator.plan import Plan, make_plan

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "account_today",
    "plan_records",
    "run_rebalance",
]

EXIT_OK, EXIT_FAILURE, EXIT_PARTIAL = 0, 1, 3


def account_today(config: JobConfig) -> date:
    """Today's date in the account's time zone."""
    return datetime.now(ZoneInfo(config.account.timezone)).date()


def _exit_code(report: ApplyReport) -> int:
    if report.outcome in ("planned", "applied", "noop"):
        return EXIT_OK
    applied = any(c.state is ChangeState.APPLIED for c in report.changes)
    if report.outcome == "partial" or (report.outcome in ("interrupted", "failed") and applied):
        return EXIT_PARTIAL
    return EXIT_FAILURE


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
    platform = _api_platform(config, config_path)
    out = out or sys.stdout
    err = err or sys.stderr
    token = load_job_token(platform, environ, config_path)
    as_of, today = _planning_days(config, as_of, today)
    with route_logs(err, log_json, token), httpx.Client() as http:
        client = make_client(http, config, platform, token, tuning or ClientTuning())
        adgroups, observations = fetch_records(client, config, as_of)
        with Store.open(config.job.store, secrets=[token]) as store:
            remembered, plan = _plan(config, store, adgroups, observations, as_of, today)
            console = Console(file=out, width=160)
            if not as_json:
                render_plan(plan, console)
            ctx = ApplyContext(
                config=config,
                config_path=config_path,
                client=client,
                store=store,
                plan=plan,
                adgroups=remembered,
                period=period_key(as_of, Cadence(config.job.cadence)),
                config_hash=hash_config(config),
                inputs_hash=hash_inputs(adgroups, observations),
                allow_stale=allow_stale or config.job.allow_stale,
            )
            report = dispatch(ctx, apply, owner)
    return _print_outcome(config, plan, report, console, as_json, out, err)


def _api_platform(config: JobConfig, config_path: Path) -> SandboxPlatform | TikTokPlatform:
    """The config's API platform; the plan-only ``files`` platform is refused."""
    platform = config.platform
    if not isinstance(platform, SandboxPlatform | TikTokPlatform):
        raise ConfigError(
            "the 'files' platform is plan-only; run_rebalance needs 'sandbox' or 'tiktok'",
            path=config_path,
            key="platform.kind",
        )
    return platform


def _planning_days(config: JobConfig, as_of: date | None, today: date | None) -> tuple[date, date]:
    """``(as_of, today)`` with their defaults; a planning day after today is refused."""
    today = today or account_today(config)
    as_of = as_of or today
    if as_of > today:
        raise ConfigError(f"--as-of {as_of} is after today ({today}) in the account time zone")
    return as_of, today


def _plan(
    config: JobConfig,
    store: Store,
    adgroups: list[AdGroup],
    observations: list[Observation],
    as_of: date,
    today: date,
) -> tuple[list[AdGroup], Plan]:
    """The ad groups with the store's memory attached, and the plan made from them."""
    remembered = remember(
        store,
        config.account.name,
        adgroups,
        large_edit_fraction=config.guardrails.large_edit_fraction,
    )
    return remembered, plan_records(config, remembered, observations, as_of, today)


def _print_outcome(
    config: JobConfig,
    plan: Plan,
    report: ApplyReport,
    console: Console,
    as_json: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Print the result (JSON or tables), a failure line, the Markdown report; the exit code."""
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
