# ruff: noqa: F811  (the sandbox and control fixtures come from test_job_sandbox)
"""Issue 13 against the sandbox over real HTTP: stale data, the circuit breaker, ``--force``
and guardrails per period (partial applies, a kill and convergence runs on one day).

After every step the job's store history equals the sandbox's edit log, in order.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_job_sandbox import (  # noqa: F401  (fixtures: sandbox, control)
    ACCOUNT,
    WRITES,
    _command,
    _env,
    control,
    data,
    edits,
    live,
    rebalance,
    sandbox,
    sandbox_history,
    sandbox_today,
    store_history,
    write_config,
)

from allocator.config import load_job_config
from allocator.errors import StaleDataError
from allocator.job import Outcome, Store

STEP_UP, STEP_DOWN = 0.3, 0.5  # the config's max_step_up, and the default max_step_down


def assert_store_matches_the_edit_log(control: httpx.Client, path: Path) -> None:
    assert store_history(load_job_config(path)) == sandbox_history(control)


def test_stale_data_then_a_breaker_trip_then_force(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    path = write_config(tmp_path, sandbox)
    day = sandbox_today(control)
    # 1. the newest report is from the day before the sandbox's today: 6 days stale
    with pytest.raises(StaleDataError) as stale:
        rebalance(path, day + timedelta(days=5))
    assert stale.value.age_days == 6
    assert "job.max_data_age_days = 2" in str(stale.value)
    assert "--allow-stale-data" in str(stale.value)
    assert edits(control) == []
    # 2. every creator revokes: the plan switches most of the account off
    for auth in data(control, "GET", "/_sandbox/state")["authorizations"]:
        data(control, "POST", "/_sandbox/authorizations/revoke", {"key": auth["item_id"]})
    code, out, err = rebalance(path, day, apply=False)
    assert (code, out["apply"]["outcome"]) == (0, "planned")
    assert out["breaker"]["tripped"]
    assert "of today's budgets" in out["breaker"]["reasons"][0]
    code, out, err = rebalance(path, day)
    assert (code, out["apply"]["outcome"]) == (1, "refused")
    assert "circuit breaker: the plan disables ad groups holding" in err
    assert "pass --force to apply it" in err
    assert edits(control) == []
    assert_store_matches_the_edit_log(control, path)
    with Store.open(load_job_config(path).job.store) as store:
        (run,) = [r for r in store.runs(ACCOUNT) if not r.dry_run]
        assert run.outcome is Outcome.FAILED
        assert [a.kind for a in store.alerts(run.id)][-1] == "circuit_breaker"
    # 3. a person looked at the plan and forces it
    code, out, err = rebalance(path, day, force=True)
    assert (code, out["apply"]["outcome"]) == (0, "applied"), err
    state = live(control)
    disabled = [a["adgroup_id"] for a in out["adgroups"] if a["to_status"] == "disable"]
    assert disabled
    assert all(state[g][1] == "disable" for g in disabled)
    assert_store_matches_the_edit_log(control, path)


def _within_caps(start: dict[str, tuple[str, str]], now: dict[str, tuple[str, str]]) -> None:
    """No ad group enabled at the start of the day moved past the step caps from it."""
    for gid, (budget, status) in start.items():
        if status != "enable" or now[gid][1] != "enable":
            continue
        b0, b1 = float(budget), float(now[gid][0])
        assert b1 <= b0 * (1 + STEP_UP) + 0.011, (gid, b0, b1)
        assert b1 >= b0 * (1 - STEP_DOWN) - 0.011, (gid, b0, b1)


def _kill_mid_apply(path: Path, control: httpx.Client, day: Any) -> None:
    hold = {"path": WRITES, "method": "POST", "kind": "slow", "delay_s": 60}
    data(control, "POST", "/_sandbox/faults", {"rules": [hold]})
    proc = subprocess.Popen(
        _command(path, day), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while data(control, "GET", "/_sandbox/faults")["rules"][0]["fired"] == 0:
            assert proc.poll() is None, proc.communicate()[0].decode()[-3000:]
            assert time.monotonic() < deadline, "the run never wrote"
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=10)
    data(control, "DELETE", "/_sandbox/faults")


def test_partial_applies_a_kill_and_convergence_runs_never_compound_the_step_cap(
    tmp_path: Path, control: httpx.Client, sandbox: str
) -> None:
    path = write_config(tmp_path, sandbox)
    # the step-up cap as a hard bound: by default the engine may lift it where that pays
    # (step_cap_on_shortfall = "by_value"), and the per-period caps follow the engine
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("n_draws = 300", 'n_draws = 300\nstep_cap_on_shortfall = "hold"'),
        encoding="utf-8",
    )
    day = sandbox_today(control)
    start = live(control)
    _, planned, _ = rebalance(path, day, apply=False)
    rows = [a for a in planned["adgroups"] if a["from_status"] == a["to_status"] == "enable"]
    raised = [a["adgroup_id"] for a in rows if a["to_budget"] > a["from_budget"]]
    cuts = any(a["to_budget"] < a["from_budget"] for a in rows)
    assert len(raised) >= 2, planned["adgroups"]
    # 1. a partial apply: one raise rejected, the others land (exit 3); the batch is
    #    refused whole first, then its changes go one by one and the first is refused
    reject = {"path": "/adgroup/budget/update/", "kind": "partial_batch", "count": 2}
    reject |= {"after": int(cuts), "reject_ids": [raised[0]]}
    data(control, "POST", "/_sandbox/faults", {"rules": [reject]})
    code, out, err = rebalance(path, day)
    assert (code, out["apply"]["outcome"]) == (3, "partial"), err
    data(control, "DELETE", "/_sandbox/faults")
    assert any(float(live(control)[g][0]) > float(start[g][0]) for g in raised[1:])
    _within_caps(start, live(control))
    assert_store_matches_the_edit_log(control, path)
    # 2. the convergence run plans from the start of the day, not from the raised budgets
    code, out, err = rebalance(path, day)
    assert code == 0, err
    _within_caps(start, live(control))
    assert_store_matches_the_edit_log(control, path)
    # 3. a smaller budget the same day: the run is killed mid-apply, then resumed
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("daily_budget = 460.0", "daily_budget = 300.0"), encoding="utf-8")
    _kill_mid_apply(path, control, day)
    code, out, err = rebalance(path, day)
    assert code == 0, err
    _within_caps(start, live(control))
    assert_store_matches_the_edit_log(control, path)
    # 4. then a larger one: raises are still measured from the day's start
    path.write_text(text.replace("daily_budget = 460.0", "daily_budget = 560.0"), encoding="utf-8")
    code, out, err = rebalance(path, day)
    assert code == 0, err
    _within_caps(start, live(control))
    assert_store_matches_the_edit_log(control, path)
