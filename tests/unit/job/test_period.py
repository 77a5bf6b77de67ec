"""Guardrails per period: start-of-period budgets, anchoring, and the store's send order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from allocator.core.arms import AdGroup, AdGroupStatus, Authorization, AuthStatus, Kind
from allocator.job import Store
from allocator.job.memory import remember
from allocator.job.period import anchor, period_start_budgets, relive
from allocator.job.records import Cadence, ChangeKind, Outcome
from plan_rows import plan_of


def row(gid: str, b0: float, b1: float, s0: str = "enable", s1: str = "enable") -> dict[str, Any]:
    return {
        "adgroup_id": gid, "from_budget": b0, "to_budget": b1, "from_status": s0,
        "to_status": s1, "stage": "testing", "p_best": 0.2, "cpa_mean": 20.0,
        "cpa_low": 10.0, "cpa_high": 30.0, "reason": "r",
    }  # fmt: skip


def group(gid: str, budget: float, enabled: bool = True, edited: date | None = None) -> AdGroup:
    return AdGroup(
        adgroup_id=gid,
        kind=Kind.DARK,
        creator="@c",
        concept="x",
        budget=budget,
        status=AdGroupStatus.ENABLE if enabled else AdGroupStatus.DISABLE,
        authorization=Authorization(AuthStatus.NONE),
        last_edit_date=edited,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "job.db") as s, s.lock("acme"):
        yield s


def plan_on(day: str, *rows: dict[str, Any]) -> Any:
    plan = plan_of(list(rows), [])
    return plan.__class__(**{**plan.__dict__, "as_of": date.fromisoformat(day)})


def test_the_period_start_is_the_first_apply_runs_from_budgets(store: Store) -> None:
    assert period_start_budgets(store, "acme", "2026-11-20") == {}
    store.begin_run("acme", "2026-11-20", "c", plan_on("2026-11-20", row("a", 1, 1)), dry_run=True)
    first = store.begin_run(
        "acme",
        "2026-11-20",
        "c",
        plan_on(
            "2026-11-20",
            row("a", 75.33, 97.92),
            row("b", 50, 0, "enable", "disable"),
            row("c", 40, 30, "disable", "enable"),
            row("d", 40, 0, "disable", "disable"),
        ),
    )
    store.finish_run(first.id, Outcome.FAILED)
    later = plan_on("2026-11-20", row("a", 97.92, 127.29))
    store.finish_run(store.begin_run("acme", "2026-11-20", "c", later).id, Outcome.FAILED)
    assert period_start_budgets(store, "acme", "2026-11-20") == {"a": 75.33, "b": 50, "c": 30}
    assert period_start_budgets(store, "acme", "2026-11-21") == {}


def test_anchoring_plans_enabled_groups_from_the_start_and_relive_restores_the_live(
    store: Store,
) -> None:
    live = [
        group("a", 97.92),
        group("b", 60.0, enabled=False),
        group("c", 30.0, edited=date(2026, 11, 20)),  # a large edit today: keep it
        group("e", 25.0),  # new since the period began
    ]
    start = {"a": 75.33, "b": 50.0, "c": 40.0}
    anchored = anchor(live, start, "2026-11-20", Cadence.DAILY)
    assert [g.budget for g in anchored] == [75.33, 60.0, 30.0, 25.0]
    weekly = anchor(live, start, "2026-W47", Cadence.WEEKLY)
    assert [g.budget for g in weekly] == [75.33, 60.0, 30.0, 25.0]
    plan = plan_on("2026-11-20", row("a", 75.33, 97.93), row("e", 25, 25))
    assert [a.from_budget for a in relive(plan, live).adgroups] == [97.92, 25.0]


def test_edits_of_one_period_are_judged_large_together(store: Store) -> None:
    """+30% twice in a day is +69%: a large edit (> 50%), though neither edit is."""
    for n, (from_budget, to_budget) in enumerate(((75.33, 97.92), (97.92, 127.29))):
        plan = plan_on("2026-11-20", row("a", from_budget, to_budget))
        run = store.begin_run("acme", "2026-11-20", "c", plan, inputs_hash=f"data{n}")
        (change,) = store.pending_changes(run.id)
        store.mark_attempted(change.id)
        store.record_change_result(change.id, True, "r")
        store.finish_run(run.id, Outcome.APPLIED)
    (remembered,) = remember(store, "acme", [group("a", 127.29)], large_edit_fraction=0.5)
    assert remembered.last_edit_date == date(2026, 11, 20)
    (small,) = remember(store, "acme", [group("a", 127.29)], large_edit_fraction=0.7)
    assert small.last_edit_date is None


def test_history_follows_the_send_order_when_a_resumed_run_sends_again(store: Store) -> None:
    """Killed after 10 landed and before 09 and 11 did: the platform applied 10, 09, 11."""
    plan = plan_on("2026-11-20", row("09", 50, 40), row("10", 50, 41), row("11", 50, 42))
    run = store.begin_run("acme", "2026-11-20", "c", plan)
    for change in run.pending:
        store.mark_attempted(change.id)  # one batch attempted; then the process died
    resumed = store.begin_run("acme", "2026-11-20", "c", plan)
    live = {"09": (50.0, True), "10": (41.0, True), "11": (50.0, True)}
    settled = store.settle_pending(resumed.id, live)
    assert [c.adgroup_id for c in settled.applied] == ["10"]
    for change in settled.pending:
        store.mark_attempted(change.id)
        store.record_change_result(change.id, True, f"r-{change.adgroup_id}")
    store.finish_run(resumed.id, Outcome.APPLIED)
    history = store.history("acme")
    assert [(c.adgroup_id, c.kind) for c in history] == [
        ("10", ChangeKind.BUDGET),
        ("09", ChangeKind.BUDGET),
        ("11", ChangeKind.BUDGET),
    ]
    assert [c.seq for c in history] == [2, 1, 3]
