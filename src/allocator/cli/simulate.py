"""``allocator simulate CONFIG``: run a simulation experiment and write its results folder.

``allocator simulate configs/experiments/NAME.toml [--executor local|ray] [--workers N]
[--out DIR] [--address ADDR] [--no-progress] [--html]`` runs every policy of the experiment (and
the oracle) on the same seeds, then writes ``DIR/results.csv`` (and ``.parquet``),
``DIR/summary.md`` and the PNG plots. Finished blocks of seeds are kept in
``DIR/blocks/``: running the same command again after an interruption resumes where it
stopped. The default ``DIR`` is ``results/NAME`` under the current directory. With
``--html`` it also writes ``DIR/report.html`` (:mod:`allocator.reports.simulation_report`).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from allocator.cli import PlainUsageCommand
from allocator.sim.executors import make_executor
from allocator.sim.experiment import load_experiment
from allocator.sim.report import write_outputs
from allocator.sim.runner import ExperimentResult, run_experiment

__all__ = ["ExecutorKind", "register", "simulate"]


class ExecutorKind(StrEnum):
    """Where the blocks of seeds run."""

    LOCAL = "local"
    RAY = "ray"


def simulate(
    config: Annotated[
        Path, typer.Argument(help="Experiment TOML file.", show_default=False, metavar="CONFIG")
    ],
    executor: Annotated[
        ExecutorKind, typer.Option("--executor", help="local processes or Ray.")
    ] = ExecutorKind.LOCAL,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Worker processes / Ray CPUs (default: all)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Results folder (default: results/NAME).")
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="Address of an existing Ray cluster.")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar (TTY only).")
    ] = True,
    html: Annotated[
        bool, typer.Option("--html", help="Also write DIR/report.html (self-contained).")
    ] = False,
) -> None:
    """Simulate the experiment's policies on the same seeds and write the results."""
    experiment = load_experiment(config)
    out_dir = out if out is not None else Path("results") / experiment.name
    pool = make_executor(executor.value, workers, address)
    show = progress and sys.stderr.isatty()
    if show:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"simulating {experiment.name}", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_experiment(experiment, out_dir=out_dir, executor=pool, on_block=advance)
    else:
        result = run_experiment(experiment, out_dir=out_dir, executor=pool)
    write_outputs(result, out_dir)
    typer.echo(_report_line(result, out_dir))
    if html:
        from allocator.reports.simulation_report import write_simulation_report

        typer.echo(f"wrote {write_simulation_report(out_dir)}")


def _report_line(result: ExperimentResult, out_dir: Path) -> str:
    frame = result.frame
    grouped = frame.groupby("policy", sort=False)
    conversions = grouped["conversions"].mean().to_dict()
    ratio = grouped["oracle_ratio"].mean().to_dict()
    parts = [
        f"{p}: {float(conversions[p]):.1f} conversions, {float(ratio[p]):.3f} of the oracle"
        for p in result.policies
    ]
    resumed = f" ({result.n_loaded} blocks resumed)" if result.n_loaded else ""
    return f"wrote {out_dir}{resumed}\n" + "\n".join(parts)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate", cls=PlainUsageCommand)(simulate)
