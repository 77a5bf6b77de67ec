"""``allocator validate``: check a job's config and data, show what was found, plan nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from allocator.cli import command_with_exit_codes
from allocator.cli.options import JobConfigOption, flag

if TYPE_CHECKING:
    from rich.table import Table

    from allocator.job.inspect import DataSummary

__all__ = ["register", "validate"]

_WIDE = 110
"""Console width from which the ad group table shows ids and kinds."""


def validate(config_path: Path, *, as_json: bool) -> int:
    """Check the config and its data; print the summary; the exit code (0: valid)."""
    from rich.console import Console

    from allocator.config import load_job_config
    from allocator.job.inspect import check_job

    config = load_job_config(config_path)
    summary = check_job(config, config_path)
    if as_json:
        print(json.dumps(summary.to_json_dict(), indent=2))
        return 0
    console = Console(file=sys.stdout)
    period = (
        "no observations"
        if summary.first is None
        else f"{summary.n_rows} rows over {summary.n_days} days, {summary.first} to {summary.last}"
        f" (newest {summary.age_days} day(s) before today, {summary.today})"
    )
    console.print(
        f"{config_path}: valid. Account {summary.account} on the {summary.platform} platform; "
        f"{len(summary.adgroups)} ad groups; {period}.",
        highlight=False,
        soft_wrap=True,
    )
    console.print(_adgroup_table(summary, console.width))
    for message in summary.warnings:
        console.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)
    console.print("Nothing was planned or changed.")
    return 0


def _adgroup_table(summary: DataSummary, width: int) -> Table:
    """The ad groups as a table: every column at its content width but the name's.

    Narrower than :data:`_WIDE` characters, the id and kind columns are left out.
    """
    from rich import box
    from rich.table import Table

    titles: tuple[str, ...] = (
        "ad group", "id", "kind", "status", "authorization", "budget", "days", "last"
    )  # fmt: skip
    rows: list[tuple[str, ...]] = [
        (a.name, a.adgroup_id, a.kind, a.status, a.auth, f"{a.budget:,.2f}", str(a.days),
         "-" if a.last is None else a.last.isoformat())
        for a in summary.adgroups
    ]  # fmt: skip
    if width < _WIDE:  # the name tells the creator, the authorization a Spark ad
        titles, rows = titles[:1] + titles[3:], [r[:1] + r[3:] for r in rows]
    table = Table(title="ad groups", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    widest = [max([len(t), *(len(r[i]) for r in rows)]) for i, t in enumerate(titles)]
    widest[0] = max(8, min(widest[0], width - 4 - sum(w + 3 for w in widest[1:])))
    for name, w in zip(titles, widest, strict=True):
        table.add_column(
            name,
            justify="right" if name in ("budget", "days") else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=w,
            max_width=w,
        )
    for row in rows:
        table.add_row(*row)
    return table


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the command line."""

    @command_with_exit_codes(
        app,
        "validate",
        ("0", "valid"),
        ("1", "the platform failed"),
        ("2", "a bad config (every problem) or bad data (file, line and column)"),
    )
    def _validate(
        config: JobConfigOption,
        as_json: Annotated[bool, flag("--json", "Print one JSON object.")] = False,
    ) -> int:
        """Check a job's config and data and show what was found; plan nothing.

        Prints the ad groups, the days of data, their date range and age, and every
        warning.
        """
        return validate(config, as_json=as_json)
