"""``allocator report``: the HTML report of the account (from a job config) or of a simulation.

``allocator report --config job.toml [--out report.html] [--days 30]`` writes the account
report from the job's store and the platform's delivery (:mod:`allocator.reports.account`);
``allocator report --simulation DIR [--out DIR/report.html]`` writes a simulation's report
from its results folder (:mod:`allocator.reports.simulation_report`). Exactly one of the
two is needed. The page is self-contained: it opens without a network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from allocator.errors import ConfigError

__all__ = ["register", "report"]


def report(
    config: Annotated[
        Path | None, typer.Option("--config", help="Job config: report the account.")
    ] = None,
    simulation: Annotated[
        Path | None, typer.Option("--simulation", help="Results folder of allocator simulate.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file (default report.html, or DIR/report.html)."),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="Planning days of history shown.")
    ] = 30,
) -> int:
    """Write a self-contained HTML report of the account's runs or of a simulation."""
    if (config is None) == (simulation is None):
        raise ConfigError("allocator report needs exactly one of --config FILE or --simulation DIR")
    if simulation is not None:
        from allocator.reports.simulation_report import write_simulation_report

        if not (simulation / "results.csv").is_file():
            raise ConfigError("has no results.csv: run allocator simulate first", path=simulation)
        written = write_simulation_report(simulation, out)
    else:
        assert config is not None
        from allocator.config import load_job_config
        from allocator.reports.account import report_for_config

        job = load_job_config(config)
        try:
            written = report_for_config(job, config, out or Path("report.html"), days=days)
        except ValueError as exc:
            raise ConfigError(str(exc), path=config) from None
    typer.echo(f"wrote {written}")
    return 0


def register(app: typer.Typer) -> None:
    """Add ``report`` to the command line."""
    app.command("report")(report)
