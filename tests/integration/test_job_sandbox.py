"""The rebalancing job against the sandbox over real HTTP on 127.0.0.1.

Each test serves a fresh sandbox (the default account, 14 days of history) and runs
``run_rebalance`` (in process, or ``python -m allocator rebalance`` in a subprocess when a
process must be killed or two must race). The checks compare three records that must
agree: the sandbox's own log of applied edits (``/_sandbox/edits``), its live state, and
what the job's store says happened.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import allocator.job.rebalance as job
from allocator.cli import main
from allocator.config import JobConfig, load_job_config
from allocator.core.arms import AdGroupStatus
from allocator.job import ChangeKind, Outcome, Store
from allocator.job.planning import plan_records
from allocator.job.platforms import ClientTuning
from allocator.job.rebalance import RebalanceOptions, run_rebalance
from allocator.job.records import budget_text
from allocator.job.sandbox_demo import demo_scenario
from allocator.platform.base import BudgetChange, StatusChange
from allocator.platform.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_TOKEN, create_sandbox
from allocator.platform.sandbox.server import serve_in_thread
from allocator.platform.tiktok import RetryPolicy, Secret, TikTokClient, TikTokConfig

TOKEN_ENV = "ALLOCATOR_SANDBOX_TOKEN"
ENV = {TOKEN_ENV: DEFAULT_TOKEN}
TODAY = datetime.now(UTC).date()
START = TODAY - timedelta(days=32)
ACCOUNT = "glow"
BUDGET = 460.0
FAST = RetryPolicy(max_attempts=4, initial_wait=0.0, max_wait=0.0, jitter=0.0, total_seconds=10)
TUNING = ClientTuning(timeout=1.0, read_retry=FAST, write_retry=FAST, sleep=lambda _: None)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox() -> Iterator[str]:
    api = create_sandbox(demo_scenario(7, START, 14), rate_limit_per_second=100_000)
    with serve_in_thread(api) as url:
        yield url


@pytest.fixture
def control(sandbox: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox, headers={"Access-Token": DEFAULT_TOKEN}) as http:
        yield http


def write_config(directory: Path, url: str, extra: str = "") -> Path:
    path = directory / "job.toml"
    path.write_text(
        f"""
[account]
name = "{ACCOUNT}"
currency = "USD"
daily_budget = {BUDGET}
target_cpa = 30.0

[platform]
kind = "sandbox"
base_url = "{url}"
advertiser_id = "{DEFAULT_ADVERTISER_ID}"

[engine]
n_draws = 300

[guardrails]
max_step_up = 0.3

[job]
store = "store.sqlite"
{extra}
""",
        encoding="utf-8",
    )
    return path


def rebalance(path: Path, as_of: date, **kwargs: Any) -> tuple[int, dict[str, Any], str]:
    """Run the job in process; returns the exit code, the result as JSON, logs and message."""
    logs = io.StringIO()
    config = load_job_config(path)
    kwargs.setdefault("apply", True)
    options = RebalanceOptions(
        as_of=as_of, today=TODAY, log_stream=logs, environ=ENV, tuning=TUNING, **kwargs
    )
    result = run_rebalance(config, path, options)
    assert result.report is not None
    return int(result.exit_code), result.to_json_dict(), logs.getvalue() + result.report.message


def data(control: httpx.Client, method: str, path: str, body: object = None) -> Any:
    response = control.request(method, path, json=body)
    response.raise_for_status()
    return response.json()["data"]


def sandbox_today(control: httpx.Client) -> date:
    return date.fromisoformat(data(control, "GET", "/_sandbox/state")["today"])


def edits(control: httpx.Client) -> list[dict[str, Any]]:
    return list(data(control, "GET", "/_sandbox/edits")["edits"])


def live(control: httpx.Client) -> dict[str, tuple[str, str]]:
    """``adgroup_id -> (budget text, 'enable'|'disable')`` from the sandbox's own state."""
    return {
        g["adgroup_id"]: (budget_text(float(g["budget"])), g["operation_status"].lower())
        for g in data(control, "GET", "/_sandbox/state")["adgroups"]
    }


def store_history(config: JobConfig) -> list[tuple[str, str, object]]:
    with Store.open(config.job.store) as store:
        return [
            (c.adgroup_id, "budget", budget_text(float(c.to_value)))
            if c.kind is ChangeKind.BUDGET
            else (c.adgroup_id, "operation_status", c.to_value.upper())
            for c in store.history(ACCOUNT)
        ]


def sandbox_history(control: httpx.Client) -> list[tuple[str, str, object]]:
    return [
        (e["adgroup_id"], e["field"], budget_text(e["to"]) if e["field"] == "budget" else e["to"])
        for e in edits(control)
    ]


def last_effective_plan(config: JobConfig) -> dict[str, Any]:
    with Store.open(config.job.store) as store:
        done = [r for r in store.runs(ACCOUNT) if r.outcome in (Outcome.APPLIED, Outcome.NOOP)]
        assert done, "no run took effect"
        return dict(done[-1].plan)


def assert_consistent(control: httpx.Client, path: Path, n_foreign: int = 0) -> None:
    """Sandbox = last applied plan; no edit twice; the store's history = the sandbox's log.

    ``n_foreign``: edits at the start of the log made by someone else (Ads Manager).
    """
    config = load_job_config(path)
    log = edits(control)
    assert all(e["changed"] for e in log), "a change was sent twice (an edit changed nothing)"
    assert store_history(config) == sandbox_history(control)[n_foreign:]
    state = live(control)
    for row in last_effective_plan(config)["adgroups"]:
        budget, status = state[row["adgroup_id"]]
        assert status == row["to_status"], row["adgroup_id"]
        assert budget == budget_text(row["to_budget"]), row["adgroup_id"]


def assert_guardrails(plan: dict[str, Any]) -> None:
    """The plan's budgets respect the account's guardrails (defaults, max_step_up 0.3)."""
    enabled = [a for a in plan["adgroups"] if a["to_status"] == AdGroupStatus.ENABLE]
    assert sum(a["to_budget"] for a in enabled) <= BUDGET + 0.01
    for a in enabled:
        assert a["to_budget"] >= 20.01
        if a["from_status"] == AdGroupStatus.ENABLE:
            assert a["to_budget"] <= a["from_budget"] * 1.3 + 0.011
            assert a["to_budget"] >= a["from_budget"] * 0.5 - 0.011
        assert a["stage"] != "blocked"
    for a in plan["adgroups"]:
        if a["stage"] in ("blocked", "paused"):
            assert a["to_status"] == AdGroupStatus.DISABLE


# ----------------------------------------------------------------------- the daily job


def test_thirty_days_of_apply_keep_the_guardrails_and_the_store_matches_the_sandbox(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    path = write_config(tmp_path, sandbox)
    for _ in range(30):
        day = sandbox_today(control)
        code, out, err = rebalance(path, day)
        assert code == 0, err
        assert out["apply"]["outcome"] in ("applied", "noop"), out["apply"]
        assert_guardrails(out)
        state = live(control)
        on = [gid for gid, (_, status) in state.items() if status == "enable"]
        managed = {a["adgroup_id"] for a in out["adgroups"]}
        assert sum(float(state[g][0]) for g in on if g in managed) <= BUDGET + 0.01
        data(control, "POST", "/_sandbox/advance", {"days": 1})
    assert_consistent(control, path)
    config = load_job_config(path)
    with Store.open(config.job.store) as store:
        runs = store.runs(ACCOUNT)
        assert [r.period for r in runs if not r.dry_run] == [
            (START + timedelta(days=i)).isoformat() for i in range(30)
        ]
        assert {g.adgroup_id for g in store.authorizations(ACCOUNT)} >= {
            a["adgroup_id"] for a in out["adgroups"][:8]
        }


def test_a_dry_run_changes_nothing_and_a_second_apply_is_a_noop(
    tmp_path: Path, control: httpx.Client, sandbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, sandbox, 'report_md = "report.md"')
    day = sandbox_today(control)
    code, out, _ = rebalance(path, day, apply=False)
    assert (code, out["apply"]["outcome"]) == (0, "planned")
    assert edits(control) == []
    assert any(a["from_budget"] != a["to_budget"] for a in out["adgroups"])
    code, out, _ = rebalance(path, day)
    assert (code, out["apply"]["outcome"]) == (0, "applied")
    n_edits = len(edits(control))
    assert n_edits == sum(c["state"] == "applied" for c in out["apply"]["changes"]) > 0
    code, out, _ = rebalance(path, day)
    assert (code, out["apply"]["outcome"]) == (0, "noop")
    assert "already applied" in out["apply"]["message"]
    assert len(edits(control)) == n_edits
    assert not (tmp_path / "report.md").exists()  # the job renders nothing: the CLI does
    monkeypatch.setenv(TOKEN_ENV, DEFAULT_TOKEN)
    assert main(_command(path, day)[3:]) == 0
    assert "**apply: noop**" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert_consistent(control, path)


def test_the_kill_switch_and_the_budget_cap_refuse_to_apply(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    day = sandbox_today(control)
    code, out, err = rebalance(write_config(tmp_path, sandbox, "kill_switch = true"), day)
    assert (code, out["apply"]["outcome"]) == (1, "refused")
    assert "job.kill_switch" in err
    code, out, err = rebalance(write_config(tmp_path, sandbox, "max_budget_moved = 1.0"), day)
    assert (code, out["apply"]["outcome"]) == (1, "refused")
    assert "job.max_budget_moved = 1.00" in err
    assert str(tmp_path / "job.toml") in err
    assert edits(control) == []


def test_a_budget_edited_in_ads_manager_meanwhile_is_refused_unless_allowed(
    tmp_path: Path, control: httpx.Client, sandbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone edits a budget between the plan's read and the apply: the job refuses."""
    path = write_config(tmp_path, sandbox)
    day = sandbox_today(control)
    edited = "1810000000000000004"
    real = plan_records

    def plan_then_edit(*args: Any) -> Any:
        plan = real(*args)
        with httpx.Client() as http:
            settings = TikTokConfig(advertiser_id=DEFAULT_ADVERTISER_ID, base_url=sandbox)
            client = TikTokClient(http, settings, Secret(DEFAULT_TOKEN))
            assert client.update_budgets([BudgetChange(edited, 33.33)])[0].ok
        return plan

    monkeypatch.setattr(job, "plan_records", plan_then_edit)
    code, out, err = rebalance(path, day)
    assert (code, out["apply"]["outcome"]) == (1, "refused")
    assert f"ad group {edited} budget is 33.33, the plan was computed from 45.00" in err
    assert len(edits(control)) == 1
    monkeypatch.setattr(job, "plan_records", real)
    code, out, _ = rebalance(path, day, allow_stale=True)
    assert (code, out["apply"]["outcome"]) == (0, "applied")
    assert_consistent(control, path, n_foreign=1)


def test_a_resting_ad_group_a_person_re_enabled_is_judged_again(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    # revival off, so the resting loser stays out until the person steps in
    path = write_config(tmp_path, sandbox, "[decisions]\nrevive_resting = false\n")
    code, out, _ = rebalance(path, sandbox_today(control))
    assert code == 0
    resting = next(a["adgroup_id"] for a in out["adgroups"] if a["stage"] == "resting")
    data(control, "POST", "/_sandbox/advance", {"days": 1})
    code, out, _ = rebalance(path, sandbox_today(control))
    row = next(a for a in out["adgroups"] if a["adgroup_id"] == resting)
    assert row["reason"].startswith("resting: still below the running creatives")
    with httpx.Client() as http:
        settings = TikTokConfig(advertiser_id=DEFAULT_ADVERTISER_ID, base_url=sandbox)
        client = TikTokClient(http, settings, Secret(DEFAULT_TOKEN))
        assert client.update_statuses([StatusChange(resting, True)])[0].ok
    data(control, "POST", "/_sandbox/advance", {"days": 1})
    code, out, _ = rebalance(path, sandbox_today(control), apply=False)
    row = next(a for a in out["adgroups"] if a["adgroup_id"] == resting)
    assert row["from_status"] == "enable"
    assert not row["reason"].startswith("resting: still below")  # decided afresh


def test_json_logs_and_the_store_never_contain_the_token(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    path = write_config(tmp_path, sandbox)
    data(control, "POST", "/_sandbox/faults", {"rules": FAULTS["partial-batch"][0]})
    code, out, err = rebalance(path, sandbox_today(control), log_json=True)
    assert (code, out["apply"]["outcome"]) == (3, "failed")
    lines = err.strip().splitlines()
    logs = [json.loads(line) for line in lines[:-1]]
    assert {"time", "level", "logger", "message"} <= set(logs[0])
    assert any(entry["logger"] == "allocator.job" for entry in logs)
    assert re.search(r"\d change\(s\) applied, \d failed: \d+ status -> disable: ", lines[-1])
    assert DEFAULT_TOKEN not in err
    for file in tmp_path.iterdir():
        assert DEFAULT_TOKEN.encode() not in file.read_bytes(), file


# ------------------------------------------------------------------------------ faults

WRITES = "/adgroup/*/update/"
RECOVERED, REJECTED, UNKNOWN = ("applied",), ("partial", "failed"), ("interrupted",)
FAULTS: dict[str, tuple[list[dict[str, Any]], tuple[str, ...]]] = {
    # retried by the client within the run
    "rate-limited": ([{"path": "/adgroup/*", "kind": "http_429", "count": 3}], RECOVERED),
    "rate-limit-envelope": ([{"path": WRITES, "kind": "rate_limit", "count": 2}], RECOVERED),
    "server-error": ([{"path": "/adgroup/*", "kind": "server_error", "count": 2}], RECOVERED),
    "dropped": ([{"path": "/adgroup/*", "kind": "drop", "count": 2}], RECOVERED),
    # ambiguous writes: landed, no answer; the client reads back instead of resending
    "system-timeout": ([{"path": WRITES, "kind": "system_timeout", "count": 1}], RECOVERED),
    "read-timeout": ([{"path": WRITES, "kind": "slow", "delay_s": 1.5, "count": 1}], RECOVERED),
    "apply-then-drop": ([{"path": WRITES, "kind": "apply_then_drop", "count": 2}], RECOVERED),
    # rejected: the run ends partial (exit 3) and a re-run plans from the new state
    "partial-batch": ([{"path": WRITES, "kind": "partial_batch", "count": 1}], REJECTED),
    "writes-down": ([{"path": WRITES, "kind": "drop", "after": 1}], REJECTED),
    # landed, and the read-back fails too: outcome unknown, the run stays open to resume
    "ambiguous": (
        [
            {"path": WRITES, "kind": "apply_then_drop", "count": 1},
            {"path": "/adgroup/get/", "kind": "drop", "after": 2},
        ],
        UNKNOWN,
    ),
}


@pytest.mark.parametrize(("rules", "first"), list(FAULTS.values()), ids=list(FAULTS))
def test_after_a_fault_a_rerun_converges_with_nothing_applied_twice(
    tmp_path: Path,
    control: httpx.Client,
    sandbox: str,
    rules: list[dict[str, Any]],
    first: tuple[str, ...],
) -> None:
    path = write_config(tmp_path, sandbox)
    day = sandbox_today(control)
    data(control, "POST", "/_sandbox/faults", {"rules": rules, "seed": 3})
    code, out, err = rebalance(path, day)
    assert all(r["fired"] for r in data(control, "GET", "/_sandbox/faults")["rules"])
    assert out["apply"]["outcome"] in first, out["apply"]
    assert code == {RECOVERED: 0, REJECTED: 3, UNKNOWN: 1}[first], err
    data(control, "DELETE", "/_sandbox/faults")
    code, out, err = rebalance(path, day)
    assert code == 0, err
    if first == UNKNOWN:
        assert out["apply"]["disposition"] == "resumed"
    assert_consistent(control, path)


# ---------------------------------------------------------------------- processes


def _command(path: Path, day: date) -> list[str]:
    return [
        sys.executable, "-m", "allocator", "rebalance", "--config", str(path), "--apply",
        "--as-of", day.isoformat(),
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, **ENV}


def test_a_process_killed_between_two_writes_resumes_and_sends_only_what_is_pending(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    path = write_config(tmp_path, sandbox)
    day = sandbox_today(control)
    # The first write lands but its answer is held: the process dies after it, before the
    # next write, with the first phase attempted and not recorded.
    hold = {"path": WRITES, "method": "POST", "kind": "slow", "delay_s": 60}
    data(control, "POST", "/_sandbox/faults", {"rules": [hold]})
    proc = subprocess.Popen(_command(path, day), env=_env(), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while data(control, "GET", "/_sandbox/faults")["rules"][0]["fired"] == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second write never came"
            time.sleep(0.05)
        time.sleep(0.2)  # the held write has landed in the sandbox; its answer has not
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    landed = len(edits(control))
    data(control, "DELETE", "/_sandbox/faults")
    config = load_job_config(path)
    with Store.open(config.job.store) as store:
        (run,) = store.runs(ACCOUNT)
        assert run.finished is None
        pending = store.pending_changes(run.id)
        n_changes = len(store.changes(run.id))
    attempted = [c for c in pending if c.attempted_at]
    assert 0 < len(attempted) == landed < len(pending) == n_changes
    code, out, err = rebalance(path, day)
    assert code == 0, err
    assert out["apply"]["disposition"] == "resumed"
    assert out["apply"]["store_run_id"] == run.id
    assert len(edits(control)) == n_changes > landed
    assert_consistent(control, path)


def test_two_simultaneous_applies_on_one_account_exactly_one_applies(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    """The second --apply starts while the first is mid-apply (its first write held)."""
    path = write_config(tmp_path, sandbox)
    day = sandbox_today(control)
    hold = {"path": WRITES, "method": "POST", "kind": "slow", "delay_s": 8, "count": 1}
    data(control, "POST", "/_sandbox/faults", {"rules": [hold]})

    def start() -> subprocess.Popen[str]:
        pipe = subprocess.PIPE
        return subprocess.Popen(
            _command(path, day), env=_env(), cwd=tmp_path, stdout=pipe, stderr=pipe, text=True
        )

    first = start()
    deadline = time.monotonic() + 30
    while data(control, "GET", "/_sandbox/faults")["rules"][0]["fired"] == 0:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first run never wrote"
        time.sleep(0.05)
    second = start()
    _, loser = second.communicate(timeout=60)
    assert first.poll() is None, "the first run finished before the second was refused"
    _, winner = first.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 1), (winner, loser)
    assert "is locked by 'pid " in loser
    assert "nothing applied" in loser
    config = load_job_config(path)
    with Store.open(config.job.store) as store:
        assert [r.outcome for r in store.runs(ACCOUNT)] == [Outcome.APPLIED]
    assert_consistent(control, path)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("extra", "env", "needle"),
    [
        pytest.param("[job]\nmax_budget_moved = -1", ENV, "key 'job.max_budget_moved'", id="key"),
        pytest.param(
            "",
            {},
            f"key 'platform.token_env': environment variable {TOKEN_ENV} is not set",
            id="no-token",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line_and_applies_nothing(
    tmp_path: Path,
    control: httpx.Client,
    sandbox: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: str,
    env: dict[str, str],
    needle: str,
) -> None:
    path = write_config(tmp_path, sandbox)
    text = path.read_text(encoding="utf-8")
    if extra:
        text = text.replace("[job]\n", "[job]\n" + extra.split("\n", 1)[1] + "\n")
    path.write_text(text, encoding="utf-8")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(["rebalance", "--config", str(path), "--apply"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert needle in err[0]
    assert edits(control) == []


def test_demo_runs_end_to_end_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--days", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "allocator :" in out
    assert "even split:" in out
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    assert "| day |" in (tmp_path / "demo.md").read_text(encoding="utf-8")
