"""``allocator validate`` and ``allocator history`` on the example files and a sandbox."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from allocator.cli import main
from allocator.job.sandbox_demo import demo_scenario
from allocator.job.store import Store
from allocator.platform.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_TOKEN, create_sandbox
from allocator.platform.sandbox.server import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "example"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    for name in ("job.toml", "adgroups.csv", "observations.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    return tmp_path / "job.toml"


def test_validate_shows_the_data_and_plans_nothing(
    example: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["validate", "--config", str(example)]) == 0
    out = capsys.readouterr().out
    assert "valid. Account glowlab-us on the files platform; 12 ad groups" in out
    assert "310 rows over 30 days, 2026-10-21 to 2026-11-19" in out
    assert "@maya.makes · unboxing" in out
    assert "revoked" in out
    assert "Nothing was planned or changed." in out
    assert not list(example.parent.glob("*.sqlite"))  # no store was created


def test_validate_json_counts_days_and_age(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--config", str(example), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["n_adgroups"], doc["n_rows"], doc["n_days"]) == (12, 310, 30)
    assert (doc["first"], doc["last"]) == ("2026-10-21", "2026-11-19")
    assert doc["age_days"] >= 17
    by_id = {a["adgroup_id"]: a for a in doc["adgroups"]}
    assert by_id["7301012"]["days"] == 4
    assert by_id["7301005"]["auth"] == "revoked"


def test_validate_lists_the_warnings_one_line_each(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = example.parent / "adgroups.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    csv.write_text(
        "\n".join([lines[0] + ",notes", *(line + ",x" for line in lines[1:])]) + "\n",
        encoding="utf-8",
    )
    assert main(["validate", "--config", str(example), "--json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any("['notes'] are not used" in w for w in warnings)


def test_validate_refuses_bad_data_naming_file_line_and_column(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obs = example.parent / "observations.csv"
    lines = obs.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[2] = "lots"
    lines[3] = ",".join(cells)
    obs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["validate", "--config", str(example)]) == 2
    err = capsys.readouterr().err
    assert "observations.csv" in err
    assert "line 4" in err
    assert "spend" in err


def test_history_without_a_store_says_so(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--config", str(example)]) == 0
    assert "no runs yet" in capsys.readouterr().err


@pytest.fixture
def sandbox_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from datetime import UTC, datetime

    start = datetime.now(UTC).date()  # the sandbox's history ends yesterday
    api = create_sandbox(demo_scenario(7, start, 14), rate_limit_per_second=100_000)
    monkeypatch.setenv("ALLOCATOR_SANDBOX_TOKEN", DEFAULT_TOKEN)
    with serve_in_thread(api) as url:
        path = tmp_path / "job.toml"
        path.write_text(
            f"""[account]
name = "glow"
currency = "USD"
daily_budget = 460.0
target_cpa = 30.0
timezone = "UTC"

[platform]
kind = "sandbox"
base_url = "{url}"
advertiser_id = "{DEFAULT_ADVERTISER_ID}"

[engine]
n_draws = 200

[job]
store = "store.sqlite"
""",
            encoding="utf-8",
        )
        yield path


def test_history_lists_the_applied_run_and_what_changed_per_ad_group(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rebalance", "--config", str(sandbox_config), "--apply"]) == 0
    assert main(["rebalance", "--config", str(sandbox_config), "--apply"]) == 0
    assert "No changes." in capsys.readouterr().out  # the second apply is a no-op
    assert main(["history", "--config", str(sandbox_config), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 1
    with Store.open(sandbox_config.parent / "store.sqlite") as store:
        applied = store.history("glow")
    (run,) = runs
    assert run["outcome"] == "applied"
    assert run["applied"] == len(applied) == len(run["changes"]) > 0
    assert [c[0] for c in run["changes"]] == [c.adgroup_id for c in applied]
    assert all(c[1] for c in run["changes"])  # each ad group by its name
    assert main(["history", "--config", str(sandbox_config), "--days", "3"]) == 0
    text = capsys.readouterr().out
    assert "applied; " + f"{len(applied)} change(s) applied" in text
    assert f"{applied[0].from_value} -> {applied[0].to_value}" in text


def test_history_rejects_a_nonpositive_day_count(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--config", str(example), "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err


def test_validate_reads_names_from_the_sandbox_api(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--config", str(sandbox_config), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["platform"] == "sandbox"
    assert doc["age_days"] == 1
    names = [a["name"] for a in doc["adgroups"]]
    assert any(n.startswith("Spark - ") for n in names)
    assert any("not managing ad group" in w for w in doc["warnings"])  # the client's log
    _ = httpx  # the sandbox is served over real HTTP
