"""``allocator rebalance`` on the ``files`` platform, end to end.

Through :func:`allocator.cli.main` (in process) and once through a real subprocess
(``python -m allocator rebalance ...``), on a copy of the shipped example in ``tmp_path``
(the example's data ends 2026-11-19, so it is planned as of 2026-11-20).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from allocator.cli import EXIT_OK, EXIT_USAGE, main
from contracts import ADGROUP_KEYS, ALERT_KEYS, RESULT_KEYS

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "example"
AS_OF = "2026-11-20"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A private copy of the example (config and both CSVs); returns the config path."""
    for name in ("job.toml", "adgroups.csv", "observations.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    return tmp_path / "job.toml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rebalance", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith("allocator: error: ")
    return lines[0]


def csv_ids(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return [row["adgroup_id"] for row in csv.DictReader(f)]


def corrupt(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell of a CSV (``line`` 1-based, the header is line 1)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_the_example_prints_a_table_of_every_ad_group_and_its_alerts(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for every column
    code, out, err = run(capsys, "--config", str(config), "--as-of", AS_OF)
    assert code == EXIT_OK
    assert err == ""
    assert "glowlab-us: plan for 2026-11-20 (daily budget 1,000.00 USD)" in out
    assert "@maya.makes · unboxing" in out
    for adgroup_id in csv_ids(config.parent / "adgroups.csv"):
        assert adgroup_id in out
    for word in ("testing", "blocked", "paused", "P(best)", "CPA (90%)"):
        assert word in out
    assert "planned total " in out
    assert "of 1,000.00 USD" in out
    assert "alerts:" in out
    assert "authorization expires in" in out


def test_the_table_labels_each_alert_with_its_kind(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", str(config), "--as-of", AS_OF)
    assert code == EXIT_OK
    assert "[auth_lapsed] " in out
    assert "[auth_expiring] " in out


def plan_json(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[str, dict[str, Any]]:
    code, out, err = run(capsys, "--config", str(config), "--as-of", AS_OF, "--json")
    assert code == EXIT_OK
    assert err == ""
    doc: dict[str, Any] = json.loads(out)
    return out, doc


def test_json_satisfies_the_plan_contract(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = plan_json(capsys, config)
    assert set(doc) == RESULT_KEYS
    assert doc["account"] == "glowlab-us"
    assert doc["as_of"] == AS_OF
    assert doc["daily_budget"] == 1000.0
    assert [a["adgroup_id"] for a in doc["adgroups"]] == csv_ids(config.parent / "adgroups.csv")
    for a in doc["adgroups"]:
        assert set(a) == ADGROUP_KEYS
        assert a["to_status"] in ("enable", "disable")
        if a["to_status"] == "disable":
            assert a["to_budget"] == 0.0
        else:
            assert a["to_budget"] > 20.0  # TikTok: a daily budget must exceed 20 USD
            assert a["to_budget"] <= 0.4 * doc["daily_budget"]  # max_budget_share
            assert round(a["to_budget"] * 100) == pytest.approx(a["to_budget"] * 100)
    for alert in doc["alerts"]:
        assert set(alert) == ALERT_KEYS
    total = sum(a["to_budget"] for a in doc["adgroups"])
    assert total <= doc["daily_budget"] + 1e-9
    assert doc["planned_total"] == pytest.approx(total)
    assert doc["planned_total"] + doc["shortfall"] == pytest.approx(doc["daily_budget"])


def test_json_reports_the_example_stories(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = plan_json(capsys, config)
    by_id = {a["adgroup_id"]: a for a in doc["adgroups"]}
    with (config.parent / "adgroups.csv").open(newline="") as f:
        rows = {r["adgroup_id"]: r for r in csv.DictReader(f)}
    for adgroup_id, row in rows.items():
        if row["auth_status"] in ("expired", "revoked", "deleted"):
            assert by_id[adgroup_id]["stage"] == "blocked"
            assert by_id[adgroup_id]["to_status"] == "disable"
    kinds = {(a["kind"], a["adgroup_id"]) for a in doc["alerts"]}
    lapsed = [i for i, r in rows.items() if r["auth_status"] in ("expired", "revoked")]
    assert lapsed
    assert all(("auth_lapsed", i) in kinds for i in lapsed)
    assert any(kind == "auth_expiring" for kind, _ in kinds)
    if doc["shortfall"] > 0:
        account_alerts = [a for a in doc["alerts"] if a["adgroup_id"] is None]
        assert [a["kind"] for a in account_alerts] == ["shortfall"]
        assert f"{doc['shortfall']:.2f} USD" in account_alerts[0]["message"]


def test_the_same_inputs_give_byte_identical_json(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = plan_json(capsys, config)
    second, _ = plan_json(capsys, config)
    assert first == second


def test_a_real_subprocess_prints_the_same_json(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_process, _ = plan_json(capsys, config)
    args = ["rebalance", "--config", str(config), "--as-of", AS_OF, "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "allocator", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stderr == ""
    assert done.stdout == in_process


def test_apply_on_the_files_platform_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--config", str(config), "--as-of", AS_OF, "--apply")
    assert code == EXIT_USAGE
    assert out == ""
    line = one_error_line(err)
    assert str(config) in line
    assert "'platform.kind'" in line


def test_an_unknown_config_key_names_file_and_key(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = config.read_text()
    config.write_text(text.replace("[engine]\n", "[engine]\nn_drawz = 10\n", 1))
    code, out, err = run(capsys, "--config", str(config), "--as-of", AS_OF)
    assert code == EXIT_USAGE
    assert out == ""
    line = one_error_line(err)
    assert str(config) in line
    assert "'engine.n_drawz'" in line


def test_a_missing_config_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    code, out, err = run(capsys, "--config", str(missing))
    assert code == EXIT_USAGE
    assert out == ""
    line = one_error_line(err)
    assert str(missing) in line
    assert "not found" in line


def test_bad_toml_names_file_and_line(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = config.read_text().splitlines()
    n = next(i for i, text in enumerate(lines) if text.startswith("daily_budget"))
    lines[n] = "daily_budget = = 1000.0"
    config.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "--config", str(config), "--as-of", AS_OF)
    assert code == EXIT_USAGE
    assert out == ""
    line = one_error_line(err)
    assert str(config) in line
    assert f"line {n + 1}" in line


def test_a_missing_csv_is_named(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config.parent / "observations.csv").unlink()
    code, out, err = run(capsys, "--config", str(config), "--as-of", AS_OF)
    assert code == EXIT_USAGE
    assert out == ""
    assert "observations.csv" in one_error_line(err)


@pytest.mark.parametrize(
    ("file", "line", "column", "value"),
    [
        ("observations.csv", 5, "conversions", "x9"),
        ("observations.csv", 17, "spend", "-3.5"),
        ("observations.csv", 40, "impressions", "nan"),
        ("observations.csv", 8, "date", "2026-13-01"),
        ("observations.csv", 9, "adgroup_id", "9999999"),
        ("adgroups.csv", 3, "kind", "banner"),
        ("adgroups.csv", 6, "budget", "lots"),
        ("adgroups.csv", 4, "status", "running"),
    ],
)
def test_a_bad_csv_cell_is_named_and_nothing_is_planned(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    line: int,
    column: str,
    value: str,
) -> None:
    path = config.parent / file
    corrupt(path, line, column, value)
    code, out, err = run(capsys, "--config", str(config), "--as-of", AS_OF, "--json")
    assert code == EXIT_USAGE
    assert out == ""  # no plan at all, not a partial one
    message = one_error_line(err)
    assert str(path) in message
    assert f"line {line}" in message
    assert column in message


@pytest.mark.parametrize("as_of", ["2099-01-01", "2026-11-31", "yesterday"])
def test_a_future_or_malformed_as_of_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str], as_of: str
) -> None:
    code, out, err = run(capsys, "--config", str(config), "--as-of", as_of)
    assert code == EXIT_USAGE
    assert out == ""
    assert "--as-of" in one_error_line(err)
