"""The Python front door: plan a day and simulate an experiment without the command line.

:func:`plan` is ``allocator rebalance`` without the apply and the store: a job config (a
path or a :class:`~allocator.config.JobConfig`), data frames or CSV paths that replace
the config's files, and a planning day give a :class:`~allocator.plans.Plan`. Nothing is
applied, recorded or printed. :func:`simulate` is ``allocator simulate`` without the
results folder: an experiment (a path or an
:class:`~allocator.sim.experiment.ExperimentConfig`) gives a :class:`SimulationResult`
holding the results frame and the summary text.

Both are re-exported by :mod:`allocator`, which imports this module only when one of
them is first used (pandas, scipy and pydantic load then, not at ``import allocator``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd

from allocator.config import FilesPlatform, JobConfig, load_job_config
from allocator.errors import ConfigError
from allocator.job.planning import plan_records, planning_days
from allocator.job.platforms import fetch_records, plausibility
from allocator.job.sanity import check_data_age
from allocator.plans import Plan
from allocator.platform.files import FileAdPlatform
from allocator.sim.executors import make_executor
from allocator.sim.experiment import ExperimentConfig, load_experiment
from allocator.sim.report import summary_markdown, write_outputs
from allocator.sim.runner import ExperimentResult, run_experiment

__all__ = ["SimulationResult", "plan", "simulate"]

Source = str | os.PathLike[str] | pd.DataFrame
"""Records of the ``files`` contract: a CSV path, or a data frame with the file's columns."""


def _job_config(config: str | os.PathLike[str] | JobConfig) -> JobConfig:
    return config if isinstance(config, JobConfig) else load_job_config(Path(config))


def _planning_day(job: JobConfig, as_of: date | str | None) -> tuple[date, date]:
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of)
        except ValueError:
            raise ConfigError(f"as_of must be a date YYYY-MM-DD, got {as_of!r}") from None
    return planning_days(job, as_of, None)


def _source(given: Source | None, job: JobConfig, key: str) -> Path | pd.DataFrame:
    """``given`` as a path or frame; else the config's file for ``key``."""
    if isinstance(given, pd.DataFrame):
        return given
    if given is not None:
        return Path(given)
    platform = job.platform
    if not isinstance(platform, FilesPlatform):
        raise ConfigError(
            f"the config's platform is {platform.kind!r}, which has no {key} file: "
            f"pass {key}= (a data frame or a CSV path)",
            key="platform.kind",
        )
    path: Path = getattr(platform, key)
    return path


def plan(
    config: str | os.PathLike[str] | JobConfig,
    *,
    adgroups: Source | None = None,
    observations: Source | None = None,
    as_of: date | str | None = None,
    allow_stale_data: bool = False,
) -> Plan:
    """Plan the budgets of ``as_of`` from an account's records; nothing is applied.

    Args:
        config: the job config: a TOML path or a validated :class:`JobConfig`.
        adgroups: the ad groups (a data frame or CSV path with the contract's columns);
            default: the config's ``platform.adgroups`` file.
        observations: the daily observations, likewise; default: the config's
            ``platform.observations`` file.
        as_of: the planning day (a date or ``YYYY-MM-DD``); default: today in the
            account's time zone. Only observations dated before it are used.
        allow_stale_data: plan even when the newest observation is more than
            ``job.max_data_age_days`` before ``as_of``.

    Returns:
        The plan: the same as ``allocator rebalance --json`` on the same data.

    Raises:
        ConfigError: the config is invalid, ``as_of`` is not a date or is after today, or
            a source is missing and the config's platform has no files.
        DataError: the first invalid or implausible cell of the records, naming source,
            line and column.
        StaleDataError: the records are older than ``job.max_data_age_days`` allows.
    """
    job = _job_config(config)
    day, today = _planning_day(job, as_of)
    platform = FileAdPlatform.from_files(
        _source(adgroups, job, "adgroups"),
        _source(observations, job, "observations"),
        today=today,
        bounds=plausibility(job),
    )
    records, rows = fetch_records(platform, job, day, today)
    if not allow_stale_data:
        check_data_age(rows, day, job.job.max_data_age_days)
    return plan_records(job, records, rows, day, today)


@dataclass(frozen=True)
class SimulationResult:
    """An experiment's outcome.

    Attributes:
        frame: one row per (scenario, policy, seed): the columns of ``results.csv``.
        summary: the text of ``summary.md`` (means with 95% intervals, ratios to the oracle).
        details: everything gathered (daily conversions ``(P, T, R)``, the plotted
            replication's budgets), for plots of your own.
    """

    frame: pd.DataFrame
    summary: str
    details: ExperimentResult

    def write(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write ``results.csv``, ``summary.md`` and the plots into ``out_dir``; the files."""
        return write_outputs(self.details, Path(out_dir))


def simulate(
    experiment: str | os.PathLike[str] | ExperimentConfig,
    *,
    executor: Literal["local", "ray"] = "local",
    workers: int | None = None,
) -> SimulationResult:
    """Simulate every policy of an experiment (and the oracle) on the same seeds.

    Args:
        experiment: the experiment: a TOML path or a validated :class:`ExperimentConfig`.
        executor: ``local`` processes or a ``ray`` cluster.
        workers: worker processes / Ray CPUs (default: all); the numbers do not depend on it.

    Returns:
        The results frame, the summary and the gathered details.

    Raises:
        ConfigError: the experiment file is invalid, or the executor is unknown.
    """
    config = (
        experiment
        if isinstance(experiment, ExperimentConfig)
        else load_experiment(Path(experiment))
    )
    result = run_experiment(config, executor=make_executor(executor, workers))
    return SimulationResult(result.frame, summary_markdown(result), result)
