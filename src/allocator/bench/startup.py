"""``python -m allocator.bench startup``: how fast the command line starts, beside Python's own.

Each command (``allocator --help``, ``allocator --version``) runs as a fresh process
(``python -m allocator ...``, the interpreter the benchmark runs in), alternately with
``python -c pass``, the floor no command can beat; the figures are the medians of both and
of their difference (the start-up cost that is allocator's own). Target (issue 13):
``--help`` and ``--version`` under 0.3 s. Sub-commands load their modules (and numpy,
pandas, scipy, pydantic, httpx, rich) only when they run (:mod:`allocator.cli`).
"""

from __future__ import annotations

import subprocess
import sys

from allocator.bench import print_report, timeit_pair

__all__ = ["COMMANDS", "TARGET_S", "measure", "run"]

COMMANDS: tuple[tuple[str, ...], ...] = (("--help",), ("--version",))
"""The ``allocator`` arguments timed."""

TARGET_S = 0.3
"""Start-up target of ``--help`` and ``--version``, seconds."""


def _run_process(args: list[str]) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(command: tuple[str, ...], *, repeats: int) -> tuple[float, float]:
    """Median seconds of ``allocator COMMAND`` and of ``python -c pass``, run alternately."""
    allocator_args = [sys.executable, "-m", "allocator", *command]
    bare = [sys.executable, "-c", "pass"]
    work, floor, _ = timeit_pair(
        lambda: _run_process(allocator_args), lambda: _run_process(bare), repeats=repeats
    )
    return work, floor


def run(*, quick: bool = False, seed: int = 0) -> None:
    """Time each command beside ``python -c pass``; print the table and the JSON line.

    ``seed`` is unused (nothing here is random); it keeps the benchmarks' one signature.
    """
    del seed
    repeats = 3 if quick else 11
    rows = []
    figures: dict[str, float | bool] = {}
    for command in COMMANDS:
        work, floor = measure(command, repeats=repeats)
        label = "allocator " + " ".join(command)
        rows.append((label, floor, work, work - floor, "yes" if work < TARGET_S else "no"))
        key = command[0].lstrip("-")
        figures[f"{key}_s"] = round(work, 4)
        figures[f"{key}_python_pass_s"] = round(floor, 4)
        figures[f"{key}_under_target"] = work < TARGET_S
    print_report(
        f"start-up, fresh process, median of {repeats} (target < {TARGET_S} s)",
        ("command", "python -c pass s", "command s", "own s", "< target"),
        rows,
        figures,
    )
