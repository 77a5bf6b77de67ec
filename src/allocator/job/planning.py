"""Planning a day from records with a job config: the account's today and the plan.

:func:`account_today` is the real current day in the account's time zone (what ``--as-of``
defaults to and is checked against); :func:`plan_records` plans a day from validated
records with the config's account, portfolio and engine settings. Both are shared by the
job, the Python API (:func:`allocator.plan`) and the backtests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from allocator.config import JobConfig
from allocator.core.arms import AdGroup, Observation
from allocator.errors import ConfigError
from allocator.job.sanity import keep_without_data
from allocator.plans import Plan, PlanSettings, make_plan

__all__ = ["account_today", "plan_records", "planning_days"]


def account_today(config: JobConfig) -> date:
    """Today's date in the account's time zone."""
    return datetime.now(ZoneInfo(config.account.timezone)).date()


def planning_days(config: JobConfig, as_of: date | None, today: date | None) -> tuple[date, date]:
    """``(as_of, today)`` with their defaults; a planning day after today is refused.

    Raises:
        ConfigError: ``as_of`` is after ``today`` in the account's time zone.
    """
    today = today or account_today(config)
    as_of = as_of or today
    if as_of > today:
        raise ConfigError(f"--as-of {as_of} is after today ({today}) in the account time zone")
    return as_of, today


def plan_records(
    config: JobConfig,
    adgroups: Sequence[AdGroup],
    observations: Sequence[Observation],
    as_of: date,
    today: date,
) -> Plan:
    """Plan ``as_of`` from validated records with the config's account and engine settings.

    With no observation in the lookback window, every budget and status is kept and the
    plan says so (:func:`~allocator.job.sanity.keep_without_data`).
    """
    settings = PlanSettings(
        account=config.account.name,
        params=config.engine_params(),
        seed=config.engine.seed,
        timezone=config.account.timezone,
        lookback_days=config.engine.lookback_days,
    )
    plan = make_plan(adgroups, observations, config.portfolio(), settings, as_of=as_of, today=today)
    return keep_without_data(plan, observations, config.engine.lookback_days)
