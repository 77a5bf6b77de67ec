from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from allocator.errors import StateError
from allocator.job import AccountLock, ChangeState, Disposition, Outcome, Store, lock_path
from allocator.job.lock import read_holder
from plan_rows import plan_of

TESTS = Path(__file__).resolve().parents[2]
ROWS = {
    "adgroups": [
        {
            "adgroup_id": gid,
            "from_budget": 100.0,
            "to_budget": to,
            "from_status": "enable",
            "to_status": "enable",
            "stage": "testing",
            "p_best": 0.5,
            "cpa_mean": 20.0,
            "cpa_low": 10.0,
            "cpa_high": 30.0,
            "reason": "test",
        }
        for gid, to in (("a", 80.0), ("b", 120.0))
    ],
    "alerts": [],
}
PLAN = plan_of(ROWS["adgroups"])

# A job that waits for a start signal, then tries to apply PLAN under the lock.
APPLIER = """
import json, sys, time, pathlib
from allocator.errors import StateError
from allocator.job import Store
from plan_rows import plan_of
db, owner, go, release, plan = sys.argv[1:6]
store = Store.open(db)
print("ready", flush=True)
while not pathlib.Path(go).exists():
    time.sleep(0.002)
try:
    with store.lock("acme", owner=owner):
        run = store.begin_run("acme", "2026-11-20", "cfg", plan_of(json.loads(plan)["adgroups"]))
        for c in store.pending_changes(run.id):
            store.mark_attempted(c.id)
            store.record_change_result(c.id, True, owner)
        store.finish_run(run.id, "applied")
        print("won", run.disposition.value, flush=True)
        while not pathlib.Path(release).exists():
            time.sleep(0.01)
except StateError as exc:
    print("busy", exc, flush=True)
"""

# A job that applies the first change, marks the second attempted, and hangs.
VICTIM = """
import json, sys, time
from allocator.job import Store
from plan_rows import plan_of
db, plan = sys.argv[1:3]
store = Store.open(db)
with store.lock("acme", owner="victim"):
    run = store.begin_run("acme", "2026-11-20", "cfg", plan_of(json.loads(plan)["adgroups"]))
    first, second = run.pending
    store.mark_attempted(first.id)
    store.record_change_result(first.id, True, "req-1")
    store.mark_attempted(second.id)
    print("holding", flush=True)
    time.sleep(60)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(TESTS)},  # for the plans helper
    )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()


def _line(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    if not line:
        assert p.stderr is not None
        pytest.fail(f"child exited without output: {p.wait(timeout=10)} {p.stderr.read()}")
    return line


# ------------------------------------------------------------------- one process


def test_a_second_holder_is_refused_with_the_holders_name(tmp_path: Path) -> None:
    db = tmp_path / "job.db"
    with Store.open(db) as one, Store.open(db) as two, one.lock("acme", owner="cron@box"):
        with pytest.raises(StateError) as info:
            two.lock("acme", owner="manual").__enter__()
        message = str(info.value)
        assert "'acme' is locked by 'cron@box'" in message
        assert f"pid {os.getpid()}" in message
        assert str(lock_path(db, "acme")) in message
        with two.lock("globex"):  # other accounts are free
            pass
    with Store.open(db) as three, three.lock("acme", owner="manual"):
        holder = read_holder(lock_path(db, "acme"))
    assert holder is not None
    assert (holder.owner, holder.pid) == ("manual", os.getpid())


def test_a_store_cannot_lock_the_same_account_twice(tmp_path: Path) -> None:
    with (
        Store.open(tmp_path / "job.db") as store,
        store.lock("acme"),
        pytest.raises(StateError, match="already locked by this store"),
    ):
        store.lock("acme").__enter__()


def test_the_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    db = tmp_path / "job.db"
    with Store.open(db) as store:
        with pytest.raises(RuntimeError), store.lock("acme"):
            raise RuntimeError("boom")
        with store.lock("acme"):
            pass


def test_waiting_acquires_once_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "acme.lock"
    first = AccountLock(path, "acme", owner="first")
    first.acquire()
    threading.Timer(0.2, first.release).start()
    started = time.monotonic()
    with AccountLock(path, "acme", owner="second", wait=5.0) as second:
        assert second.held
    assert 0.15 < time.monotonic() - started < 4.0
    assert not first.held


def test_waiting_gives_up_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "acme.lock"
    with (
        AccountLock(path, "acme", owner="first"),
        pytest.raises(StateError, match=r"locked by 'first'.* after waiting 0.1 s"),
    ):
        AccountLock(path, "acme", owner="second", wait=0.1).acquire()


def test_an_unrecorded_holder_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "acme.lock"
    with AccountLock(path, "acme", owner="first"):
        path.write_text("")  # as if the holder had not written its name yet
        with pytest.raises(StateError, match="another process \\(not yet recorded\\)"):
            AccountLock(path, "acme", owner="second").acquire()


def test_lock_files_do_not_collide_between_accounts(tmp_path: Path) -> None:
    db = tmp_path / "job.db"
    paths = {lock_path(db, name) for name in ("a/b", "a_b", "a b", "acme")}
    assert len(paths) == 4
    assert all(p.parent == tmp_path and p.name.startswith("job.db.lock-") for p in paths)


# --------------------------------------------------------------- real processes


def test_two_processes_race_and_exactly_one_applies(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    db, go, release = tmp_path / "job.db", tmp_path / "go", tmp_path / "release"
    Store.open(db).close()  # migrate once, so the race is about the lock only
    procs.extend(
        _spawn(APPLIER, str(db), owner, str(go), str(release), json.dumps(ROWS))
        for owner in ("one", "two")
    )
    assert [_line(p) for p in procs] == ["ready", "ready"]
    go.touch()
    results = [_line(p) for p in procs]
    release.touch()
    for p in procs:
        assert p.wait(timeout=30) == 0
    winners = [r for r in results if r.startswith("won")]
    losers = [r for r in results if r.startswith("busy")]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert winners[0] == "won new"
    winner = "one" if results[0].startswith("won") else "two"
    assert f"locked by {winner!r}" in losers[0]
    with Store.open(db) as store:
        (run,) = store.runs("acme")
        assert run.outcome is Outcome.APPLIED
        assert run.owner == winner
        assert [(c.adgroup_id, c.request_id) for c in store.history("acme")] == [
            ("a", winner),
            ("b", winner),
        ]


def test_a_killed_holder_does_not_block_the_next_run_which_resumes(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    db = tmp_path / "job.db"
    victim = _spawn(VICTIM, str(db), json.dumps(ROWS))
    procs.append(victim)
    assert _line(victim) == "holding"
    with Store.open(db) as store:
        with pytest.raises(StateError, match=f"locked by 'victim' \\(pid {victim.pid} "):
            store.lock("acme").__enter__()
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        with store.lock("acme", owner="next"):
            run = store.begin_run("acme", "2026-11-20", "cfg", PLAN)
            assert run.disposition is Disposition.RESUMED
            (second,) = run.pending
            assert (second.adgroup_id, second.attempted_at is not None) == ("b", True)
            # the platform shows b's new budget: the send landed before the kill
            settled = store.settle_pending(run.id, {"a": (80.0, True), "b": (120.0, True)})
            assert [c.id for c in settled.applied] == [second.id]
            store.finish_run(run.id, Outcome.APPLIED)
        assert [c.state for c in store.changes(run.id)] == [ChangeState.APPLIED] * 2
        assert [c.to_value for c in store.history("acme")] == ["80.00", "120.00"]
