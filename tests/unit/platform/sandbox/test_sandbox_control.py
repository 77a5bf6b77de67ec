from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sandbox_support import DAY_GROUP, SPARK_EXPIRING, Sandbox, make_sandbox

from allocator.errors import ConfigError
from allocator.platform.sandbox import default_scenario, load_scenario


def group_state(sandbox: Sandbox, adgroup_id: str) -> dict[str, Any]:
    state = sandbox.control("GET", "/state")["data"]
    return next(g for g in state["adgroups"] if g["adgroup_id"] == adgroup_id)


def spend_on(sandbox: Sandbox, adgroup_id: str, day: str) -> float:
    rows = sandbox.get(
        "/report/integrated/get/",
        report_type="BASIC",
        data_level="AUCTION_ADGROUP",
        dimensions=["adgroup_id", "stat_time_day"],
        start_date=day,
        end_date=day,
        filtering=[
            {"field_name": "adgroup_ids", "filter_type": "IN", "filter_value": f'["{adgroup_id}"]'}
        ],
    )["data"]["list"]
    return sum(float(r["metrics"]["spend"]) for r in rows)


def test_state_describes_the_account(sandbox: Sandbox) -> None:
    state = sandbox.control("GET", "/state")["data"]
    assert state["advertiser"]["advertiser_id"] == "7000000000000000001"
    assert state["today"] == "2025-06-02"
    assert state["history_start"] == "2025-05-03"
    assert len(state["adgroups"]) == 12
    assert len(state["ads"]) == 12
    assert {a["status"] for a in state["authorizations"]} == {"AUTHORIZED", "REVOKED"}
    assert state["pending_codes"][0]["auth_code"] == "sandbox-new-code-0001"


def test_advance_delivers_days_with_the_new_budgets(sandbox: Sandbox) -> None:
    sandbox.post("/adgroup/budget/update/", budget=[{"adgroup_id": DAY_GROUP, "budget": 200}])
    body = sandbox.control("POST", "/advance", {"days": 2})
    assert body["data"]["today"] == "2025-06-04"
    assert 80.0 < spend_on(sandbox, DAY_GROUP, "2025-06-03") <= 200.0


def test_the_expiring_authorization_lapses_after_three_days(sandbox: Sandbox) -> None:
    sandbox.control("POST", "/advance", {"days": 3})
    assert group_state(sandbox, SPARK_EXPIRING)["secondary_status"] == (
        "ADGROUP_STATUS_ASSET_AUTHORIZATION_LOST"
    )
    assert spend_on(sandbox, SPARK_EXPIRING, "2025-06-04") > 0
    sandbox.control("POST", "/advance", {"days": 1})
    assert spend_on(sandbox, SPARK_EXPIRING, "2025-06-05") == 0.0


def test_revoke_stops_delivery_at_once(sandbox: Sandbox) -> None:
    item = "7300000000000000001"
    assert sandbox.control("POST", "/authorizations/revoke", {"key": item})["code"] == 0
    assert group_state(sandbox, DAY_GROUP)["delivering"] is False
    ads = sandbox.get("/ad/get/", filtering={"adgroup_ids": [DAY_GROUP]})["data"]["list"]
    assert ads[0]["secondary_status"] == "AD_STATUS_CREATOR_AUTHORIZATION_REVOKED"
    sandbox.control("POST", "/advance", {"days": 1})
    assert spend_on(sandbox, DAY_GROUP, "2025-06-02") == 0.0


def test_expire_then_renew_with_a_new_code(sandbox: Sandbox) -> None:
    item = "7300000000000000002"
    sandbox.control("POST", "/authorizations/expire", {"key": item})
    assert group_state(sandbox, SPARK_EXPIRING)["delivering"] is False
    code = sandbox.control("POST", "/authorizations/issue", {"item_id": item, "days": 30})
    new_code = code["data"]["auth_code"]
    assert sandbox.post("/tt_video/authorize/", auth_code=new_code)["code"] == 0
    assert group_state(sandbox, SPARK_EXPIRING)["delivering"] is True
    info = sandbox.get("/tt_video/info/", auth_code=new_code)["data"]["auth_info"]
    assert info["ad_auth_status"] == "AUTHORIZED"
    assert info["auth_end_time"].startswith("2025-07-02")


def test_edits_since_a_sequence_number(sandbox: Sandbox) -> None:
    for amount in (30, 40, 50):
        sandbox.post(
            "/adgroup/budget/update/", budget=[{"adgroup_id": DAY_GROUP, "budget": amount}]
        )
    later = sandbox.control("GET", "/edits?since=1")["data"]["edits"]
    assert [e["to"] for e in later] == [40.0, 50.0]


def test_reset_restores_the_starting_account(sandbox: Sandbox) -> None:
    before = sandbox.control("GET", "/state")["data"]
    sandbox.post("/adgroup/budget/update/", budget=[{"adgroup_id": DAY_GROUP, "budget": 99}])
    sandbox.control("POST", "/advance", {"days": 3})
    sandbox.control("POST", "/reset")
    assert sandbox.control("GET", "/state")["data"] == before
    assert sandbox.edits() == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/advance", {"days": 0}),
        ("POST", "/advance", {"days": 1, "extra": True}),
        ("POST", "/authorizations/revoke", {"key": "nope"}),
        ("POST", "/authorizations/issue", {"item_id": "7300000000000000001", "days": 0}),
    ],
    ids=["zero-days", "unknown-key", "unknown-post", "bad-days"],
)
def test_bad_control_requests_are_refused(
    sandbox: Sandbox, method: str, path: str, body: dict[str, Any]
) -> None:
    assert sandbox.control(method, path, body)["code"] in (40002, 40007)


def test_unknown_control_route_is_404(sandbox: Sandbox) -> None:
    assert sandbox.http.get("/_sandbox/nothing").status_code == 404


def test_control_needs_a_token_and_may_have_its_own() -> None:
    box = make_sandbox()
    assert box.http.get("/_sandbox/state", headers={"Access-Token": ""}).json()["code"] == 40104
    scenario = default_scenario().model_copy(
        update={"api": default_scenario().api.model_copy(update={"control_tokens": ("ctl",)})}
    )
    own = make_sandbox(scenario=scenario)
    assert own.control("GET", "/state")["code"] == 40105  # the API token is not enough
    state = own.http.get("/_sandbox/state", headers={"Access-Token": "ctl"}).json()
    assert state["code"] == 0


def test_same_seed_same_account_other_seed_other_numbers() -> None:
    def spend(seed: int) -> float:
        return spend_on(make_sandbox(seed=seed), DAY_GROUP, "2025-06-01")

    assert spend(5) == spend(5)
    assert spend(5) != spend(6)


SCENARIO = """
history_days = 5
today = "2025-03-10"
seed = 4

[advertiser]
advertiser_id = "7000000000000000042"

[api]
tokens = ["t1"]
max_batch = 2

[simulator]
cpm = 12.0

[[campaigns]]
campaign_id = "1"
name = "c"

[[adgroups]]
adgroup_id = "11"
campaign_id = "1"
name = "spark one"
kind = "spark"
creator = "ann"
budget = 40.0
auth_days_left = 2

[[adgroups]]
adgroup_id = "12"
campaign_id = "1"
name = "dark one"
kind = "dark"
creator = "brand"
"""


def test_a_toml_scenario_builds_its_account(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    box = make_sandbox(scenario=load_scenario(path))
    box.http.headers["Access-Token"] = "t1"
    state = box.control("GET", "/state")["data"]
    assert state["advertiser"]["advertiser_id"] == "7000000000000000042"
    assert state["today"] == "2025-06-02"  # overridden by the test's today
    assert [g["adgroup_id"] for g in state["adgroups"]] == ["11", "12"]
    body = box.http.post(
        "/open_api/v1.3/adgroup/budget/update/",
        json={
            "advertiser_id": "7000000000000000042",
            "budget": [{"adgroup_id": "11", "budget": 30}] * 3,
        },
    ).json()
    assert body["code"] == 40061


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("[api]", "[api]\ncolour = 'red'"), "api.colour"),
        (("cpm = 12.0", "cpm = 12.0\nn_arms = 3"), "simulator"),
        (('kind = "dark"', 'kind = "grey"'), "adgroups[1].kind"),
        (("history_days = 5", "history_days = 5\nsurprise = 1"), "surprise"),
    ],
    ids=["unknown-api-key", "per-arm-simulator-key", "bad-kind", "unknown-top-key"],
)
def test_scenario_errors_name_file_and_key(tmp_path: Path, edit: tuple[str, str], key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.replace(*edit))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert key in str(info.value)


def test_unreadable_or_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_scenario(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("history_days = [")
    with pytest.raises(ConfigError, match="TOML"):
        load_scenario(broken)
