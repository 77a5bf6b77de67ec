"""The rebalancing reconciler: read, remember, plan, and with ``apply`` apply.

:func:`run_rebalance` is ``allocator rebalance`` on any platform. Like Terraform's
plan/apply it computes the desired state and applies it only when asked, idempotently and
with a record of everything; it returns a typed
:class:`~allocator.job.results.RebalanceResult` and prints nothing (the command line
renders it):

1. open the config's :class:`~allocator.platform.base.AdPlatform` (:mod:`.platforms`):
   the read-only ``files`` export, or the API of ``sandbox`` / ``tiktok`` with the access
   token from the environment (or a file); read the ad groups and the observations;
2. on the ``files`` platform: plan with :func:`~allocator.job.planning.plan_records`;
   nothing is recorded or applied;
3. on an API platform: attach the stage memory and last large edits from the store
   (:mod:`.memory`), plan with the step caps measured from the budgets at the start of
   the period (:mod:`.period`: retries and convergence runs never compound an edit),
   then record the plan as a dry run or, with ``apply``, refuse
   when ``job.kill_switch`` is on; take the account lock (a second invocation is refused
   naming the holder); begin the period's run in the store (the same period with the same
   config and data again is a no-op; an interrupted run is resumed after re-reading the
   live state and settling its pending changes); refuse a plan that moves more than
   ``job.max_budget_moved``; re-read the live budgets and statuses and refuse when they
   differ from what the plan was computed from (unless allowed); then apply write-ahead in
   a safe order (:mod:`.apply`). The steps after planning are in :mod:`.reconcile`; logs
   go through :mod:`.log_setup`.

The access token is never printed, logged or stored.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

from allocator.config import FilesPlatform, JobConfig
from allocator.core.arms import AdGroup, Observation
from allocator.errors import ConfigError
from allocator.job.breaker import breaker_reasons
from allocator.job.log_setup import route_logs
from allocator.job.memory import remember
from allocator.job.period import anchor, bound, period_start_budgets, relive
from allocator.job.planning import plan_records, planning_days
from allocator.job.platforms import (
    ClientTuning,
    fetch_records,
    load_job_token,
    make_client,
    open_files,
)
from allocator.job.reconcile import ApplyContext, dispatch, hash_config, hash_inputs
from allocator.job.records import Cadence, period_key
from allocator.job.results import RebalanceResult
from allocator.job.sanity import check_data_age
from allocator.job.store import Store
from allocator.platform.base import AdPlatform
from allocator.platform.tiktok import Secret
from allocator.reports.account import report_after_run

__all__ = ["RebalanceOptions", "run_rebalance"]


@dataclass(frozen=True, slots=True)
class RebalanceOptions:
    """How one rebalance runs (everything but the config).

    Attributes:
        as_of: the planning day (default: today in the account's time zone).
        apply: apply the plan (default: dry run).
        allow_stale: apply even when the live state differs from the plan's start
            (also ``job.allow_stale``).
        log_json: logs as JSON lines (INFO and up) on ``log_stream``; else warnings as text.
        today: the real current day in the account's time zone (default: the clock).
        log_stream: where logs go (default stderr).
        environ: environment holding the token (default ``os.environ``).
        tuning: client timeouts and retries (default: the client's).
        owner: lock owner name shown to a refused concurrent run (default ``pid N@host``).
        allow_stale_data: plan even when the newest observation is older than
            ``job.max_data_age_days`` (``--allow-stale-data``).
        force: apply a plan the circuit breaker holds back (``--force``).
    """

    as_of: date | None = None
    apply: bool = False
    allow_stale: bool = False
    log_json: bool = False
    today: date | None = None
    log_stream: TextIO | None = None
    environ: Mapping[str, str] | None = None
    tuning: ClientTuning | None = None
    owner: str | None = None
    allow_stale_data: bool = False
    force: bool = False


@dataclass(frozen=True, slots=True)
class _Opened:
    """The platform a run reads and writes, and the token to keep out of logs and store."""

    platform: AdPlatform
    token: Secret | None


def run_rebalance(
    config: JobConfig, config_path: Path, options: RebalanceOptions | None = None
) -> RebalanceResult:
    """Plan the budgets for ``options.as_of``; with ``options.apply``, apply them.

    Args:
        config: the validated job config.
        config_path: the config file (named in messages).
        options: the run's options (default: a dry run planning today).

    Returns:
        The plan, what was done with it (``None`` on the read-only ``files`` platform) and
        the outcome.

    Raises:
        ConfigError: ``apply`` on the ``files`` platform, the token is missing, ``as_of``
            is after today, or the platform refuses to manage an ad group (exit 2).
        DataError: the platform's data is invalid or implausible (exit 2).
        StaleDataError: the newest observation is older than ``job.max_data_age_days``
            and ``options.allow_stale_data`` is off (exit 1); nothing is planned.
        ApiError: the platform failed while reading (exit 1).
    """
    options = options or RebalanceOptions()
    if options.apply and isinstance(config.platform, FilesPlatform):
        raise ConfigError(
            "the 'files' platform is plan-only: --apply needs platform.kind 'sandbox' or 'tiktok'",
            path=config_path,
            key="platform.kind",
        )
    as_of, today = planning_days(config, options.as_of, options.today)
    with _open_platform(config, config_path, options, today) as opened:
        adgroups, observations = fetch_records(opened.platform, config, as_of, today)
        if not options.allow_stale_data:
            check_data_age(observations, as_of, config.job.max_data_age_days, config_path)
        records = (adgroups, observations)
        if opened.token is None:
            plan = plan_records(config, *records, as_of, today)
            result = RebalanceResult.of(plan, None, breaker_reasons(plan, config.job))
        else:
            result = _reconcile(config, config_path, options, opened, (as_of, today), records)
        report_after_run(config, result.plan, records)  # [job] report_html, logs routed
    return result


@contextlib.contextmanager
def _open_platform(
    config: JobConfig, config_path: Path, options: RebalanceOptions, today: date
) -> Iterator[_Opened]:
    """The config's platform, open for the run, with the run's logs routed."""
    platform = config.platform
    stream = options.log_stream or sys.stderr
    if isinstance(platform, FilesPlatform):
        with route_logs(stream, options.log_json, None):
            yield _Opened(open_files(config, platform, today), None)
        return
    import httpx

    token = load_job_token(platform, options.environ, config_path)
    with route_logs(stream, options.log_json, token), httpx.Client() as http:
        tuning = options.tuning or ClientTuning()
        yield _Opened(make_client(http, config, platform, token, tuning), token)


def _reconcile(
    config: JobConfig,
    config_path: Path,
    options: RebalanceOptions,
    opened: _Opened,
    days: tuple[date, date],
    records: tuple[list[AdGroup], list[Observation]],
) -> RebalanceResult:
    """Plan with the store's memory, then record a dry run or apply (:mod:`.reconcile`).

    ``days`` is ``(as_of, today)``; ``records`` the ad groups and observations read.
    """
    (as_of, today), (adgroups, observations) = days, records
    secrets = [] if opened.token is None else [opened.token]
    with Store.open(config.job.store, secrets=secrets) as store:
        remembered = remember(
            store,
            config.account.name,
            adgroups,
            large_edit_fraction=config.guardrails.large_edit_fraction,
        )
        cadence = Cadence(config.job.cadence)
        period = period_key(as_of, cadence)
        start = period_start_budgets(store, config.account.name, period)
        anchored = anchor(remembered, start, period, cadence)
        planned = plan_records(config, anchored, observations, as_of, today)
        lift = config.sampling.step_cap_on_shortfall != "hold"
        planned = bound(planned, start, remembered, config.guardrails, lift_up=lift)
        plan = relive(planned, remembered)
        ctx = ApplyContext(
            config=config,
            config_path=config_path,
            platform=opened.platform,
            store=store,
            plan=plan,
            adgroups=remembered,
            period=period,
            config_hash=hash_config(config),
            inputs_hash=hash_inputs(adgroups, observations),
            allow_stale=options.allow_stale or config.job.allow_stale,
            force=options.force,
        )
        report = dispatch(ctx, options.apply, options.owner)
    return RebalanceResult.of(plan, report, breaker_reasons(plan, config.job))
