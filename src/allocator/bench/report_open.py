"""``python -m allocator.bench report``: size and open time of a 30-day account report.

Runs the job 30 simulated days against the demo's sandbox account (12 creatives, 10 of
them managed by the job; :func:`~allocator.reports.sandbox_run.run_and_report`), writes
its HTML report, then opens it :data:`OPENS` times in headless Chromium (a fresh page
each time, every non-local request aborted) and prints, side by side: the file size
(target < 5 MB = 5,000,000 bytes), the median wall time from navigation to every chart
drawn (target < 2 s), the renderer main thread's CPU time over the same span (what the
open costs without other processes competing for the cores) and the time to the first
contentful paint (today's plan on screen). The last line is the figures as one JSON
object. ``--quick`` runs 5 days and opens the page twice.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

from allocator.bench import print_report

__all__ = ["OPENS", "run"]

OPENS = 5
SIZE_TARGET = 5_000_000
OPEN_TARGET_S = 2.0


def run(*, quick: bool = False, seed: int = 0) -> None:
    """Build the report, open it in headless Chromium; print the table and the JSON line."""
    from allocator.reports.browser import headless_browser, open_report
    from allocator.reports.sandbox_run import run_and_report

    days, opens = (5, 2) if quick else (30, OPENS)
    with tempfile.TemporaryDirectory(prefix="allocator-bench-report-") as tmp:
        built = run_and_report(Path(tmp), days=days, seed=seed)
        size = built.report.stat().st_size
        wall, cpu, paint, errors = [], [], [], 0
        with headless_browser() as browser:
            for _ in range(opens):
                with open_report(browser, built.report) as opened:
                    wall.append(opened.load_seconds)
                    cpu.append(opened.cpu_seconds)
                    paint.append(opened.first_paint_seconds)
                    errors += len(opened.console_errors) + len(opened.network)
    load = os.getloadavg()[0]
    figures = {
        "days": days,
        "n_creatives": 12,
        "size_bytes": size,
        "size_ok": size < SIZE_TARGET,
        "open_wall_s": round(statistics.median(wall), 3),
        "open_cpu_s": round(statistics.median(cpu), 3),
        "first_paint_s": round(statistics.median(paint), 3),
        "open_ok": statistics.median(wall) < OPEN_TARGET_S,
        "opens": opens,
        "errors_or_requests": errors,
        "load_average_1m": round(load, 2),
    }
    rows = [
        ("file size", f"{size / 1e6:.3f} MB", "< 5 MB", "yes" if figures["size_ok"] else "NO"),
        (
            "open, wall (median)",
            f"{figures['open_wall_s']:.2f} s",
            "< 2 s",
            "yes" if figures["open_ok"] else "NO",
        ),
        (
            "open, main-thread CPU (median)",
            f"{figures['open_cpu_s']:.2f} s",
            "< 2 s",
            "yes" if figures["open_cpu_s"] < OPEN_TARGET_S else "NO",
        ),
        ("first paint (median)", f"{figures['first_paint_s']:.2f} s", "", ""),
    ]
    print_report(
        f"account report of a {days}-day, 12-creative sandbox account, opened {opens} times in "
        f"headless Chromium (1-minute load average {load:.1f})",
        ("what", "measured", "target", "met"),
        rows,
        figures,
    )
