"""The job's platforms: the token, the API client or the files, and what the job reads.

:func:`load_job_token` reads the access token the config names (from the environment or
a file; never printed or stored); :func:`make_client` builds the TikTok API client with
the config's advertiser, base URL and minimum budget (currency per day) and any
:class:`ClientTuning`; :func:`open_files` opens the read-only ``files`` platform;
:func:`fetch_records` reads the ad groups and observations from any
:class:`~allocator.platform.base.AdPlatform`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import httpx

from allocator.config import FilesPlatform, JobConfig, SandboxPlatform, TikTokPlatform
from allocator.core.arms import AdGroup, Objective, Observation
from allocator.data.plausibility import Plausibility, check_records
from allocator.errors import ConfigError
from allocator.platform.base import AdPlatform
from allocator.platform.files import FileAdPlatform
from allocator.platform.tiktok import RetryPolicy, Secret, TikTokClient, TikTokConfig, load_token

__all__ = [
    "ClientTuning",
    "fetch_records",
    "load_job_token",
    "make_client",
    "open_files",
    "plausibility",
]


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


def load_job_token(
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


def make_client(
    http: httpx.Client,
    config: JobConfig,
    platform: SandboxPlatform | TikTokPlatform,
    token: Secret,
    tuning: ClientTuning,
) -> TikTokClient:
    """The API client for the config's platform, with ``tuning``'s overrides applied."""
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


def plausibility(config: JobConfig) -> Plausibility:
    """The plausibility bounds of the account's input (``[data]`` and ``[account]``)."""
    return Plausibility.for_account(
        config.account.daily_budget,
        spend_multiple=config.data.max_spend_multiple,
        conversions_per_click=config.data.max_conversions_per_click,
        require_value=config.account.objective is Objective.ROAS,
    )


def open_files(config: JobConfig, platform: FilesPlatform, today: date) -> FileAdPlatform:
    """The read-only ``files`` platform over the config's two CSV files.

    Raises:
        DataError: the first invalid cell, or a row beyond the config's plausibility
            bounds, naming file, line and column.
    """
    return FileAdPlatform.from_files(
        platform.adgroups, platform.observations, today=today, bounds=plausibility(config)
    )


def fetch_records(
    platform: AdPlatform, config: JobConfig, as_of: date, today: date
) -> tuple[list[AdGroup], list[Observation]]:
    """The ad groups, and the observations the plan for ``as_of`` is made from (theirs).

    From an API platform: the ``engine.lookback_days`` days before ``as_of``. From the
    read-only ``files`` export: every row up to ``today``, so that the planning step sees
    each ad group's first delivery and warns about rows on or after ``as_of``.

    Raises:
        DataError: a record read from an API is beyond the config's plausibility bounds.
    """
    adgroups = platform.list_adgroups()
    if isinstance(platform, FileAdPlatform):
        start, end = date.min, today
    else:
        start = as_of - timedelta(days=config.engine.lookback_days)
        end = as_of - timedelta(days=1)
    observations = platform.fetch_observations(start, end)
    known = {g.adgroup_id for g in adgroups}
    rows = [o for o in observations if o.adgroup_id in known]
    if not isinstance(platform, FileAdPlatform):  # the files were checked cell by cell
        check_records(adgroups, rows, plausibility(config), f"the {config.platform.kind} API")
    return adgroups, rows
