"""The account report from a job config: after each run (``[job] report_html``) or on demand.

* :func:`report_after_run`: called by the job with the plan and the records it read; on
  an API platform the history comes from the job's store, on the read-only ``files``
  platform (no store) from the plan alone.
* :func:`report_for_config`: ``allocator report --config job.toml``; reads the ad groups
  and delivery from the config's platform (the token from the environment, never
  printed), then builds the same page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

from allocator.config import FilesPlatform, JobConfig
from allocator.core.arms import AdGroup, Observation
from allocator.plans import Plan
from allocator.reports.history import JobHistory, history_from_plan, history_from_store

__all__ = ["account_history", "report_after_run", "report_for_config"]

_log = logging.getLogger(__name__)

Records = tuple[Sequence[AdGroup], Sequence[Observation]]


def _frame(config: JobConfig) -> tuple[str, float | None]:
    objective = str(config.account.objective.value)
    target = config.account.target_cpa if objective == "cpa" else config.account.target_roas
    return objective, target


def account_history(
    config: JobConfig, plan: Plan | None, records: Records, days: int
) -> JobHistory:
    """The history the report shows: the store's runs, or ``plan`` alone on ``files``.

    Raises:
        ValueError: the ``files`` platform and no plan.
    """
    if isinstance(config.platform, FilesPlatform):
        if plan is None:
            raise ValueError("the 'files' platform keeps no store: a plan is needed")
        return history_from_plan(plan, _frame(config), records, days)
    from allocator.job.store import Store

    with Store.open(config.job.store) as store:
        frame = (config.account.currency, *_frame(config))
        return history_from_store(store, config.account.name, frame, records, days)


def report_after_run(config: JobConfig, plan: Plan, records: Records, days: int = 30) -> None:
    """Write ``[job] report_html`` (when set) for the run that planned ``plan``.

    The run is done and recorded by then: a report that cannot be written (a full disk,
    a missing permission) is logged as a warning and does not change the run's outcome.
    """
    path = config.job.report_html
    if path is None:
        return
    from allocator.reports.job_report import write_job_report

    try:
        write_job_report(account_history(config, plan, records, days), path)
    except OSError as exc:
        _log.warning("could not write the HTML report %s: %s", path, exc.strerror or exc)


def report_for_config(
    config: JobConfig,
    config_path: Path,
    out: Path,
    *,
    days: int = 30,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Write the account report of ``config`` to ``out``; the path.

    Raises:
        ConfigError: the token is missing.
        ApiError: the platform failed while reading.
        DataError: the files platform's data is invalid.
        ValueError: the store holds no run of the account.
    """
    from allocator.job.planning import plan_records, planning_days
    from allocator.job.platforms import fetch_records
    from allocator.reports.job_report import write_job_report

    as_of, today = planning_days(config, None, None)
    platform = config.platform
    if isinstance(platform, FilesPlatform):
        from allocator.job.platforms import open_files

        adgroups, observations = fetch_records(
            open_files(config, platform, today), config, as_of, today
        )
        plan = plan_records(config, adgroups, observations, as_of, today)
        return write_job_report(account_history(config, plan, (adgroups, observations), days), out)
    records = _api_records(config, config_path, (today, days), environ)
    return write_job_report(account_history(config, None, records, days), out)


def _api_records(
    config: JobConfig,
    config_path: Path,
    window: tuple[date, int],
    environ: Mapping[str, str] | None,
) -> Records:
    """The ad groups and the last ``days`` days of delivery, read from the API platform."""
    import httpx

    from allocator.config import SandboxPlatform, TikTokPlatform
    from allocator.job.platforms import ClientTuning, load_job_token, make_client

    platform = config.platform
    assert isinstance(platform, SandboxPlatform | TikTokPlatform)
    today, days = window
    token = load_job_token(platform, environ, config_path)
    with httpx.Client() as http:
        client = make_client(http, config, platform, token, ClientTuning())
        adgroups = client.list_adgroups()
        observations = client.fetch_observations(today - timedelta(days=days), today)
    known = {g.adgroup_id for g in adgroups}
    return adgroups, [o for o in observations if o.adgroup_id in known]
