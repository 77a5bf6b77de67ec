"""What ``allocator validate`` and ``allocator history`` report: an account's data, its runs.

:func:`check_job` reads a job's ad groups and observations exactly as ``rebalance`` would
(the same platform, the same validation, so a bad cell is the same error naming file, line
and column) and summarises them without planning anything: each ad group with its name,
kind, status, authorization and days of data; the date range; how old the newest
observation is; every warning the reading raised. :func:`run_history` lists an account's
past runs from the job store with what each changed per ad group. Budgets are currency per
day.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from allocator.config import FilesPlatform, JobConfig
from allocator.core.arms import AdGroup, Observation
from allocator.job.log_setup import route_logs
from allocator.job.planning import planning_days
from allocator.job.platforms import ClientTuning, fetch_records, load_job_token, make_client
from allocator.job.platforms import open_files as open_files_platform
from allocator.job.records import Change, ChangeState, Run
from allocator.plans import display_name
from allocator.platform.base import AdPlatform

__all__ = [
    "AdGroupSummary",
    "DataSummary",
    "RunSummary",
    "check_job",
    "run_history",
]


@dataclass(frozen=True, slots=True)
class AdGroupSummary:
    """One ad group as read: its name, state and how many days of data it has."""

    adgroup_id: str
    name: str
    kind: str
    status: str
    auth: str
    budget: float
    days: int
    last: date | None


@dataclass(frozen=True, slots=True)
class DataSummary:
    """What a job's platform holds, as ``rebalance`` would read it today.

    Attributes:
        account: the account's name.
        platform: ``files``, ``sandbox`` or ``tiktok``.
        today: the day the data was judged against (account time zone).
        adgroups: each ad group, in the platform's order.
        n_rows: observation rows (ad group-days) read.
        first: the oldest observation's date (``None``: no rows).
        last: the newest observation's date (``None``: no rows).
        warnings: every warning raised while reading, one line each.
    """

    account: str
    platform: str
    today: date
    adgroups: tuple[AdGroupSummary, ...]
    n_rows: int
    first: date | None
    last: date | None
    warnings: tuple[str, ...]

    @property
    def n_days(self) -> int:
        """Days from the first to the last observation, inclusive (0 with no rows)."""
        return 0 if self.first is None or self.last is None else (self.last - self.first).days + 1

    @property
    def age_days(self) -> int | None:
        """Days from the newest observation to today (1: yesterday's data is in)."""
        return None if self.last is None else (self.today - self.last).days

    def to_json_dict(self) -> dict[str, Any]:
        """The summary as a JSON object (``allocator validate --json``)."""
        return {
            "account": self.account,
            "platform": self.platform,
            "today": self.today.isoformat(),
            "n_adgroups": len(self.adgroups),
            "n_rows": self.n_rows,
            "n_days": self.n_days,
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            "age_days": self.age_days,
            "warnings": list(self.warnings),
            "adgroups": [
                {
                    "adgroup_id": a.adgroup_id,
                    "name": a.name,
                    "kind": a.kind,
                    "status": a.status,
                    "auth": a.auth,
                    "budget": a.budget,
                    "days": a.days,
                    "last": None if a.last is None else a.last.isoformat(),
                }
                for a in self.adgroups
            ],
        }


def check_job(
    config: JobConfig,
    config_path: Path,
    *,
    today: date | None = None,
    environ: Mapping[str, str] | None = None,
) -> DataSummary:
    """Read and validate the job's data as ``rebalance`` would today; plan nothing.

    Warnings raised while reading and the client's logged warnings (ad groups it does not
    manage) are collected, one line each.

    Raises:
        ConfigError: the token is missing (API platforms).
        DataError: the data is invalid (the first bad cell, naming file, line, column).
        ApiError: the platform failed while reading.
    """
    _, today = planning_days(config, None, today)
    logs = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _platform(config, config_path, today, environ, logs) as platform:
            adgroups, observations = fetch_records(platform, config, today, today)
    logged = [line.split("WARNING: ", 1)[-1] for line in logs.getvalue().splitlines()]
    messages = tuple(dict.fromkeys([*(str(w.message) for w in caught), *logged]))
    return _summary(config, today, adgroups, observations, messages)


@contextlib.contextmanager
def _platform(
    config: JobConfig,
    config_path: Path,
    today: date,
    environ: Mapping[str, str] | None,
    logs: io.StringIO,
) -> Iterator[AdPlatform]:
    platform = config.platform
    if isinstance(platform, FilesPlatform):
        yield open_files_platform(config, platform, today)
        return
    import httpx

    token = load_job_token(platform, environ, config_path)
    with route_logs(logs, False, token), httpx.Client() as http:
        yield make_client(http, config, platform, token, ClientTuning())


def _summary(
    config: JobConfig,
    today: date,
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    messages: tuple[str, ...],
) -> DataSummary:
    """The summary of what was read, with an ad group that has no data among the warnings."""
    days: dict[str, set[date]] = {a.adgroup_id: set() for a in adgroups}
    for o in observations:
        days[o.adgroup_id].add(o.date)
    rows = tuple(
        AdGroupSummary(
            adgroup_id=a.adgroup_id,
            name=display_name(a),
            kind=str(a.kind),
            status=str(a.status),
            auth=_auth_text(a, today),
            budget=a.budget,
            days=len(days[a.adgroup_id]),
            last=max(days[a.adgroup_id], default=None),
        )
        for a in adgroups
    )
    silent = [r.adgroup_id for r in rows if r.days == 0]
    if silent:
        messages += (f"no observations for ad group(s) {', '.join(silent)}",)
    dates = [o.date for o in observations]
    return DataSummary(
        account=config.account.name,
        platform=config.platform.kind,
        today=today,
        adgroups=rows,
        n_rows=len(observations),
        first=min(dates, default=None),
        last=max(dates, default=None),
        warnings=messages,
    )


def _auth_text(ag: AdGroup, today: date) -> str:
    auth = ag.authorization
    if auth.lapsed or auth.expires_at is None:
        return str(auth.status)
    left = (auth.expires_at.date() - today).days
    return f"expired {auth.expires_at.date()}" if left < 0 else f"{auth.status}, {left} d left"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One past run from the store.

    Attributes:
        run_id: the store's run id.
        period: the planning period (a day, or a week's key).
        as_of: the plan's planning day.
        started: when it started (ISO-8601 UTC).
        dry_run: a plan-only run.
        outcome: how it ended (``None`` while unfinished).
        applied: changes in effect.
        failed: changes the platform rejected.
        changes: what changed per ad group, in apply order: ``(ad group, name, what)``.
    """

    run_id: int
    period: str
    as_of: str
    started: str
    dry_run: bool
    outcome: str | None
    applied: int
    failed: int
    changes: tuple[tuple[str, str, str], ...]


def run_history(
    runs: Sequence[Run],
    changes: Mapping[int, Sequence[Change]],
    *,
    since: date,
    dry_runs: bool = False,
) -> list[RunSummary]:
    """The runs that planned ``since`` or later, newest first (dry runs only on request).

    Args:
        runs: the account's runs from the store, oldest first.
        changes: each run's changes by run id, in apply order.
        since: the first planning day listed.
        dry_runs: list plan-only runs too.
    """
    out = []
    for run in reversed(runs):
        as_of = str(run.plan.get("as_of", run.period))
        if as_of < since.isoformat() or (run.dry_run and not dry_runs):
            continue
        names = {a["adgroup_id"]: a.get("name", "") for a in run.plan.get("adgroups", [])}
        mine = changes.get(run.id, ())
        out.append(
            RunSummary(
                run_id=run.id,
                period=run.period,
                as_of=as_of,
                started=run.started,
                dry_run=run.dry_run,
                outcome=None if run.outcome is None else str(run.outcome),
                applied=sum(c.state is ChangeState.APPLIED for c in mine),
                failed=sum(c.state is ChangeState.FAILED for c in mine),
                changes=tuple(
                    (c.adgroup_id, names.get(c.adgroup_id, ""), _change_text(c)) for c in mine
                ),
            )
        )
    return out


def _change_text(c: Change) -> str:
    what = f"{c.kind} {c.from_value} -> {c.to_value}"
    return what if c.state is ChangeState.APPLIED else f"{what} ({c.state})"
