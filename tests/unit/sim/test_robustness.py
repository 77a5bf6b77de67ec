"""A quick run of the robustness suite: its table's shape and the ceiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from allocator.sim.robustness import DEFAULT_POLICIES, main, run_suite, write_outputs
from allocator.sim.robustness_stats import mean_ci, paired_ratio
from allocator.sim.robustness_worlds import WORLDS, cells


def test_every_family_is_crossed_with_the_three_penalties() -> None:
    suite = cells()
    assert len({w.family for w in WORLDS}) >= 6
    assert len(suite) == 3 * len(WORLDS)
    assert {c.penalty for c in suite} == {0.0, 0.15, 0.30}


def test_a_quick_suite_has_one_row_per_cell_policy_and_seed(tmp_path: Path) -> None:
    suite = cells(("spark",), (0.15,))
    frame = run_suite(suite, seeds=2, out_dir=tmp_path)
    n_policies = len(DEFAULT_POLICIES) + 1  # the oracle
    assert len(frame) == len(suite) * n_policies * 2
    assert {"family", "world", "learning_penalty", "underspend", "last_third_expected"} <= set(
        frame.columns
    )
    means = frame.groupby(["scenario", "policy"])["oracle_ratio"].mean()
    assert (means <= 1.0 + 0.02).all()
    assert (frame.loc[frame["policy"] == "oracle", "oracle_ratio"] == 1.0).all()
    assert (frame.loc[frame["policy"] == "even", "underspend"] < 1e-9).all()
    text = write_outputs(frame, tmp_path, "# test")
    assert (tmp_path / "engine_vs_best.png").stat().st_size > 1000
    assert "## Issue 11's bars" in text
    assert "| spark | " in text  # the per-family last-third table
    for cell in suite:
        assert f"| {cell.name} | thompson |" in text
    assert (tmp_path / "results.csv").read_text().count("\n") == len(frame) + 1


def test_the_command_rejects_an_unknown_family(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--families", "nope", "--seeds", "1"]) == 2


def test_paired_ratio_and_mean_interval_on_known_values() -> None:
    rng = np.random.default_rng(0)
    ratio, low, high = paired_ratio(np.array([2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0]), rng)
    assert (ratio, low, high) == pytest.approx((2.0, 2.0, 2.0))
    mean, half = mean_ci(np.array([1.0, 3.0]))
    assert mean == 2.0
    assert half == pytest.approx(1.96 * np.sqrt(2.0) / np.sqrt(2.0))


def test_tuning_ranks_variants_within_their_kind_by_mean_ratio() -> None:
    import pandas as pd

    from allocator.sim.robustness_tune import GRID, rank

    frame = pd.DataFrame(
        {
            "kind": ["rules"] * 4 + ["oracle"] * 2,
            "policy": ["r1", "r1", "r2", "r2", "oracle", "oracle"],
            "scenario": ["a", "b"] * 3,
            "oracle_ratio": [0.9, 0.5, 0.7, 0.8, 1.0, 1.0],
        }
    )
    ranking = rank(frame)
    assert list(ranking["policy"]) == ["r2", "r1"]
    assert ranking["mean"].tolist() == pytest.approx([0.75, 0.7])
    assert ranking["min"].tolist() == pytest.approx([0.7, 0.5])
    assert len({g["name"] for g in GRID}) == len(GRID)
