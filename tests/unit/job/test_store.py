from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from allocator.core.arms import AdGroup, AdGroupStatus, Authorization, AuthStatus, Kind, Stage
from allocator.errors import ConfigError, StateError
from allocator.job import (
    LATEST_VERSION,
    REDACTED,
    Cadence,
    ChangeKind,
    ChangeState,
    Disposition,
    Outcome,
    Store,
    migrations,
    period_key,
)
from allocator.plans import Plan
from allocator.platform.base import BudgetChange, StatusChange
from allocator.platform.tiktok import Secret
from plan_rows import plan_of

TOKEN = "tok-3f9c1a7be24d5e60aa"


class Clock:
    """A UTC clock that moves one second per reading."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def row(
    adgroup_id: str,
    from_budget: float,
    to_budget: float,
    from_status: str = "enable",
    to_status: str = "enable",
    stage: str = "testing",
    reason: str = "keep testing",
) -> dict[str, Any]:
    return {
        "adgroup_id": adgroup_id,
        "from_budget": from_budget,
        "to_budget": to_budget,
        "from_status": from_status,
        "to_status": to_status,
        "stage": stage,
        "p_best": 0.25,
        "cpa_mean": 21.5,
        "cpa_low": 15.0,
        "cpa_high": 30.25,
        "reason": reason,
    }


def make_plan(*rows: dict[str, Any], alerts: list[dict[str, Any]] | None = None) -> Plan:
    return plan_of(rows, alerts or [])


PLAN = make_plan(
    row("a", 100, 130, stage="scaling", reason="winner"),
    row("b", 100, 70),
    row("c", 50, 50, "enable", "disable", stage="paused", reason="loser"),
    row("d", 50, 50, "disable", "enable"),
    alerts=[{"kind": "auth_expiring", "adgroup_id": "a", "message": "expires in 3 days"}],
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state" / "job.db", secrets=[TOKEN], clock=Clock()) as s:
        yield s


def apply_all(store: Store, run_id: int) -> None:
    for change in store.pending_changes(run_id):
        store.mark_attempted(change.id)
        store.record_change_result(change.id, True, request_id=f"req-{change.id}")


# ------------------------------------------------------------------------ period keys


@pytest.mark.parametrize(
    ("as_of", "cadence", "key"),
    [
        (date(2026, 11, 20), Cadence.DAILY, "2026-11-20"),
        (date(2026, 11, 20), Cadence.WEEKLY, "2026-W47"),
        (date(2026, 11, 16), Cadence.WEEKLY, "2026-W47"),
        (date(2026, 11, 22), Cadence.WEEKLY, "2026-W47"),
        (date(2026, 11, 23), Cadence.WEEKLY, "2026-W48"),
        (date(2027, 1, 1), Cadence.WEEKLY, "2026-W53"),
        (date(2024, 12, 30), Cadence.WEEKLY, "2025-W01"),
    ],
)
def test_period_key_is_the_day_or_the_iso_week(as_of: date, cadence: Cadence, key: str) -> None:
    assert period_key(as_of, cadence) == key


def test_daily_is_the_default_cadence() -> None:
    assert period_key(date(2026, 1, 2)) == "2026-01-02"


# ------------------------------------------------------------------------- migrations


def _schema(path: Path) -> dict[str, Any]:
    """Structure of a database: columns, indexes (with their SQL), foreign keys."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        out: dict[str, Any] = {}
        for t in tables:
            out[t] = {
                "columns": conn.execute(f"PRAGMA table_xinfo({t})").fetchall(),
                "foreign_keys": conn.execute(f"PRAGMA foreign_key_list({t})").fetchall(),
                "indexes": sorted(
                    (name, unique, partial, conn.execute(f"PRAGMA index_xinfo({name})").fetchall())
                    for _, name, unique, _, partial in conn.execute(f"PRAGMA index_list({t})")
                ),
                "strict": conn.execute(
                    "SELECT strict FROM pragma_table_list WHERE name = ?", (t,)
                ).fetchone(),
            }
        out["index_sql"] = sorted(
            r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql")
        )
        out["versions"] = conn.execute("SELECT version FROM schema_version").fetchall()
        return out
    finally:
        conn.close()


def _build_at(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, now="2026-01-01T00:00:00+00:00", target=version)
    if version >= 1:  # data valid at that version, to be carried through the upgrade
        conn.execute(
            "INSERT INTO runs (account, period, config_hash, fingerprint, dry_run, started, "
            "finished, outcome) VALUES ('acme', '2026-01-01', 'h', 'f', 0, 't0', 't1', 'applied')"
        )
        conn.execute("INSERT INTO plans VALUES (1, '{\"adgroups\": []}')")
        conn.execute(
            "INSERT INTO changes (run_id, seq, adgroup_id, kind, from_value, to_value, state, "
            "applied_at) VALUES (1, 1, 'a', 'budget', '10.00', '12.00', 'applied', 't1')"
        )
    if version >= 2:  # decisions in plan order (not key order): the rebuild keeps it
        for adgroup_id, stage in (("z", "scaling"), ("a", "paused")):
            conn.execute(
                "INSERT INTO decisions (run_id, adgroup_id, stage, reason) VALUES (1, ?, ?, ?)",
                (adgroup_id, stage, f"{stage} for a reason"),
            )
    conn.close()


def test_a_fresh_store_is_at_the_latest_version(tmp_path: Path) -> None:
    with Store.open(tmp_path / "job.db") as s:
        assert s.schema_version == LATEST_VERSION
    versions = _schema(tmp_path / "job.db")["versions"]
    assert versions == [(m.version,) for m in migrations.MIGRATIONS]


@pytest.mark.parametrize("version", range(LATEST_VERSION))
def test_every_older_version_migrates_to_the_fresh_schema_and_keeps_its_data(
    tmp_path: Path, version: int
) -> None:
    with Store.open(tmp_path / "fresh.db"):
        pass
    old = tmp_path / "old.db"
    _build_at(old, version)
    with Store.open(old) as s:
        assert s.schema_version == LATEST_VERSION
        if version >= 1:
            run = s.get_run(1)
            assert (run.account, run.outcome, run.owner) == ("acme", Outcome.APPLIED, None)
            assert [c.to_value for c in s.history("acme")] == ["12.00"]
        if version >= 2:
            assert [(d.adgroup_id, d.stage) for d in s.decisions(1)] == [
                ("z", Stage.SCALING),
                ("a", Stage.PAUSED),
            ]
    assert _schema(old) == _schema(tmp_path / "fresh.db")


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in migrations.MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


def test_a_store_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "job.db"
    with Store.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'future', 'now')", (LATEST_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match=f"schema version {LATEST_VERSION + 1}, newer") as info:
        Store.open(path)
    assert str(path) in str(info.value)


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    with pytest.raises(StateError, match=r"not an allocator store.*customers"):
        Store.open(path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "job.db"
    path.write_bytes(b"this is a text file, not a database" * 100)
    with pytest.raises(StateError, match="cannot use as the job store"):
        Store.open(path)


def test_a_failing_migration_leaves_the_store_at_its_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "job.db"
    with Store.open(path):
        pass
    broken = migrations.Migration(
        LATEST_VERSION + 1, "broken", ("CREATE TABLE half_done (x INTEGER)", "NOT SQL AT ALL")
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST_VERSION", LATEST_VERSION + 1)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrations.migrate(conn, now="t", target=LATEST_VERSION + 1)
    assert migrations.schema_version(conn) == LATEST_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables
    conn.close()


# --------------------------------------------------------------------------- begin_run


def test_a_new_run_records_changes_in_safe_order_with_decisions_and_alerts(store: Store) -> None:
    with store.lock("acme", owner="test"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    assert run.disposition is Disposition.NEW
    assert (run.outcome, run.finished, run.owner) == (None, None, "test")
    assert run.plan["run_id"] == run.id
    assert run.plan["adgroups"] == PLAN.to_json_dict()["adgroups"]
    got = [(c.seq, c.adgroup_id, c.kind, c.from_value, c.to_value) for c in run.pending]
    assert got == [
        (1, "c", ChangeKind.STATUS, "enable", "disable"),
        (2, "b", ChangeKind.BUDGET, "100.00", "70.00"),
        (3, "a", ChangeKind.BUDGET, "100.00", "130.00"),
        (4, "d", ChangeKind.STATUS, "disable", "enable"),
    ]
    assert all(c.state is ChangeState.PENDING and c.attempted_at is None for c in run.pending)
    decisions = store.decisions(run.id)
    assert [(d.adgroup_id, d.stage) for d in decisions] == [
        ("a", Stage.SCALING),
        ("b", Stage.TESTING),
        ("c", Stage.PAUSED),
        ("d", Stage.TESTING),
    ]
    assert (decisions[0].p_best, decisions[0].cpa_low, decisions[0].reason) == (
        0.25,
        15.0,
        "winner",
    )
    assert [(a.kind, a.adgroup_id) for a in store.alerts(run.id)] == [("auth_expiring", "a")]


def test_platform_changes_carry_the_targets(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    assert [c.as_platform_change() for c in run.pending] == [
        StatusChange("c", False),
        BudgetChange("b", 70.0),
        BudgetChange("a", 130.0),
        StatusChange("d", True),
    ]


def test_budgets_equal_to_the_cent_are_no_change(store: Store) -> None:
    plan = make_plan(row("a", 100.001, 100.004), row("b", 10.0, 10.006))
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", plan)
    assert [(c.adgroup_id, c.from_value, c.to_value) for c in run.pending] == [
        ("b", "10.00", "10.01")
    ]


def test_an_apply_run_needs_the_account_lock(store: Store) -> None:
    with pytest.raises(StateError, match="not locked"):
        store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    with store.lock("other"), pytest.raises(StateError, match="'acme' is not locked"):
        store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    assert store.runs("acme") == []


def test_the_same_inputs_again_in_the_period_are_a_noop(store: Store) -> None:
    with store.lock("acme"):
        first = store.begin_run("acme", "2026-11-20", "cfg1", PLAN, inputs_hash="data1")
        apply_all(store, first.id)
        store.finish_run(first.id, Outcome.APPLIED)
        replanned = make_plan(row("a", 130, 150), row("b", 70, 60))  # from live budgets
        again = store.begin_run("acme", "2026-11-20", "cfg1", replanned, inputs_hash="data1")
    assert again.is_noop
    assert (again.id, again.outcome, again.pending) == (first.id, Outcome.APPLIED, ())
    assert [r.id for r in store.runs("acme")] == [first.id]


@pytest.mark.parametrize(
    ("period", "config_hash", "inputs_hash"),
    [
        ("2026-11-21", "cfg1", "data1"),
        ("2026-11-20", "cfg2", "data1"),
        ("2026-11-20", "cfg1", None),
    ],
    ids=["next period", "config changed", "new data"],
)
def test_new_inputs_start_a_new_run(
    store: Store, period: str, config_hash: str, inputs_hash: str | None
) -> None:
    with store.lock("acme"):
        first = store.begin_run("acme", "2026-11-20", "cfg1", PLAN, inputs_hash="data1")
        apply_all(store, first.id)
        store.finish_run(first.id, Outcome.APPLIED)
        second = store.begin_run("acme", period, config_hash, PLAN, inputs_hash=inputs_hash)
    assert second.disposition is Disposition.NEW
    assert second.id != first.id


def test_a_period_that_ended_partial_is_run_again(store: Store) -> None:
    with store.lock("acme"):
        first = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        ids = [c.id for c in first.pending]
        store.record_change_result(ids[0], True, "r1")
        for change_id in ids[1:]:
            store.record_change_result(change_id, False, "r2", "40002: budget too low")
        store.finish_run(first.id, Outcome.PARTIAL)
        again = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    assert again.disposition is Disposition.NEW


def test_another_account_is_independent(store: Store) -> None:
    with store.lock("acme"):
        first = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    with store.lock("globex"):
        other = store.begin_run("globex", "2026-11-20", "cfg1", PLAN)
    assert other.disposition is Disposition.NEW
    assert other.id != first.id


def test_a_dry_run_is_recorded_as_planned_and_does_not_count(store: Store) -> None:
    dry = store.begin_run("acme", "2026-11-20", "cfg1", PLAN, dry_run=True)
    assert (dry.dry_run, dry.outcome, dry.owner) == (True, Outcome.PLANNED, None)
    assert dry.finished is not None
    assert {c.state for c in store.changes(dry.id)} == {ChangeState.SKIPPED}
    with store.lock("acme"):
        real = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    assert real.disposition is Disposition.NEW
    assert len(real.pending) == 4
    assert store.history("acme") == []


def test_an_unfinished_run_is_resumed_with_only_its_pending_changes(tmp_path: Path) -> None:
    path = tmp_path / "job.db"
    with Store.open(path) as s, s.lock("acme"):
        first = s.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        done = first.pending[0]
        s.mark_attempted(done.id)
        s.record_change_result(done.id, True, "req-1")
        s.mark_attempted(first.pending[1].id)
        # the process dies here: no finish_run
    with Store.open(path) as s, s.lock("acme"):
        other_plan = make_plan(row("a", 100, 999))
        again = s.begin_run("acme", "2026-11-20", "cfg2", other_plan)
    assert again.disposition is Disposition.RESUMED
    assert again.id == first.id
    assert again.config_hash == "cfg1"  # the caller can see the config changed meanwhile
    assert (
        again.plan["adgroups"] == PLAN.to_json_dict()["adgroups"]
    )  # the old plan is finished, not the new
    assert [c.id for c in again.pending] == [c.id for c in first.pending[1:]]
    assert again.pending[0].attempted_at is not None


INVALID_PLANS = [
    (make_plan({**row("a", 1, 2), "to_budget": float("nan")}), r"adgroups\[0\]\.to_budget.*finite"),
    (make_plan({**row("a", 1, 2), "from_budget": float("inf")}), r"from_budget.*finite"),
    (make_plan(row("a", 1, -2)), "negative budget"),
    (make_plan({**row("a", 1, 2), "to_status": "paused"}), r"to_status.*'enable'"),
    (make_plan({**row("a", 1, 2), "stage": "winner"}), r"stage must be one of"),
    (make_plan({**row("a", 1, 2), "p_best": 1.5}), r"p_best must be in \[0, 1\]"),
    (make_plan({**row("a", 1, 2), "adgroup_id": ""}), r"adgroup_id must be a non-empty"),
    (make_plan(row("a", 1, 2), row("a", 2, 3)), "appears twice"),
]


@pytest.mark.parametrize(("plan", "match"), INVALID_PLANS)
def test_an_invalid_plan_is_refused_and_nothing_is_recorded(
    store: Store, plan: Plan, match: str
) -> None:
    with store.lock("acme"), pytest.raises(StateError, match=match):
        store.begin_run("acme", "2026-11-20", "cfg1", plan)
    assert store.runs("acme") == []


def test_infinite_cpa_must_come_as_null(store: Store) -> None:
    plan = make_plan({**row("a", 1, 2), "cpa_mean": None, "cpa_high": None})
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", plan)
    assert store.decisions(run.id)[0].cpa_mean is None


# ----------------------------------------------------------------------- change results


def test_recording_results(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        c1, c2 = run.pending[0], run.pending[1]
        store.mark_attempted(c1.id)
        ok = store.record_change_result(c1.id, True, "req-1")
        bad = store.record_change_result(c2.id, False, "req-2", "40002: below minimum")
        again = store.record_change_result(c1.id, True, "req-1")  # a repeated record
    assert (ok.state, ok.request_id, ok.error) == (ChangeState.APPLIED, "req-1", None)
    assert ok.applied_at is not None
    assert ok.attempted_at is not None
    assert ok.attempted_at < ok.applied_at
    assert again == ok
    assert (bad.state, bad.error, bad.applied_at) == (
        ChangeState.FAILED,
        "40002: below minimum",
        None,
    )
    assert bad.attempted_at is not None  # recorded even if mark_attempted was skipped


def test_a_settled_result_cannot_be_contradicted(store: Store) -> None:
    with store.lock("acme"):
        change = store.begin_run("acme", "2026-11-20", "cfg1", PLAN).pending[0]
        store.record_change_result(change.id, True, "req-1")
        with pytest.raises(StateError, match="already applied; cannot record it failed"):
            store.record_change_result(change.id, False, "req-2", "late error")
        with pytest.raises(StateError, match="not pending"):
            store.mark_attempted(change.id)
    assert store.change(change.id).state is ChangeState.APPLIED


@pytest.mark.parametrize(("ok", "error"), [(True, "an error"), (False, None), (False, "")], ids=str)
def test_a_result_is_ok_xor_has_an_error(store: Store, ok: bool, error: str | None) -> None:
    with store.lock("acme"):
        change = store.begin_run("acme", "2026-11-20", "cfg1", PLAN).pending[0]
        with pytest.raises(ValueError, match="error"):
            store.record_change_result(change.id, ok, "r", error)


def test_results_need_the_lock_and_an_open_run(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", make_plan(row("a", 1, 2)))
    with pytest.raises(StateError, match="not locked"):
        store.record_change_result(run.pending[0].id, True, "r")
    with store.lock("acme"):
        store.finish_run(run.id, Outcome.INTERRUPTED)
        with pytest.raises(StateError, match="finished"):
            store.mark_attempted(run.pending[0].id)
    with pytest.raises(StateError, match="no change with id 999"):
        store.change(999)


# -------------------------------------------------------------------------- settle


def test_settling_against_the_live_state(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        c_off, b_down, a_up, d_on = run.pending
        for change in (c_off, b_down, a_up):
            store.mark_attempted(change.id)
        live = {
            "c": (50.0, False),  # attempted and in effect: applied
            "b": (100.0, True),  # attempted, not in effect: pending, send again
            # "a" unknown: stays pending
            "d": (50.0, True),  # never attempted but already at target: skipped
        }
        settled = store.settle_pending(run.id, live)
    assert [c.id for c in settled.applied] == [c_off.id]
    assert settled.applied[0].state is ChangeState.APPLIED
    assert settled.applied[0].request_id is None
    assert [c.id for c in settled.skipped] == [d_on.id]
    assert settled.skipped[0].error is not None
    assert "not sent" in settled.skipped[0].error
    assert [c.id for c in settled.pending] == [b_down.id, a_up.id]
    assert [c.id for c in store.pending_changes(run.id)] == [b_down.id, a_up.id]
    assert [c.id for c in store.history("acme")] == [c_off.id]


def test_budgets_settle_to_the_cent(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", make_plan(row("a", 10, 12.34)))
        store.mark_attempted(run.pending[0].id)
        assert store.settle_pending(run.id, {"a": (12.3449, True)}).applied
        assert store.get_run(run.id).id == run.id


# -------------------------------------------------------------------------- finish


def test_finishing_checks_the_outcome_against_the_changes(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        with pytest.raises(StateError, match="4 change\\(s\\) still pending"):
            store.finish_run(run.id, Outcome.APPLIED)
        with pytest.raises(StateError, match="only dry runs"):
            store.finish_run(run.id, Outcome.PLANNED)
        first, *rest = run.pending
        store.record_change_result(first.id, False, "r", "rejected")
        for change in rest:
            store.record_change_result(change.id, True, "r")
        with pytest.raises(StateError, match="1 change\\(s\\) failed"):
            store.finish_run(run.id, Outcome.APPLIED)
        with pytest.raises(StateError, match="changes were sent"):
            store.finish_run(run.id, Outcome.NOOP)
        done = store.finish_run(run.id, "partial")
        with pytest.raises(StateError, match="already finished"):
            store.finish_run(run.id, Outcome.FAILED)
    assert done.outcome is Outcome.PARTIAL
    assert done.finished is not None


def test_a_run_without_changes_finishes_as_noop(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", make_plan(row("a", 10, 10)))
        assert run.pending == ()
        assert store.finish_run(run.id, Outcome.NOOP).outcome is Outcome.NOOP
        assert store.begin_run("acme", "2026-11-20", "cfg1", PLAN).is_noop


def test_a_failed_run_skips_unsent_changes_and_keeps_unknown_ones_pending(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        sent, unknown, *unsent = run.pending
        store.record_change_result(sent.id, True, "r")
        store.mark_attempted(unknown.id)  # sent, then the connection dropped
        store.finish_run(run.id, Outcome.FAILED)
    states = {c.id: c.state for c in store.changes(run.id)}
    assert states[sent.id] is ChangeState.APPLIED
    assert states[unknown.id] is ChangeState.PENDING
    assert {states[c.id] for c in unsent} == {ChangeState.SKIPPED}
    assert all(store.change(c.id).error == "not sent: the run ended failed" for c in unsent)


# ---------------------------------------------------------------- history and stages


def test_history_lists_applied_changes_run_by_run_in_send_order(store: Store) -> None:
    with store.lock("acme"):
        r1 = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        apply_all(store, r1.id)
        store.finish_run(r1.id, Outcome.APPLIED)
        r2 = store.begin_run(
            "acme", "2026-11-21", "cfg1", make_plan(row("a", 130, 150), row("b", 70, 60))
        )
        # recorded out of order: history still follows the send order
        later, earlier = r2.pending[1], r2.pending[0]
        store.record_change_result(later.id, True, "x")
        store.record_change_result(earlier.id, False, "y", "rejected")
        store.finish_run(r2.id, Outcome.PARTIAL)
    history = store.history("acme")
    assert [(c.run_id, c.adgroup_id, c.to_value) for c in history] == [
        (r1.id, "c", "disable"),
        (r1.id, "b", "70.00"),
        (r1.id, "a", "130.00"),
        (r1.id, "d", "enable"),
        (r2.id, "a", "150.00"),
    ]
    assert store.history("globex") == []


def test_last_stages_come_from_runs_that_took_effect(store: Store) -> None:
    store.begin_run(
        "acme", "2026-11-19", "cfg1", make_plan(row("z", 1, 1, stage="blocked")), dry_run=True
    )
    with store.lock("acme"):
        r1 = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        apply_all(store, r1.id)
        store.finish_run(r1.id, Outcome.APPLIED)
        plan2 = make_plan(
            row("a", 130, 130, stage="paused"),
            row("e", 10, 10, stage="scaling"),
            row("f", 20, 20, "disable", "disable", stage="resting"),
        )
        r2 = store.begin_run("acme", "2026-11-21", "cfg1", plan2)
        store.finish_run(r2.id, Outcome.NOOP)
        r3 = store.begin_run(
            "acme", "2026-11-22", "cfg1", make_plan(row("a", 130, 10, stage="blocked"))
        )
        store.finish_run(r3.id, Outcome.FAILED)
    assert store.last_stages("acme") == {
        "a": Stage.PAUSED,
        "b": Stage.TESTING,
        "c": Stage.PAUSED,
        "d": Stage.TESTING,
        "e": Stage.SCALING,
        "f": Stage.RESTING,
    }
    assert store.last_stages("globex") == {}


def test_authorizations_and_alerts_are_recorded(store: Store) -> None:
    expires = datetime(2026, 11, 23, tzinfo=UTC)
    groups = [
        AdGroup("a", Kind.SPARK, "@maya", "hook1", 100.0, AdGroupStatus.ENABLE, post_id="p1",
                authorization=Authorization(AuthStatus.ACTIVE, expires)),
        AdGroup("b", Kind.DARK, "brand", "hook2", 50.0, AdGroupStatus.ENABLE),
    ]  # fmt: skip
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
    assert store.record_authorizations(run.id, groups) == 2
    store.add_alert(run.id, "partial_apply", "b", "b was rejected")
    seen = store.authorizations("acme")
    assert [(s.adgroup_id, s.post_id, s.status, s.expires_at) for s in seen] == [
        ("a", "p1", AuthStatus.ACTIVE, expires.isoformat()),
        ("b", None, AuthStatus.NONE, None),
    ]
    assert [a.kind for a in store.alerts(run.id)] == ["auth_expiring", "partial_apply"]
    with pytest.raises(StateError, match="no run with id 42"):
        store.add_alert(42, "x", None, "y")


# ------------------------------------------------------------------------ the token


def _all_text(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for t in tables for row in conn.execute(f"SELECT * FROM {t}"))
    finally:
        conn.close()


def test_the_token_is_redacted_from_error_and_alert_text(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        failed = store.record_change_result(
            run.pending[0].id, False, "req", f"401 for Access-Token: {TOKEN} ({TOKEN})"
        )
    store.add_alert(run.id, "api", None, f"token={TOKEN}")
    assert failed.error == f"401 for Access-Token: {REDACTED} ({REDACTED})"
    assert store.alerts(run.id)[-1].message == f"token={REDACTED}"
    assert TOKEN not in _all_text(store.path)


@pytest.mark.parametrize(
    "plan",
    [
        make_plan(row("a", 1, 2, reason=f"see {TOKEN}")),
        make_plan(row(TOKEN, 1, 2)),
        plan_of([row("a", 1, 2)], currency=TOKEN),
        make_plan(row("a", 1, 2), alerts=[{"kind": "x", "adgroup_id": None, "message": TOKEN}]),
    ],
    ids=["reason", "adgroup_id", "currency", "alert"],
)
def test_a_plan_holding_the_token_is_refused(store: Store, plan: Plan) -> None:
    with store.lock("acme"), pytest.raises(StateError, match="contains the access token") as info:
        store.begin_run("acme", "2026-11-20", "cfg1", plan)
    assert TOKEN not in str(info.value)
    assert store.runs("acme") == []


def test_identifiers_holding_the_token_are_refused(store: Store) -> None:
    with store.lock("acme"):
        run = store.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        with pytest.raises(StateError, match="request_id"):
            store.record_change_result(run.pending[0].id, True, TOKEN)
        with pytest.raises(StateError, match="config_hash"):
            store.begin_run("acme", "2026-11-21", f"x{TOKEN}", PLAN)
    with pytest.raises(StateError, match="account"):
        store.begin_run(TOKEN, "2026-11-20", "cfg1", PLAN, dry_run=True)
    with pytest.raises(StateError, match="lock owner"):
        store.lock("acme", owner=TOKEN).__enter__()
    with pytest.raises(StateError, match="refusing to store account"):
        store.lock(f"acct-{TOKEN}").__enter__()
    assert store.change(run.pending[0].id).state is ChangeState.PENDING


def test_the_token_never_reaches_the_files(tmp_path: Path) -> None:
    with Store.open(tmp_path / "job.db", secrets=[Secret(TOKEN)]) as s, s.lock("acme"):
        run = s.begin_run("acme", "2026-11-20", "cfg1", PLAN)
        s.record_change_result(run.pending[0].id, False, "r", f"echo {TOKEN}")
        with pytest.raises(StateError):
            s.record_change_result(run.pending[1].id, True, TOKEN)
    for f in tmp_path.iterdir():
        assert TOKEN.encode() not in f.read_bytes(), f.name


def test_a_token_too_short_to_guard_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shorter than 8"):
        Store.open(tmp_path / "job.db", secrets=["abc"])
