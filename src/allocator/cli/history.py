"""``allocator history``: a job's past runs from its store, and what each changed."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from allocator.cli import command_with_exit_codes
from allocator.cli.options import JobConfigOption, flag

__all__ = ["history", "register"]


def history(config_path: Path, *, days: int, dry_runs: bool, as_json: bool) -> int:
    """Print the runs of the last ``days`` days from the job's store; the exit code."""
    from rich.console import Console

    from allocator.config import load_job_config
    from allocator.errors import ConfigError
    from allocator.job.inspect import run_history
    from allocator.job.planning import account_today
    from allocator.job.store import Store

    config = load_job_config(config_path)
    if days < 1:
        raise ConfigError(f"--days must be at least 1, got {days}")
    store_path = config.job.store
    if not store_path.exists():
        print(f"no runs yet: the store {store_path} does not exist", file=sys.stderr)
        return 0
    since = account_today(config) - timedelta(days=days)
    with Store.open(store_path) as store:
        runs = store.runs(config.account.name)
        changes = {run.id: store.changes(run.id) for run in runs}
    rows = run_history(runs, changes, since=since, dry_runs=dry_runs)
    if as_json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    console = Console(file=sys.stdout)
    if not rows:
        console.print(f"no runs of {config.account.name} planned since {since}", soft_wrap=True)
    for r in rows:
        kind = "dry run" if r.dry_run else "apply"
        console.print(
            f"{r.as_of}  run {r.run_id} ({kind}, started {r.started[:16]}Z): "
            f"{r.outcome or 'unfinished'}; {r.applied} change(s) applied"
            + (f", {r.failed} failed" if r.failed else ""),
            highlight=False,
            soft_wrap=True,
        )
        for adgroup_id, name, what in r.changes:
            label = f"{name} ({adgroup_id})" if name else adgroup_id
            console.print(f"    {label}: {what}", highlight=False, markup=False, soft_wrap=True)
    return 0


def register(app: typer.Typer) -> None:
    """Add ``history`` to the command line."""

    @command_with_exit_codes(
        app, "history", ("0", "ok (also with no runs yet)"), ("2", "a bad config")
    )
    def _history(
        config: JobConfigOption,
        days: Annotated[int, typer.Option("--days", help="Runs of the last N days.")] = 14,
        dry_runs: Annotated[bool, flag("--dry-runs", "List plan-only runs too.")] = False,
        as_json: Annotated[bool, flag("--json", "Print a JSON list.")] = False,
    ) -> int:
        """List a job's past runs from its store: day, outcome, edits applied, what changed.

        Newest first; each run's changes per ad group follow it, in the order they were
        sent.
        """
        return history(config, days=days, dry_runs=dry_runs, as_json=as_json)
