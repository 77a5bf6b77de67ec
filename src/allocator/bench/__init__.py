"""Benchmarks: ``python -m allocator.bench NAME``.

Each benchmark measures the thing and its floor side by side in one run and prints a
readable table, then, as its last line, one JSON object of its figures. Timings are the
median of several repeats after a warm-up, so a busy shared machine shows as spread, not
as a wrong ratio.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["print_report", "timeit", "timeit_pair"]


def timeit(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timeit_pair(
    work: Callable[[], object],
    floor: Callable[[], object],
    *,
    repeats: int = 7,
    warmup: int = 1,
) -> tuple[float, float, float]:
    """Time ``work`` and its ``floor`` alternately; medians of each and of their ratio.

    Interleaving puts both under the same load at nearly the same moment, so on a busy
    shared machine the ratio (the benchmark's figure) stays stable even when absolute
    times drift.

    Returns:
        ``(work seconds, floor seconds, median of per-repeat ratios)``.
    """
    for _ in range(warmup):
        floor()
        work()
    works, floors, ratios = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        floor()
        middle = time.perf_counter()
        work()
        end = time.perf_counter()
        floors.append(middle - start)
        works.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    return statistics.median(works), statistics.median(floors), statistics.median(ratios)


def print_report(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], figures: dict[str, Any]
) -> None:
    """Print a fixed-width table, then ``figures`` as one JSON line (the contract's last line)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(title)
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    print(json.dumps(figures, sort_keys=True))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)
