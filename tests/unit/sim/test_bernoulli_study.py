from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from allocator.sim.bernoulli_study import main

HAS_MABWISER = importlib.util.find_spec("mabwiser") is not None


def test_study_without_peers_writes_summary_results_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "e"
    assert main(["--out", str(out), "--seeds", "3", "--horizon", "200", "--peer-seeds", "0"]) == 0
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert {(r["gap"], r["policy"]) for r in rows} == {
        (g, p) for g in ("0.1", "0.02") for p in ("thompson", "ucb1")
    }
    assert len(rows) == 2 * 2 * 3
    assert all(float(r["regret_10"]) <= float(r["regret_100"]) for r in rows)
    summary = (out / "summary.md").read_text()
    assert "**102.9**" in summary
    assert "**517.9**" in summary
    assert "--peer-seeds 0" in summary
    assert (out / "regret.png").stat().st_size > 10_000


@pytest.mark.skipif(not HAS_MABWISER, reason="mabwiser not installed (optional 'bench' extra)")
def test_study_with_peers_caches_each_mabwiser_run_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "e"
    args = ["--out", str(out), "--seeds", "2", "--horizon", "150", "--workers", "1"]
    assert main(args) == 0
    cached = sorted((out / "mabwiser").glob("*.npz"))
    assert len(cached) == 2 * 2 * 2  # (ts, ucb1) x gaps x seeds
    first = (out / "results.csv").read_text()
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert main(args) == 0  # resumes: nothing recomputed, same numbers
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert (out / "results.csv").read_text() == first
    assert "`thompson` - `mabwiser_ts`" in (out / "summary.md").read_text()
