"""``allocator backtest history`` end to end on the example export."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from allocator.backtest.estimate import ESTIMATE_COLUMNS, POLICY_ORDER
from allocator.backtest.history import DECISION_COLUMNS
from allocator.cli import EXIT_OK, EXIT_USAGE, main

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "example" / "job.toml"


def test_history_writes_summary_csv_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        ["backtest", "history", "--config", str(EXAMPLE), "--out", str(out), "--seeds", "20"]
    )
    assert code == EXIT_OK
    for name in ("summary.md", "decisions.csv", "estimates.csv", "arms.csv"):
        assert (out / name).stat().st_size > 0
    for name in ("shares.png", "estimates.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "decisions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == DECISION_COLUMNS
    assert {r["date"] for r in rows} >= {"2026-10-22", "2026-11-20"}
    with (out / "estimates.csv").open() as handle:
        estimates = list(csv.DictReader(handle))
    assert tuple(estimates[0]) == ESTIMATE_COLUMNS
    assert [r["policy"] for r in estimates] == list(POLICY_ORDER)
    for r in estimates:
        assert (
            float(r["conversions_low"]) <= float(r["conversions"]) <= float(r["conversions_high"])
        )
    summary = (out / "summary.md").read_text()
    assert "actual (logged, as exported)" in summary
    assert "| thompson |" in summary
    assert "actual (logged): " in capsys.readouterr().out


def test_history_json_has_estimates_and_the_actual_outcome(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["backtest", "history", "--config", str(EXAMPLE), "--seeds", "10", "--json"])
    assert code == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["export_date"] == "2026-11-20"
    assert [e["policy"] for e in doc["estimates"]] == list(POLICY_ORDER)
    assert doc["actual"]["spend"] > 0
    assert doc["actual"]["conversions_completed"] > 0
    assert len(doc["arms"]) == 12


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda text: text.replace("daily_budget = 1000.0", "daily_budgett = 1000.0"),
            "daily_budgett",
        ),
        (lambda text: text.replace('kind = "files"', 'kind = "sandbox"'), "platform"),
        (lambda text: text + "\n[engine\n", "invalid TOML"),
    ],
    ids=["unknown key", "not the files platform", "broken TOML"],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: object, message: str
) -> None:
    for name in ("adgroups.csv", "observations.csv"):
        shutil.copy(EXAMPLE.parent / name, tmp_path / name)
    config = tmp_path / "job.toml"
    config.write_text(edit(EXAMPLE.read_text()))  # type: ignore[operator]
    code = main(["backtest", "history", "--config", str(config), "--seeds", "5"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backtest", "history", "--config", str(tmp_path / "nope.toml")])
    assert code == EXIT_USAGE
    assert "not found" in capsys.readouterr().err
