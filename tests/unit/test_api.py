"""The Python front door: allocator.plan and the read-only files platform behind it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import allocator
from allocator.cli import main
from allocator.errors import ConfigError, DataError, InvalidChangeError
from allocator.platform.base import AdPlatform, BudgetChange, StatusChange
from allocator.platform.files import FileAdPlatform

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "example"
AS_OF = "2026-11-20"


def test_plan_matches_the_command_line_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rebalance", "--config", str(EXAMPLE / "job.toml"), "--as-of", AS_OF, "--json"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    plan = allocator.plan(allocator.load_job_config(EXAMPLE / "job.toml"), as_of=date(2026, 11, 20))
    assert printed.pop("breaker") == {"tripped": False, "reasons": []}  # the CLI's extension
    assert plan.to_json_dict() == printed


def test_frames_and_paths_replace_the_config_files(tmp_path: Path) -> None:
    base = allocator.plan(EXAMPLE / "job.toml", as_of=AS_OF)
    observations = pd.read_csv(EXAMPLE / "observations.csv", dtype=str)
    fewer = observations[observations["adgroup_id"] != "7301001"]
    fewer.to_csv(tmp_path / "obs.csv", index=False)
    from_frame = allocator.plan(EXAMPLE / "job.toml", observations=fewer, as_of=AS_OF)
    from_path = allocator.plan(EXAMPLE / "job.toml", observations=tmp_path / "obs.csv", as_of=AS_OF)
    assert from_frame == from_path
    assert from_frame.run_id != base.run_id  # other data, another plan


def test_a_bad_frame_cell_names_the_frame_line_and_column() -> None:
    observations = pd.read_csv(EXAMPLE / "observations.csv", dtype=str)
    observations.loc[3, "spend"] = "lots"
    with pytest.raises(DataError, match=r"<DataFrame>.*line 5.*spend") as info:
        allocator.plan(EXAMPLE / "job.toml", observations=observations, as_of=AS_OF)
    assert (info.value.line, info.value.column) == (5, "spend")


@pytest.mark.parametrize(
    ("as_of", "match"),
    [("20-11-2026", "as_of must be a date"), ("2999-01-01", "is after today")],
)
def test_a_bad_planning_day_is_a_config_error(as_of: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        allocator.plan(EXAMPLE / "job.toml", as_of=as_of)


def test_an_api_platform_config_needs_both_sources(tmp_path: Path) -> None:
    text = (
        '[account]\nname = "a"\ncurrency = "USD"\ndaily_budget = 100.0\n'
        'objective = "cpa"\ntarget_cpa = 20.0\n\n'
        '[platform]\nkind = "sandbox"\nadvertiser_id = "7000000000000000001"\n'
    )
    (tmp_path / "job.toml").write_text(text, encoding="utf-8")
    adgroups = pd.read_csv(EXAMPLE / "adgroups.csv", dtype=str)
    with pytest.raises(ConfigError, match="pass observations="):
        allocator.plan(tmp_path / "job.toml", adgroups=adgroups, as_of=AS_OF)
    plan = allocator.plan(
        tmp_path / "job.toml",
        adgroups=adgroups,
        observations=EXAMPLE / "observations.csv",
        as_of=AS_OF,
    )
    assert len(plan.adgroups) == len(adgroups)


def test_the_files_platform_reads_its_window_and_refuses_every_write() -> None:
    platform = FileAdPlatform.from_files(
        EXAMPLE / "adgroups.csv", EXAMPLE / "observations.csv", today=date(2026, 11, 20)
    )
    assert isinstance(platform, AdPlatform)
    rows = platform.fetch_observations(date(2026, 11, 18), date(2026, 11, 19))
    assert {o.date for o in rows} == {date(2026, 11, 18), date(2026, 11, 19)}
    assert len(platform.list_adgroups()) == 12
    with pytest.raises(InvalidChangeError, match="read-only") as info:
        platform.update_budgets([BudgetChange("7301001", 50.0)])
    assert info.value.adgroup_id == "7301001"
    with pytest.raises(InvalidChangeError, match="read-only"):
        platform.update_statuses([StatusChange("7301001", False)])


def test_a_value_error_from_the_core_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import allocator.cli.rebalance as command

    def refuse(*_: object) -> None:
        raise ValueError("n_draws must be >= 1, got 0")

    monkeypatch.setattr(command, "run_rebalance", refuse)
    assert main(["rebalance", "--config", str(EXAMPLE / "job.toml"), "--as-of", AS_OF]) == 2
    assert (
        capsys.readouterr().err == "allocator: error: invalid value: n_draws must be >= 1, got 0\n"
    )
