from __future__ import annotations

from typing import Any

import pytest
from sandbox_support import (
    CBO,
    DAY_GROUP,
    SPARK_EXPIRING,
    TOTAL_MODE,
    Sandbox,
    make_sandbox,
)

from allocator.platform.sandbox import DEFAULT_NEW_AUTH_CODE


def budgets(sandbox: Sandbox, *pairs: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    items = [{"adgroup_id": a, "budget": b} for a, b in pairs]
    return sandbox.post("/adgroup/budget/update/", budget=items, **extra)


def budget_of(sandbox: Sandbox, adgroup_id: str) -> float:
    rows = sandbox.get("/adgroup/get/", filtering={"adgroup_ids": [adgroup_id]})["data"]["list"]
    return float(rows[0]["budget"])


def test_budget_update_applies_and_is_recorded(sandbox: Sandbox) -> None:
    body = budgets(sandbox, (DAY_GROUP, 95.5), (SPARK_EXPIRING, 21))
    assert body["code"] == 0
    assert body["data"]["adgroup_ids"] == [DAY_GROUP, SPARK_EXPIRING]
    assert budget_of(sandbox, DAY_GROUP) == 95.5
    edits = sandbox.edits()
    assert [(e["adgroup_id"], e["field"], e["from"], e["to"]) for e in edits] == [
        (DAY_GROUP, "budget", 80.0, 95.5),
        (SPARK_EXPIRING, "budget", 60.0, 21.0),
    ]
    assert all(e["request_id"] == body["request_id"] for e in edits)
    assert all(e["sim_date"] == "2025-06-02" for e in edits)
    assert edits[0]["endpoint"] == "/open_api/v1.3/adgroup/budget/update/"


def test_a_repeated_write_is_recorded_as_unchanged(sandbox: Sandbox) -> None:
    budgets(sandbox, (DAY_GROUP, 90))
    budgets(sandbox, (DAY_GROUP, 90))
    assert [e["changed"] for e in sandbox.edits()] == [True, False]


@pytest.mark.parametrize(
    ("adgroup_id", "amount", "code", "needle"),
    [
        (DAY_GROUP, 20.0, 40002, "greater than 20.00"),
        (DAY_GROUP, 19.99, 40002, "too low"),
        (DAY_GROUP, 50.123, 40002, "two decimal"),
        (DAY_GROUP, "50", 40002, "number"),
        (DAY_GROUP, True, 40002, "number"),
        (CBO, 50.0, 40002, "campaign budget optimization"),
        (TOTAL_MODE, 50.0, 40002, "BUDGET_MODE_TOTAL"),
        ("1810000000000009999", 50.0, 40007, "does not exist"),
        ("abc", 50.0, 40002, "not a valid id"),
    ],
    ids=[
        "at-minimum",
        "below-minimum",
        "three-decimals",
        "string",
        "bool",
        "cbo",
        "total-mode",
        "unknown-id",
        "malformed-id",
    ],
)
def test_invalid_budgets_are_refused_and_nothing_changes(
    sandbox: Sandbox, adgroup_id: str, amount: Any, code: int, needle: str
) -> None:
    body = budgets(sandbox, (SPARK_EXPIRING, 70), (adgroup_id, amount))
    assert body["code"] == code
    assert needle in body["message"]
    assert budget_of(sandbox, SPARK_EXPIRING) == 60.0  # all or nothing
    assert sandbox.edits() == []


def test_just_above_the_minimum_is_accepted(sandbox: Sandbox) -> None:
    assert budgets(sandbox, (DAY_GROUP, 20.01))["code"] == 0


def test_partial_success_applies_the_valid_items(sandbox: Sandbox) -> None:
    body = budgets(sandbox, (DAY_GROUP, 70), (CBO, 70), allow_partial_success=True)
    assert body["code"] == 0
    assert body["data"]["adgroup_ids"] == [DAY_GROUP]
    assert [e["adgroup_id"] for e in body["data"]["error_list"]] == [CBO]
    assert "error_message" in body["data"]["error_list"][0]


def test_batches_above_twenty_are_40061(sandbox: Sandbox) -> None:
    body = budgets(sandbox, *[(DAY_GROUP, 50)] * 21)
    assert body["code"] == 40061


def test_a_batch_naming_an_ad_group_twice_is_refused(sandbox: Sandbox) -> None:
    assert budgets(sandbox, (DAY_GROUP, 50), (DAY_GROUP, 60))["code"] == 40002


def test_empty_and_malformed_batches_are_refused(sandbox: Sandbox) -> None:
    assert sandbox.post("/adgroup/budget/update/", budget=[])["code"] == 40002
    assert sandbox.post("/adgroup/budget/update/")["code"] == 40002
    assert sandbox.post("/adgroup/budget/update/", budget=[{"budget": 50}])["code"] == 40002


def test_adgroup_update_sets_one_budget(sandbox: Sandbox) -> None:
    body = sandbox.post("/adgroup/update/", adgroup_id=DAY_GROUP, budget=66.6)
    assert body["code"] == 0
    assert body["data"]["budget"] == 66.6
    assert sandbox.edits()[0]["endpoint"] == "/open_api/v1.3/adgroup/update/"
    refused = sandbox.post("/adgroup/update/", adgroup_id=CBO, budget=66.6)
    assert refused["code"] == 40002
    unknown = sandbox.post("/adgroup/update/", adgroup_id=DAY_GROUP, bid_price=3)
    assert unknown["code"] == 40009


def status(sandbox: Sandbox, ids: list[str], op: str, **extra: Any) -> dict[str, Any]:
    return sandbox.post("/adgroup/status/update/", adgroup_ids=ids, operation_status=op, **extra)


def test_status_update_disables_and_enables(sandbox: Sandbox) -> None:
    body = status(sandbox, [DAY_GROUP, SPARK_EXPIRING], "DISABLE")
    assert body["code"] == 0
    assert body["data"] == {"adgroup_ids": [DAY_GROUP, SPARK_EXPIRING], "status": "DISABLE"}
    assert status(sandbox, [DAY_GROUP], "ENABLE")["code"] == 0
    assert [(e["field"], e["from"], e["to"]) for e in sandbox.edits()] == [
        ("operation_status", "ENABLE", "DISABLE"),
        ("operation_status", "ENABLE", "DISABLE"),
        ("operation_status", "DISABLE", "ENABLE"),
    ]


def test_deleted_ad_groups_cannot_be_changed(sandbox: Sandbox) -> None:
    assert status(sandbox, [DAY_GROUP], "DELETE")["code"] == 0
    assert status(sandbox, [DAY_GROUP], "ENABLE")["code"] == 40002
    assert budgets(sandbox, (DAY_GROUP, 50))["code"] == 40002


def test_frozen_ad_groups_cannot_be_enabled(sandbox: Sandbox) -> None:
    sandbox.api.account.adgroups[DAY_GROUP].operation_status = "FROZEN"
    body = status(sandbox, [DAY_GROUP], "ENABLE")
    assert body["code"] == 40002
    assert "FROZEN" in body["message"]
    assert status(sandbox, [DAY_GROUP], "DISABLE")["code"] == 0


def test_status_partial_success_lists_the_rejected_ids(sandbox: Sandbox) -> None:
    body = status(
        sandbox, [DAY_GROUP, "1810000000000009999"], "DISABLE", allow_partial_success=True
    )
    assert body["code"] == 0
    assert body["data"]["adgroup_ids"] == [DAY_GROUP]
    assert body["data"]["error_list"][0]["adgroup_id"] == "1810000000000009999"


def test_status_batches_above_twenty_are_40011(sandbox: Sandbox) -> None:
    ids = [f"18100000000000001{i:02d}" for i in range(21)]
    assert status(sandbox, ids, "DISABLE")["code"] == 40011


def test_unknown_operation_status_is_refused(sandbox: Sandbox) -> None:
    assert status(sandbox, [DAY_GROUP], "PAUSE")["code"] == 40002


def test_authorize_binds_a_pending_code_once(sandbox: Sandbox) -> None:
    info = sandbox.get("/tt_video/info/", auth_code=DEFAULT_NEW_AUTH_CODE)["data"]
    assert info["auth_info"]["ad_auth_status"] == "PENDING"
    body = sandbox.post("/tt_video/authorize/", auth_code=DEFAULT_NEW_AUTH_CODE)
    assert body["code"] == 0
    assert body["data"]["item_id"] == "7300000000000000099"
    listed = sandbox.get("/tt_video/list/", page_size=50)["data"]["page_info"]["total_number"]
    assert listed == 9
    again = sandbox.post("/tt_video/authorize/", auth_code=DEFAULT_NEW_AUTH_CODE)
    assert again["code"] == 40002
    assert sandbox.post("/tt_video/authorize/", auth_code="made-up")["code"] == 40002


def test_tokens_are_checked_like_the_platform() -> None:
    box = make_sandbox()
    for token, code in (("", 40104), ("wrong", 40105)):
        answer = box.http.get(
            "/open_api/v1.3/adgroup/get/",
            params={"advertiser_id": "7000000000000000001"},
            headers={"Access-Token": token},
        )
        assert answer.status_code == 200
        assert answer.json()["code"] == code
        assert "wrong" not in answer.text


def test_any_configured_token_is_accepted() -> None:
    box = make_sandbox(tokens=("alpha", "beta"))
    for token in ("alpha", "beta"):
        box.http.headers["Access-Token"] = token
        assert box.get("/adgroup/get/")["code"] == 0
    box.http.headers["Access-Token"] = "sandbox-token"
    assert box.get("/adgroup/get/")["code"] == 40105


def test_another_advertiser_is_40001_and_a_missing_one_40002(sandbox: Sandbox) -> None:
    assert sandbox.get("/adgroup/get/", advertiser_id="123")["code"] == 40001
    answer = sandbox.http.get("/open_api/v1.3/adgroup/get/")
    assert answer.json()["code"] == 40002


def test_unknown_routes_are_404_with_40400(sandbox: Sandbox) -> None:
    answer = sandbox.http.get("/open_api/v1.3/campaign/get/")
    assert answer.status_code == 404
    assert answer.json()["code"] == 40400
    assert sandbox.http.post("/open_api/v1.3/adgroup/get/", json={}).status_code == 404


def test_rate_limit_is_per_token_and_per_second() -> None:
    box = make_sandbox(rate_limit_per_second=3, tokens=("a", "b"))
    box.http.headers["Access-Token"] = "a"
    codes = [box.get("/adgroup/get/")["code"] for _ in range(4)]
    assert codes == [0, 0, 0, 40100]
    box.http.headers["Access-Token"] = "b"
    assert box.get("/adgroup/get/")["code"] == 0
    box.http.headers["Access-Token"] = "a"
    box.clock.t += 1.01
    assert box.get("/adgroup/get/")["code"] == 0


def test_malformed_json_body_is_40002(sandbox: Sandbox) -> None:
    answer = sandbox.http.post("/open_api/v1.3/adgroup/budget/update/", content=b"{nope")
    assert answer.json()["code"] == 40002
