"""The account report's inputs: windows, alert spans, what changed, edits and retries."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from allocator.core.arms import AdGroup, AdGroupStatus, Kind, Observation
from allocator.job.records import Change, ChangeKind, ChangeState
from allocator.reports.history import (
    JobHistory,
    RunSnapshot,
    alert_spans,
    creative_names,
)
from allocator.reports.job_report import _changes_since, edit_rows

DAY0 = date(2026, 11, 1)


def row(gid: str, budget: float, stage: str = "testing", status: str = "enable") -> dict[str, Any]:
    return {
        "adgroup_id": gid, "from_budget": budget, "to_budget": budget, "from_status": status,
        "to_status": status, "stage": stage, "p_best": 0.5, "cpa_mean": 20.0,
        "cpa_low": 15.0, "cpa_high": 30.0, "reason": "r",
    }  # fmt: skip


def run(
    i: int,
    rows: list[dict[str, Any]],
    alerts: tuple[tuple[str, str | None], ...] = (),
    changes: tuple[Change, ...] = (),
    dry_run: bool = False,
) -> RunSnapshot:
    plan = {
        "as_of": (DAY0 + timedelta(days=i)).isoformat(), "daily_budget": 100.0,
        "shortfall": 0.0, "adgroups": rows,
        "alerts": [{"kind": k, "adgroup_id": g, "message": k} for k, g in alerts],
    }  # fmt: skip
    return RunSnapshot(i + 1, DAY0 + timedelta(days=i), "", "applied", dry_run, plan, changes)


def history(runs: list[RunSnapshot], names: dict[str, str] | None = None) -> JobHistory:
    return JobHistory("acct", "USD", "cpa", 30.0, names or {}, tuple(runs), ())


def change(run_id: int, seq: int, gid: str, state: str, to: str = "50.00") -> Change:
    return Change(
        id=run_id * 100 + seq, run_id=run_id, seq=seq, adgroup_id=gid, kind=ChangeKind.BUDGET,
        from_value="40.00", to_value=to, state=ChangeState(state),
        error="rejected" if state in ("failed", "skipped") else None,
        applied_at="t" if state == "applied" else None,
    )  # fmt: skip


def test_an_alert_span_runs_from_first_raise_to_the_day_it_cleared() -> None:
    runs = [
        run(0, [row("a", 10)], (("fatigued", "a"),)),
        run(1, [row("a", 10)], (("fatigued", "a"), ("shortfall", None))),
        run(2, [row("a", 10)], (("shortfall", None),)),
    ]
    spans = {(s.kind, s.adgroup_id): s for s in alert_spans(history(runs))}
    fatigued = spans[("fatigued", "a")]
    assert (fatigued.first, fatigued.last, fatigued.cleared) == (
        DAY0,
        DAY0 + timedelta(days=1),
        DAY0 + timedelta(days=2),
    )
    shortfall = spans[("shortfall", None)]
    assert (shortfall.first, shortfall.cleared) == (DAY0 + timedelta(days=1), None)


def test_one_run_per_day_prefers_the_applied_run_over_a_dry_run() -> None:
    dry = run(0, [row("a", 10)], dry_run=True)
    applied = run(0, [row("a", 20)])
    later_dry = RunSnapshot(9, DAY0, "", "planned", True, dry.plan)
    h = history([dry, applied, later_dry])
    assert h.daily == (applied,)


def test_what_changed_names_stage_budget_status_and_alerts() -> None:
    runs = [
        run(0, [row("a", 10), row("b", 20), row("c", 5)], (("fatigued", "a"),)),
        run(1, [row("a", 12, stage="scaling"), row("b", 20, status="disable"), row("d", 7)],
            (("auth_expiring", "b"),)),
    ]  # fmt: skip
    lines = _changes_since(history(runs, {"a": "Alpha"}))
    assert "Alpha: stage testing → scaling" in lines
    assert "Alpha: budget 10.00 → 12.00 USD/day" in lines
    assert "b: enabled → disabled" in lines
    assert "d: new, testing, 7.00/day" in lines
    assert "c: no longer in the plan" in lines
    assert "alert raised: auth_expiring (b)" in lines
    assert "alert cleared: fatigued (Alpha)" in lines


def test_a_failed_edit_sent_again_later_is_marked_retried() -> None:
    runs = [
        run(0, [row("a", 40)], changes=(change(1, 1, "a", "failed"), change(1, 2, "b", "failed"),
                                        change(1, 3, "c", "skipped"))),
        run(1, [row("a", 40)], changes=(change(2, 1, "a", "applied"),)),
    ]  # fmt: skip
    outcomes = [(e.adgroup_id, e.outcome) for e in edit_rows(history(runs))]
    assert outcomes == [("a", "failed, retried"), ("b", "failed"), ("a", "applied")]


@pytest.mark.parametrize(
    ("creator", "concept", "post", "name"),
    [
        ("mia", "Spark - mia - post 1", "7300000000000000001", "Spark - mia - post 1 · post …0001"),
        ("mia", "unboxing", "7300000000000000002", "mia · unboxing · post …0002"),
        ("7100000000000000008", "problem-solution", None, "problem-solution"),
    ],
)
def test_creative_names_are_short_and_name_creator_concept_and_post(
    creator: str, concept: str, post: str | None, name: str
) -> None:
    kind = Kind.SPARK if post else Kind.DARK
    group = AdGroup("g", kind, creator, concept, 10.0, AdGroupStatus.ENABLE, post_id=post)
    assert creative_names([group]) == {"g": name}


def test_the_window_keeps_the_last_days_and_managed_delivery_only() -> None:
    from allocator.reports.history import _windowed

    runs = [run(i, [row("a", 10)]) for i in range(40)]
    obs = [Observation(DAY0 + timedelta(days=i), g, 1.0, 10, 1, 0.1) for i in range(40)
           for g in ("a", "unmanaged")]  # fmt: skip
    h = _windowed("acct", ("USD", "cpa", 30.0), runs, ([], obs), 30)
    assert len(h.runs) == 30
    assert h.runs[0].as_of == DAY0 + timedelta(days=10)
    assert {o.adgroup_id for o in h.observations} == {"a"}
    assert min(o.date for o in h.observations) == DAY0 + timedelta(days=9)
