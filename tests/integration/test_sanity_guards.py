"""Issue 13's table of absurd-but-well-formed inputs, each with its new behaviour.

Every case runs ``allocator rebalance`` in process on a copy of the shipped example (its
data ends 2026-11-19): an error naming file, line and column (exit 2), a refusal (exit
1), or an explicit "no changes" plan (exit 0).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from allocator.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "example"
AS_OF = "2026-11-20"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    for name in ("job.toml", "adgroups.csv", "observations.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    return tmp_path / "job.toml"


def rebalance(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["rebalance", "--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("allocator: ")]
    assert len(lines) == 1, err
    return lines[0]


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def drop_column(path: Path, column: str) -> None:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    at = rows[0].index(column)
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([r[:at] + r[at + 1 :] for r in rows])


def edit_config(config: Path, old: str, new: str) -> None:
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new), encoding="utf-8")


# ------------------------------------------------------------ errors: file, line, column

CELL_CASES = [
    # (line, {column: value}, the column blamed, what the reason says)
    pytest.param(5, {"spend": "1e308"}, "spend", "beyond any plausible amount", id="spend-1e308"),
    pytest.param(
        7, {"conversions": "1e20"}, "conversions", "beyond any plausible", id="conversions-1e20"
    ),
    pytest.param(
        4, {"spend": "3500"}, "spend", "in one ad group-day is not plausible", id="spend-3.5x"
    ),
    pytest.param(
        6,
        {"conversions": "2000"},
        "conversions",
        "more than data.max_conversions_per_click = 10",
        id="conversions-per-click",
    ),
    pytest.param(
        8,
        {"impressions": "3", "clicks": "2", "conversions": "5"},
        "conversions",
        "5 conversions above 3 impressions",
        id="conversions-above-impressions",
    ),
]


@pytest.mark.parametrize(("line", "cells", "column", "reason"), CELL_CASES)
def test_an_implausible_observation_is_an_error_naming_file_line_and_column(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    line: int,
    cells: dict[str, str],
    column: str,
    reason: str,
) -> None:
    observations = config.parent / "observations.csv"
    for name, value in cells.items():
        set_cell(observations, line, name, value)
    code, out, err = rebalance(capsys, config, "--as-of", AS_OF)
    assert (code, out) == (EXIT_USAGE, "")
    message = error_line(err)
    assert f"{observations}, line {line}, column '{column}': " in message
    assert reason in message


def test_an_implausible_budget_in_the_adgroups_file_names_its_cell(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    adgroups = config.parent / "adgroups.csv"
    set_cell(adgroups, 3, "budget", "1000000")
    code, _, err = rebalance(capsys, config, "--as-of", AS_OF)
    assert code == EXIT_USAGE
    assert f"{adgroups}, line 3, column 'budget': 1,000,000.00 per day is not plausible" in err


def test_roas_without_a_value_column_is_an_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_config(
        config, 'objective = "cpa"\ntarget_cpa = 25.0', 'objective = "roas"\ntarget_roas = 2.0'
    )
    observations = config.parent / "observations.csv"
    drop_column(observations, "value")
    code, out, err = rebalance(capsys, config, "--as-of", AS_OF)
    assert (code, out) == (EXIT_USAGE, "")
    assert f"{observations}, line 1, column 'value': objective 'roas' needs" in error_line(err)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        pytest.param(
            "daily_budget = 1000.0",
            "daily_budget = 1e15",
            "not a plausible daily budget",
            id="1e15",
        ),
        pytest.param(
            "daily_budget = 1000.0", 'daily_budget = "300"', "must be a number, not text", id="text"
        ),
    ],
)
def test_an_implausible_or_quoted_budget_in_the_config_is_an_error_naming_the_key(
    config: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, reason: str
) -> None:
    edit_config(config, old, new)
    code, out, err = rebalance(capsys, config, "--as-of", AS_OF)
    assert (code, out) == (EXIT_USAGE, "")
    message = error_line(err)
    assert re.search(rf"{re.escape(str(config))}, line \d+, key 'account.daily_budget': ", message)
    assert reason in message


# ------------------------------------------------------------ no data, stale data


def test_observations_with_a_header_only_plan_no_changes_and_say_so(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    observations = config.parent / "observations.csv"
    header = observations.read_text(encoding="utf-8").splitlines()[0]
    observations.write_text(header + "\n", encoding="utf-8")
    code, out, _ = rebalance(capsys, config, "--as-of", AS_OF, "--json")
    assert code == EXIT_OK
    doc = json.loads(out)
    assert all(not _changes(a) for a in doc["adgroups"])
    assert all(a["reason"].startswith("no data: budget and status kept") for a in doc["adgroups"])
    (alert,) = [a for a in doc["alerts"] if a["kind"] == "no_data"]
    assert "no budget or status changes" in alert["message"]
    assert doc["shortfall"] == 0.0


def _changes(row: dict[str, object]) -> bool:
    if row["from_status"] != row["to_status"]:
        return True
    return row["to_status"] == "enable" and row["from_budget"] != row["to_budget"]


def test_stale_data_is_refused_with_one_line_until_allowed(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no --as-of: today (December 2026 or later) is weeks after the export's last day
    code, out, err = rebalance(capsys, config, "--json")
    assert (code, out) == (EXIT_FAILURE, "")
    message = error_line(err)
    assert re.search(r"the newest observation is from 2026-11-19, \d+ days before", message)
    assert "job.max_data_age_days = 2" in message
    assert "--allow-stale-data" in message
    code, out, _ = rebalance(capsys, config, "--json", "--allow-stale-data")
    assert code == EXIT_OK
    assert json.loads(out)["adgroups"]


def test_the_data_age_limit_is_configurable(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_config(config, "max_data_age_days = 2", "max_data_age_days = 3")
    code, _, err = rebalance(capsys, config, "--as-of", "2026-11-22")  # 3 days: allowed
    assert code == EXIT_OK, err
    code, _, err = rebalance(capsys, config, "--as-of", "2026-11-23")  # 4 days: refused
    assert code == EXIT_FAILURE
    assert "4 days before the planning day 2026-11-23 (job.max_data_age_days = 3" in err


def test_the_plan_says_why_the_circuit_breaker_would_hold_it_back(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_config(config, "max_disabled_share = 0.5", "max_disabled_share = 0.01")
    code, out, _ = rebalance(capsys, config, "--as-of", AS_OF)
    assert code == EXIT_OK  # the files platform only plans
    (line,) = [x for x in out.splitlines() if x.startswith("circuit breaker: ")]
    assert "the plan disables ad groups holding" in line
    assert "job.max_disabled_share = 1%" in line
    assert line.endswith("--apply refuses this plan unless --force")
    code, out, _ = rebalance(capsys, config, "--as-of", AS_OF, "--json")
    breaker = json.loads(out)["breaker"]
    assert breaker["tripped"]
    assert breaker["reasons"] == [line.removeprefix("circuit breaker: ").split(": --apply")[0]]
