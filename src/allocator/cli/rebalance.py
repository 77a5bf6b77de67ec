"""``allocator rebalance``: plan (and, on an API platform, apply) today's budgets."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from allocator.cli import command_with_exit_codes
from allocator.cli.options import JobConfigOption, flag
from allocator.cli.render import show_result
from allocator.config import load_job_config
from allocator.errors import ConfigError
from allocator.job.planning import account_today
from allocator.job.rebalance import RebalanceOptions, run_rebalance

__all__ = ["parse_as_of", "register"]


def parse_as_of(text: str | None, today: date) -> date:
    """The planning day from ``--as-of`` (ISO date), defaulting to ``today``."""
    if text is None:
        return today
    try:
        as_of = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None
    if as_of > today:
        raise ConfigError(f"--as-of {as_of} is after today ({today}) in the account time zone")
    return as_of


def rebalance(
    config_path: Path,
    *,
    as_json: bool,
    as_of_text: str | None,
    apply: bool,
    allow_stale: bool = False,
    log_json: bool = False,
    allow_stale_data: bool = False,
    force: bool = False,
) -> int:
    """Plan for the configured platform, print it (and apply it); returns the exit code."""
    config = load_job_config(config_path)
    today = account_today(config)
    options = RebalanceOptions(
        as_of=parse_as_of(as_of_text, today),
        apply=apply,
        allow_stale=allow_stale,
        log_json=log_json,
        today=today,
        allow_stale_data=allow_stale_data,
        force=force,
    )
    result = run_rebalance(config, config_path, options)
    return show_result(
        result, as_json=as_json, report_md=config.job.report_md, out=sys.stdout, err=sys.stderr
    )


_EXIT_CODES = (
    ("0", 'ok, "No changes", or a dry run'),
    (
        "1",
        "failure or refusal (kill switch, lock held, stale state or data, budget cap,"
        " circuit breaker)",
    ),
    ("2", "bad config or data"),
    ("3", "partial apply"),
)
"""The exit codes listed under ``allocator rebalance --help``: ``(code, meaning)``."""


_ALLOW_STALE = "Apply even if budgets or statuses changed since the plan was computed."
_ALLOW_STALE_DATA = "Plan even if the newest data is older than job.max_data_age_days."
_FORCE = "Apply a plan the circuit breaker holds back (see the plan)."


def register(app: typer.Typer) -> None:
    """Add ``rebalance`` to the command line."""

    @command_with_exit_codes(app, "rebalance", *_EXIT_CODES)
    def _rebalance(
        config: JobConfigOption,
        as_json: Annotated[bool, flag("--json", "Print the plan JSON.")] = False,
        as_of: Annotated[
            str | None,
            typer.Option("--as-of", help="Plan for this day (YYYY-MM-DD); default: today."),
        ] = None,
        apply: Annotated[bool, flag("--apply", "Apply the plan (default: dry run).")] = False,
        allow_stale: Annotated[bool, flag("--allow-stale", _ALLOW_STALE)] = False,
        log_json: Annotated[
            bool, flag("--log-json", "Write logs to stderr as JSON lines.")
        ] = False,
        allow_stale_data: Annotated[bool, flag("--allow-stale-data", _ALLOW_STALE_DATA)] = False,
        force: Annotated[bool, flag("--force", _FORCE)] = False,
    ) -> int:
        """Plan today's budgets from the platform's data; with --apply, apply them."""
        return rebalance(
            config,
            as_json=as_json,
            as_of_text=as_of,
            apply=apply,
            allow_stale=allow_stale,
            log_json=log_json,
            allow_stale_data=allow_stale_data,
            force=force,
        )
