from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, reject, settings
from hypothesis import strategies as st

from allocator.errors import StateError
from allocator.job import REDACTED, Cadence, ChangeKind, ChangeState, Outcome, Store, period_key
from allocator.job.records import budget_text, intended_changes, recorded_plan
from plan_rows import plan_of

SETTINGS = settings(max_examples=40, deadline=None)

# "*ab" texts make tokens that overlap the "***" mask, where one pass of replace() is not enough
texts = st.text(st.characters(codec="utf-8"), max_size=30) | st.text(st.sampled_from("*ab"))
tokens = st.text(st.characters(codec="utf-8"), min_size=8, max_size=40) | st.text(
    st.sampled_from("*ab"), min_size=8, max_size=12
)
budgets = st.integers(min_value=0, max_value=100_000).map(lambda cents: cents / 100)
statuses = st.sampled_from(["enable", "disable"])


@st.composite
def plan_rows(draw: st.DrawFn, min_size: int = 1, max_size: int = 6) -> list[dict[str, Any]]:
    n = draw(st.integers(min_size, max_size))
    return [
        {
            "adgroup_id": f"ag{i}",
            "from_budget": draw(budgets),
            "to_budget": draw(budgets),
            "from_status": draw(statuses),
            "to_status": draw(statuses),
            "stage": draw(st.sampled_from(["testing", "scaling", "paused", "blocked"])),
            "p_best": draw(st.floats(0, 1)),
            "cpa_mean": draw(st.none() | st.floats(0, 1e6)),
            "cpa_low": None,
            "cpa_high": None,
            "reason": draw(texts),
        }
        for i in range(n)
    ]


@contextmanager
def fresh_store(*secrets: str) -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "j.db", secrets=secrets) as s:
        yield s


def stored_text(store: Store) -> list[str]:
    conn = sqlite3.connect(store.path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [
            str(value)
            for t in tables
            for row in conn.execute(f"SELECT * FROM {t}")
            for value in row
            if value is not None
        ]
    finally:
        conn.close()


# ----------------------------------------------------------------------- the token


@SETTINGS
@given(token=tokens, before=texts, after=texts, repeat=st.integers(1, 3))
@example(token="****aaaa", before="*", after="aaaa", repeat=1)
def test_error_text_holding_the_token_is_stored_redacted(
    token: str, before: str, after: str, repeat: int
) -> None:
    error = before + (token + after) * repeat
    with fresh_store(token) as store, store.lock("acme"):
        try:
            run = store.begin_run("acme", "p", "cfg", plan_of([_row("a", 1.0, 2.0)]))
        except StateError:  # a "token" the plan itself holds (e.g. the key "cpa_mean")
            reject()
        stored = store.record_change_result(run.pending[0].id, False, "req", error)
        store.add_alert(run.id, "api", None, error)
        assert stored.error is not None
        assert token not in stored.error
        assert REDACTED in stored.error
        assert all(token not in value for value in stored_text(store))


@SETTINGS
@given(token=tokens, error=texts.filter(bool))
@example(token="cpa_mean", error="0")
def test_text_without_the_token_is_stored_verbatim(token: str, error: str) -> None:
    plan = plan_of([_row("a", 1.0, 2.0)])
    # a token spelled like one of the plan's own keys ("cpa_mean") is refused, rightly
    assume(token not in error and token not in json.dumps(recorded_plan(plan)))
    with fresh_store(token) as store, store.lock("acme"):
        run = store.begin_run("acme", "p", "cfg", plan)
        assert store.record_change_result(run.pending[0].id, False, "r", error).error == error


PLACES = ["reason", "adgroup_id", "alert", "account", "currency"]


@SETTINGS
@given(
    token=tokens,
    before=texts,
    after=texts,
    place=st.sampled_from(PLACES),
    rows=plan_rows(),
    index=st.integers(0, 5),
)
def test_a_plan_holding_the_token_anywhere_is_refused_and_nothing_is_stored(
    token: str, before: str, after: str, place: str, rows: list[dict[str, Any]], index: int
) -> None:
    hidden = before + token + after
    alerts: list[dict[str, Any]] = []
    target = rows[index % len(rows)]
    if place in ("reason", "adgroup_id"):
        target[place] = hidden
    elif place == "alert":
        alerts.append({"kind": "k", "adgroup_id": None, "message": hidden})
    plan = plan_of(rows, alerts, **({place: hidden} if place in ("account", "currency") else {}))
    with fresh_store(token) as store, store.lock("acme"):
        with pytest.raises(StateError, match="contains the access token") as info:
            store.begin_run("acme", "p", "cfg", plan)
        assert token not in str(info.value)
        assert store.runs("acme") == []
        assert all(token not in value for value in stored_text(store))


def _row(adgroup_id: str, from_budget: float, to_budget: float) -> dict[str, Any]:
    return {
        "adgroup_id": adgroup_id,
        "from_budget": from_budget,
        "to_budget": to_budget,
        "from_status": "enable",
        "to_status": "enable",
        "stage": "testing",
        "p_best": 0.0,
        "cpa_mean": None,
        "cpa_low": None,
        "cpa_high": None,
        "reason": "r",
    }


# ------------------------------------------------------------------ intended changes


@SETTINGS
@given(rows=plan_rows(max_size=10))
def test_changes_are_exactly_the_differences_in_a_safe_order(rows: list[dict[str, Any]]) -> None:
    changes = intended_changes(plan_of(rows).adgroups)
    expected = {
        (r["adgroup_id"], ChangeKind.BUDGET)
        for r in rows
        if r["from_budget"] != r["to_budget"] and r["to_status"] == "enable"
    } | {(r["adgroup_id"], ChangeKind.STATUS) for r in rows if r["from_status"] != r["to_status"]}
    assert {(c[0], c[1]) for c in changes} == expected
    assert len(changes) == len(expected)

    def rank(change: tuple[str, ChangeKind, str, str]) -> int:
        _, kind, old, new = change
        if kind is ChangeKind.STATUS:
            return 0 if new == "disable" else 3
        return 1 if float(new) < float(old) else 2

    ranks = [rank(c) for c in changes]
    assert ranks == sorted(ranks)
    # applying any prefix never takes the total budget above the larger of before and after
    live = {r["adgroup_id"]: round(r["from_budget"] * 100) for r in rows}
    after = {  # a disabled ad group keeps its budget
        r["adgroup_id"]: r["to_budget"] if r["to_status"] == "enable" else r["from_budget"]
        for r in rows
    }
    ceiling = max(sum(live.values()), sum(round(b * 100) for b in after.values()))
    for adgroup_id, kind, _, new in changes:
        if kind is ChangeKind.BUDGET:
            live[adgroup_id] = round(float(new) * 100)
        assert sum(live.values()) <= ceiling


@SETTINGS
@given(cents=st.integers(0, 10**9))
def test_budget_text_is_exact_cents(cents: int) -> None:
    assert budget_text(cents / 100) == f"{cents // 100}.{cents % 100:02d}"
    assert round(float(budget_text(cents / 100)) * 100) == cents


# --------------------------------------------------------------- history and settle


@SETTINGS
@given(
    runs=st.lists(
        st.tuples(plan_rows(), st.lists(st.sampled_from(["ok", "fail", "unsent"]), max_size=12)),
        min_size=1,
        max_size=4,
    )
)
def test_history_is_every_applied_change_in_run_then_send_order(
    runs: list[tuple[list[dict[str, Any]], list[str]]],
) -> None:
    expected: list[tuple[int, int, str]] = []
    with fresh_store() as store, store.lock("acme"):
        for day, (rows, actions) in enumerate(runs):
            run = store.begin_run("acme", f"day{day}", "cfg", plan_of(rows))
            # results recorded in reverse to show the order comes from the plan, not the clock
            outcomes = list(zip(run.pending, actions, strict=False))
            for change, action in reversed(outcomes):
                if action == "ok":
                    store.record_change_result(change.id, True, f"r{change.id}")
                    expected.append((run.id, change.seq, change.to_value))
                elif action == "fail":
                    store.record_change_result(change.id, False, "r", "rejected")
            store.finish_run(
                run.id, Outcome.FAILED if store.pending_changes(run.id) else _end(store, run.id)
            )
        expected.sort()
        history = store.history("acme")
        assert [(c.run_id, c.seq, c.to_value) for c in history] == expected
        assert all(c.state is ChangeState.APPLIED and c.applied_at for c in history)


def _end(store: Store, run_id: int) -> Outcome:
    states = [c.state for c in store.changes(run_id)]
    applied, failed = ChangeState.APPLIED in states, ChangeState.FAILED in states
    if applied and failed:
        return Outcome.PARTIAL
    if failed:
        return Outcome.FAILED
    return Outcome.APPLIED if applied else Outcome.NOOP


@SETTINGS
@given(
    rows=plan_rows(),
    attempted=st.lists(st.booleans(), min_size=12, max_size=12),
    live=st.lists(st.sampled_from(["target", "from", "missing"]), min_size=6, max_size=6),
)
def test_settling_applies_exactly_the_attempted_changes_already_in_effect(
    rows: list[dict[str, Any]], attempted: list[bool], live: list[str]
) -> None:
    by_id = {r["adgroup_id"]: r for r in rows}
    live_state: dict[str, tuple[float, bool]] = {}
    for r, where in zip(rows, live, strict=False):
        if where != "missing":
            side = "to" if where == "target" else "from"
            live_state[r["adgroup_id"]] = (r[f"{side}_budget"], r[f"{side}_status"] == "enable")
    with fresh_store() as store, store.lock("acme"):
        run = store.begin_run("acme", "p", "cfg", plan_of(rows))
        for change, flag in zip(run.pending, attempted, strict=False):
            if flag:
                store.mark_attempted(change.id)
        settled = store.settle_pending(run.id, live_state)
        for change in run.pending:
            r = by_id[change.adgroup_id]
            reached = live[rows.index(r)] == "target"
            was_attempted = attempted[change.seq - 1]
            state = store.change(change.id).state
            if reached and was_attempted:
                assert state is ChangeState.APPLIED
            elif reached:
                assert state is ChangeState.SKIPPED
            else:
                assert state is ChangeState.PENDING
        n = len(settled.applied) + len(settled.skipped) + len(settled.pending)
        assert n == len(run.pending)
        assert [c.id for c in settled.pending] == [c.id for c in store.pending_changes(run.id)]


# ---------------------------------------------------------------------- period keys


dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@SETTINGS
@given(d1=dates, d2=dates, cadence=st.sampled_from(list(Cadence)))
def test_period_keys_sort_in_time_order(d1: date, d2: date, cadence: Cadence) -> None:
    if d1 <= d2:
        assert period_key(d1, cadence) <= period_key(d2, cadence)


@SETTINGS
@given(d=dates)
def test_a_weekly_period_is_the_iso_week(d: date) -> None:
    monday = d - timedelta(days=d.weekday())
    assert period_key(d, Cadence.WEEKLY) == period_key(monday, Cadence.WEEKLY)
    assert period_key(d, Cadence.WEEKLY) != period_key(d + timedelta(days=7), Cadence.WEEKLY)
    assert period_key(d) != period_key(d + timedelta(days=1))
