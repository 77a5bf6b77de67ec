"""The demo gives the same figures on any date: its simulated calendar is fixed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from allocator.job.sandbox_demo import DEMO_START, run_demo

FIGURE_LINES = ("allocator :", "even split:", "difference:", "budget edits:")


def test_the_simulated_days_start_on_the_fixed_first_day() -> None:
    result = run_demo(days=2, seed=7)
    assert [d.day for d in result.days] == [DEMO_START, DEMO_START.replace(day=2)]
    assert result.n_edits == result.n_store_changes > 0


def _figures(fake_date: str, out: Path) -> list[str]:
    """The demo's figure lines when the machine's clock says ``fake_date``."""
    env = dict(os.environ, FAKETIME_DONT_FAKE_MONOTONIC="1")
    command = [sys.executable, "-m", "allocator", "demo", "--days", "4", "--out", str(out)]
    proc = subprocess.run(
        ["faketime", fake_date, *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith(FIGURE_LINES)]
    assert len(lines) == len(FIGURE_LINES)
    return lines


@pytest.mark.skipif(shutil.which("faketime") is None, reason="needs faketime (libfaketime)")
def test_the_demo_prints_the_same_figures_on_two_different_dates(tmp_path: Path) -> None:
    first = _figures("2027-03-15 10:00:00", tmp_path / "a")
    second = _figures("2026-12-24 22:30:00", tmp_path / "b")
    assert first == second
