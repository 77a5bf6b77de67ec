from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocator.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONTRACT = [
    "scenario",
    "policy",
    "seed",
    "conversions",
    "spend",
    "cpa",
    "regret",
    "oracle_ratio",
    "wasted_spend",
    "days_to_scale_best",
    "budget_edits",
    "stranded_spend",
]

TINY = """
name = "tiny"
seeds = 4
block_size = 2
horizon_days = 8
daily_budget = 300.0

[scenario]
n_arms = 4
n_creators = 2

[[policies]]
kind = "thompson"
n_draws = 50

[[policies]]
kind = "rules"
pause_cpa_multiple = [2.0, 3.0]

[[policies]]
kind = "even"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_simulate_writes_results_summary_and_plots(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["simulate", str(config), "--out", str(out), "--workers", "1"]) == 0
    frame = pd.read_csv(out / "results.csv")
    assert set(CONTRACT) <= set(frame.columns)
    policies = [
        "oracle",
        "thompson",
        "rules[pause_cpa_multiple=2]",
        "rules[pause_cpa_multiple=3]",
        "even",
    ]
    assert list(frame.policy.unique()) == policies
    assert len(frame) == 5 * 4
    assert (out / "results.parquet").stat().st_size > 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "results.parquet"), frame, check_dtype=False
    )
    summary = (out / "summary.md").read_text(encoding="utf-8")
    for policy in policies:
        assert f"`{policy}`" in summary
    assert "ratio to oracle" in summary
    assert "Engine against the baselines" in summary
    # the ceiling: the oracle against each baseline, as paired ratios
    for baseline in policies[2:]:
        assert f"| `oracle` (ceiling) | `{baseline}` |" in summary
    for name in ("cumulative_conversions.png", "budget_shares.png", "regret.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 1000
    stdout = capsys.readouterr().out
    assert f"wrote {out}" in stdout
    assert "thompson: " in stdout


def test_a_second_run_resumes_from_the_stored_blocks(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["simulate", str(config), "--out", str(out), "--workers", "1"]) == 0
    first = pd.read_csv(out / "results.csv")
    capsys.readouterr()
    assert main(["simulate", str(config), "--out", str(out), "--workers", "2"]) == 0
    assert "(2 blocks resumed)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), first)


def test_a_bad_config_exits_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TINY.replace('kind = "even"', 'kind = "even"\nbudget = 3'), encoding="utf-8")
    assert main(["simulate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert "policies[2].budget" in err
    assert "unknown key" in err
    assert not (tmp_path / "out").exists()


def test_a_missing_config_and_a_bad_executor_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    assert main(["simulate", str(tmp_path / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["simulate", str(config), "--executor", "slurm"]) == 2
    assert main(["simulate", str(config), "--address", "auto", "--out", str(tmp_path / "o")]) == 2
    assert "--address" in capsys.readouterr().err


def test_the_quickstart_config_runs_end_to_end(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parents[2] / "configs" / "experiments" / "quickstart.toml"
    out = tmp_path / "quick"
    assert main(["simulate", str(config), "--out", str(out), "--workers", "2"]) == 0
    frame = pd.read_csv(out / "results.csv")
    assert frame.seed.nunique() == 20
    assert (frame.groupby("policy").oracle_ratio.mean() <= 1.0 + 1e-9).all()
