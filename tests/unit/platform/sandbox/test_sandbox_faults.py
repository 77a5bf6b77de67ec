from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sandbox_support import DAY_GROUP, SPARK_EXPIRING, Sandbox, make_sandbox

from allocator.platform.sandbox import FaultRule
from allocator.platform.sandbox.faults import FaultInjector, FaultKind


def set_faults(sandbox: Sandbox, *rules: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"rules": list(rules)}
    if seed is not None:
        body["seed"] = seed
    return sandbox.control("POST", "/faults", body)


def raw_get(sandbox: Sandbox, path: str = "/adgroup/get/") -> httpx.Response:
    return sandbox.http.get(
        f"/open_api/v1.3{path}", params={"advertiser_id": "7000000000000000001"}
    )


def test_http_429_carries_40100_and_retry_after(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "/adgroup/get/", "kind": "http_429", "count": 1})
    first = raw_get(sandbox)
    assert first.status_code == 429
    assert first.json()["code"] == 40100
    assert first.headers["Retry-After"] == "1"
    assert raw_get(sandbox).json()["code"] == 0


@pytest.mark.parametrize(
    ("kind", "http_status", "code"),
    [("rate_limit", 200, 40100), ("server_error", 503, 50000), ("system_timeout", 200, 50002)],
)
def test_error_faults_answer_with_their_codes(
    sandbox: Sandbox, kind: str, http_status: int, code: int
) -> None:
    set_faults(sandbox, {"path": "/adgroup/*", "kind": kind})
    answer = raw_get(sandbox)
    assert answer.status_code == http_status
    assert answer.json()["code"] == code
    assert raw_get(sandbox, "/ad/get/").json()["code"] == 0  # other paths untouched


def test_server_error_status_is_configurable(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "*", "kind": "server_error", "status": 502})
    assert raw_get(sandbox).status_code == 502


def test_drop_closes_without_answer_and_applies_nothing(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "/adgroup/budget/update/", "kind": "drop", "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.post("/adgroup/budget/update/", budget=[{"adgroup_id": DAY_GROUP, "budget": 70}])
    assert sandbox.edits() == []


def test_apply_then_drop_performs_the_write(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "/adgroup/budget/update/", "kind": "apply_then_drop", "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.post("/adgroup/budget/update/", budget=[{"adgroup_id": DAY_GROUP, "budget": 70}])
    edits = sandbox.edits()
    assert [(e["adgroup_id"], e["to"]) for e in edits] == [(DAY_GROUP, 70.0)]


def test_slow_past_the_read_timeout_is_a_timeout_that_still_applied(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "/adgroup/status/update/", "kind": "slow", "delay_s": 30})
    with pytest.raises(httpx.ReadTimeout):
        sandbox.post("/adgroup/status/update/", adgroup_ids=[DAY_GROUP], operation_status="DISABLE")
    assert sandbox.sleeps.calls == [5.0]  # waited the client's read timeout, not 30 s
    assert sandbox.edits()[0]["to"] == "DISABLE"


def test_slow_within_the_timeout_answers_late(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "/adgroup/get/", "kind": "slow", "delay_s": 1.5})
    assert raw_get(sandbox).json()["code"] == 0
    assert sandbox.sleeps.calls == [1.5]


def test_partial_batch_with_partial_success_rejects_some_ids(sandbox: Sandbox) -> None:
    set_faults(
        sandbox,
        {
            "path": "/adgroup/budget/update/",
            "kind": "partial_batch",
            "reject_ids": [SPARK_EXPIRING],
        },
    )
    items = [{"adgroup_id": DAY_GROUP, "budget": 70}, {"adgroup_id": SPARK_EXPIRING, "budget": 70}]
    body = sandbox.post("/adgroup/budget/update/", budget=items, allow_partial_success=True)
    assert body["code"] == 0
    assert body["data"]["adgroup_ids"] == [DAY_GROUP]
    assert [e["adgroup_id"] for e in body["data"]["error_list"]] == [SPARK_EXPIRING]
    assert [e["adgroup_id"] for e in sandbox.edits()] == [DAY_GROUP]


def test_partial_batch_without_partial_success_fails_the_whole_batch(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "/adgroup/status/update/", "kind": "partial_batch"})
    body = sandbox.post(
        "/adgroup/status/update/",
        adgroup_ids=[DAY_GROUP, SPARK_EXPIRING],
        operation_status="DISABLE",
    )
    assert body["code"] == 40002
    assert sandbox.edits() == []


def test_count_and_after_bound_when_a_rule_fires(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "/adgroup/get/", "kind": "rate_limit", "after": 1, "count": 2})
    codes = [raw_get(sandbox).json()["code"] for _ in range(5)]
    assert codes == [0, 40100, 40100, 0, 0]
    described = sandbox.control("GET", "/faults")["data"]["rules"][0]
    assert (described["matched"], described["fired"]) == (5, 2)


def test_probability_faults_repeat_exactly_under_the_same_seed() -> None:
    def pattern(seed: int) -> list[int]:
        box = make_sandbox(rate_limit_per_second=1000)
        set_faults(box, {"path": "*", "kind": "system_timeout", "probability": 0.5}, seed=seed)
        return [raw_get(box).json()["code"] for _ in range(40)]

    first = pattern(11)
    assert first == pattern(11)
    assert first != pattern(12)
    assert 5 < first.count(50002) < 35


def test_method_restricts_a_rule(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "*", "method": "POST", "kind": "system_timeout"})
    assert raw_get(sandbox).json()["code"] == 0
    body = sandbox.post(
        "/adgroup/status/update/", adgroup_ids=[DAY_GROUP], operation_status="ENABLE"
    )
    assert body["code"] == 50002


def test_delete_switches_faults_off(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "*", "kind": "system_timeout"})
    sandbox.control("DELETE", "/faults")
    assert raw_get(sandbox).json()["code"] == 0


@pytest.mark.parametrize(
    "rule",
    [
        {"path": "*", "kind": "explode"},
        {"path": "*", "kind": "slow"},
        {"path": "*", "kind": "drop", "probability": 1.5},
        {"path": "*", "kind": "drop", "colour": "red"},
        {"path": "*", "kind": "server_error", "status": 404},
    ],
    ids=["unknown-kind", "slow-without-delay", "probability", "unknown-key", "not-5xx"],
)
def test_invalid_fault_rules_are_refused(sandbox: Sandbox, rule: dict[str, Any]) -> None:
    assert set_faults(sandbox, rule)["code"] == 40002
    assert sandbox.control("GET", "/faults")["data"]["rules"] == []


def test_control_requests_are_never_faulted(sandbox: Sandbox) -> None:
    set_faults(sandbox, {"path": "*", "kind": "drop"})
    assert sandbox.control("GET", "/state")["code"] == 0


def test_partial_batch_choice_never_empty() -> None:
    injector = FaultInjector(seed=3)
    rule = FaultRule(path="*", kind=FaultKind.PARTIAL_BATCH, reject_fraction=0.01)
    injector.set_rules([rule])
    for _ in range(20):
        fault = injector.choose("POST", "/adgroup/budget/update/")
        assert fault is not None
        assert injector.rejected(fault, ["1", "2", "3"])


def test_the_token_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    box = make_sandbox(tokens=("s3cret-token-value",))
    box.http.headers["Access-Token"] = "s3cret-token-value"
    with caplog.at_level(logging.DEBUG):
        box.get("/adgroup/get/")
        box.http.headers["Access-Token"] = "another-s3cret"
        box.get("/adgroup/get/")
    assert caplog.records
    assert "s3cret" not in caplog.text
    assert "s3cret" not in repr(box.api.settings)
