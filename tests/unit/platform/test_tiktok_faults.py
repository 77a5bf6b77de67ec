"""Fault matrix: each injected fault either heals within the retry budget or raises the
documented error; a budget change is never applied twice."""

from __future__ import annotations

from collections import Counter

import pytest
from tiktok_fake import FakeClock, FakeTikTok, standard_account

from allocator.errors import (
    ApiStatusError,
    ApiTransportError,
    AuthError,
    RateLimitedError,
    ServerError,
)
from allocator.platform import BudgetChange, StatusChange
from allocator.platform.tiktok import READ_RETRY, WRITE_RETRY, BudgetPath

BUDGET = "/adgroup/budget/update/"
STATUS = "/adgroup/status/update/"
READ = "/adgroup/get/"

THROTTLE = ["http429", "40100", "40132", "61000"]
SERVER = ["http500", "http503", "50000", "50002", "60001"]
NETWORK = ["read_timeout", "connect_error", "connect_timeout", "dropped"]

# -- reads ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", THROTTLE + SERVER + NETWORK)
def test_a_transient_fault_on_a_read_heals_within_the_retry_budget(fault: str) -> None:
    fake = standard_account()
    fake.inject(READ, fault, fault)
    clock = FakeClock()
    assert len(fake.client(clock).list_adgroups()) == 3
    assert len(fake.calls(READ)) == 3
    assert len(clock.sleeps) == 2
    assert sum(clock.sleeps) < READ_RETRY.total_seconds


@pytest.mark.parametrize(
    ("fault", "error"),
    [(f, RateLimitedError) for f in THROTTLE]
    + [(f, ServerError) for f in SERVER]
    + [(f, ApiTransportError) for f in NETWORK],
)
def test_a_persistent_fault_on_a_read_raises_the_documented_error(
    fault: str, error: type[Exception]
) -> None:
    fake = standard_account()
    fake.inject(READ, *[fault] * 20)
    clock = FakeClock()
    with pytest.raises(error):
        fake.client(clock).list_adgroups()
    assert len(fake.calls(READ)) == READ_RETRY.max_attempts
    assert clock.now <= READ_RETRY.total_seconds


@pytest.mark.parametrize(("fault", "error"), [("bad_token", AuthError), ("40002", ApiStatusError)])
def test_token_and_parameter_errors_on_reads_are_never_retried(
    fault: str, error: type[Exception]
) -> None:
    fake = standard_account()
    fake.inject(READ, fault)
    clock = FakeClock()
    with pytest.raises(error):
        fake.client(clock).list_adgroups()
    assert len(fake.requests) == 1
    assert clock.sleeps == []


# -- budget writes: at most once per intended change ----------------------------------------


def _applied(fake: FakeTikTok) -> Counter[str]:
    return Counter(gid for kind, gid, _ in fake.applied if kind == "budget")


# (fault, POSTs sent, read-backs, outcome ok)
TRANSIENT_WRITE = (
    [(f, 2, 0, True) for f in THROTTLE]  # throttled: not applied, safe to resend
    + [("connect_error", 2, 0, True), ("connect_timeout", 2, 0, True)]  # never reached the server
    + [(f, 2, 1, True) for f in SERVER]  # ambiguous: read back (old value), resend
    + [("read_timeout", 2, 1, True), ("dropped", 2, 1, True)]  # ambiguous, was not applied
    + [
        ("applied_then_read_timeout", 1, 1, True),  # ambiguous, applied: confirmed by read-back
        ("applied_then_dropped", 1, 1, True),
        ("applied_then_50002", 1, 1, True),
    ]
    + [("40002", 1, 0, False)]  # parameter error: reported, not retried
)


@pytest.mark.parametrize("path", [BudgetPath.BATCH, BudgetPath.SINGLE])
@pytest.mark.parametrize(("fault", "posts", "readbacks", "ok"), TRANSIENT_WRITE)
def test_a_fault_on_a_budget_write_applies_the_change_at_most_once(
    path: BudgetPath, fault: str, posts: int, readbacks: int, ok: bool
) -> None:
    fake = standard_account()
    endpoint = BUDGET if path is BudgetPath.BATCH else "/adgroup/update/"
    fake.inject(endpoint, fault)
    clock = FakeClock()
    (result,) = fake.client(clock, budget_path=path).update_budgets([BudgetChange("101", 70.0)])
    assert result.ok is ok, result.error
    assert len(fake.calls(endpoint)) == posts
    assert len(fake.calls(READ)) == readbacks
    assert _applied(fake)["101"] == (1 if ok else 0)
    if ok:
        assert float(fake.adgroups["101"]["budget"]) == 70.0
    else:
        assert result.error
        assert "fault 40002" in result.error


@pytest.mark.parametrize(
    ("fault", "posts", "fragment"),
    [(f, WRITE_RETRY.max_attempts, "not applied") for f in [*THROTTLE, "connect_error"]]
    + [
        (f, 3, "not applied after 3 sends") for f in ["http500", "50002", "read_timeout", "dropped"]
    ],
)
def test_a_persistent_fault_on_a_budget_write_is_reported_not_applied(
    fault: str, posts: int, fragment: str
) -> None:
    fake = standard_account()
    fake.inject(BUDGET, *[fault] * 20)
    clock = FakeClock()
    (result,) = fake.client(clock).update_budgets([BudgetChange("101", 70.0)])
    assert not result.ok
    assert result.error is not None
    assert fragment in result.error
    assert len(fake.calls(BUDGET)) == posts
    assert _applied(fake)["101"] == 0
    assert clock.now <= WRITE_RETRY.total_seconds


def test_a_persistently_ambiguous_write_that_did_apply_is_confirmed_once() -> None:
    fake = standard_account()
    fake.inject(BUDGET, *["applied_then_read_timeout"] * 5)
    (result,) = fake.client().update_budgets([BudgetChange("101", 70.0)])
    assert result.ok
    assert len(fake.calls(BUDGET)) == 1
    assert _applied(fake)["101"] == 1


def test_an_ambiguous_write_whose_read_back_fails_is_not_resent() -> None:
    fake = standard_account()
    fake.inject(BUDGET, "applied_then_dropped")
    fake.inject(READ, *["http500"] * 20)
    (result,) = fake.client().update_budgets([BudgetChange("101", 70.0)])
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("outcome unknown")
    assert len(fake.calls(BUDGET)) == 1
    assert _applied(fake)["101"] == 1


def test_invalid_token_on_a_write_raises_auth_error_and_applies_nothing() -> None:
    fake = standard_account()
    fake.inject(BUDGET, "bad_token")
    with pytest.raises(AuthError) as info:
        fake.client().update_budgets([BudgetChange("101", 70.0)])
    assert info.value.code == 40105
    assert fake.applied == []
    assert len(fake.requests) == 1


def test_mixed_faults_across_batches_apply_every_change_exactly_once() -> None:
    fake = FakeTikTok()
    fake.adgroups = {str(i): {"adgroup_id": str(i), "budget": "30.00"} for i in range(45)}
    fake.inject(BUDGET, "applied_then_dropped", "http500", "40100", "applied_then_50002")
    changes = [BudgetChange(str(i), 40.0 + i) for i in range(45)]
    results = fake.client().update_budgets(changes)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert set(_applied(fake).values()) == {1}
    assert len(_applied(fake)) == 45
    # batch 1: applied, then dropped (1 send, confirmed by read-back); batch 2: 500 (read
    # back, resend), 40100 (retry), applied then 50002 (confirmed): 3 sends; batch 3: 1 send
    assert len(fake.calls(BUDGET)) == 5
    assert all(float(fake.adgroups[str(i)]["budget"]) == 40.0 + i for i in range(45))


def test_a_read_back_resends_only_the_changes_not_yet_in_effect() -> None:
    fake = standard_account()
    fake.adgroups["101"]["budget"] = "70.00"  # already at the target (e.g. applied earlier)
    fake.inject(BUDGET, "http503")
    results = fake.client().update_budgets([BudgetChange("101", 70.0), BudgetChange("103", 25.0)])
    assert [r.ok for r in results] == [True, True]
    second = fake.calls(BUDGET)[1].body["budget"]
    assert second == [{"adgroup_id": "103", "budget": 25.0}]
    assert _applied(fake) == Counter({"103": 1})


# -- status writes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "posts"),
    [("40100", 2), ("connect_error", 2), ("http500", 2), ("applied_then_read_timeout", 1)],
)
def test_a_fault_on_a_status_write_applies_it_at_most_once(fault: str, posts: int) -> None:
    fake = standard_account()
    fake.inject(STATUS, fault)
    results = fake.client().update_statuses(
        [StatusChange("101", False), StatusChange("103", False)]
    )
    assert [r.ok for r in results] == [True, True]
    assert len(fake.calls(STATUS)) == posts
    applied = Counter(gid for kind, gid, _ in fake.applied if kind == "status")
    assert applied == Counter({"101": 1, "103": 1})


def test_partial_success_on_a_status_write_is_reported_per_adgroup_without_retry() -> None:
    fake = standard_account()
    fake.status_reject = {"101": "cannot enable a frozen ad group"}
    results = fake.client().update_statuses([StatusChange("101", True), StatusChange("103", True)])
    assert [r.ok for r in results] == [False, True]
    assert results[0].error is not None
    assert "frozen" in results[0].error
    assert results[0].request_id == "rid"
    assert len(fake.calls(STATUS)) == 1
