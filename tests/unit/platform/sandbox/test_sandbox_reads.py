from __future__ import annotations

import pytest
from sandbox_support import (
    ADV,
    CBO,
    DAY_GROUP,
    SPARK_EXPIRING,
    SPARK_REVOKED,
    TOTAL_MODE,
    Sandbox,
)


def test_adgroup_get_answers_in_the_platform_envelope(sandbox: Sandbox) -> None:
    body = sandbox.get("/adgroup/get/", page_size=100)
    assert set(body) == {"code", "message", "request_id", "data"}
    assert body["code"] == 0
    assert body["message"] == "OK"
    assert isinstance(body["request_id"], str)
    assert body["request_id"]
    assert body["data"]["page_info"] == {
        "page": 1,
        "page_size": 100,
        "total_number": 12,
        "total_page": 1,
    }
    groups = {g["adgroup_id"]: g for g in body["data"]["list"]}
    assert groups[DAY_GROUP]["budget_mode"] == "BUDGET_MODE_DAY"
    assert groups[DAY_GROUP]["budget"] == 80.0
    assert groups[TOTAL_MODE]["budget_mode"] == "BUDGET_MODE_TOTAL"
    assert groups[CBO]["budget"] == 0.0
    assert groups[CBO]["budget_mode"] == "BUDGET_MODE_INFINITE"
    assert groups[SPARK_REVOKED]["secondary_status"] == "ADGROUP_STATUS_ASSET_AUTHORIZATION_LOST"
    assert all(g["advertiser_id"] == ADV for g in groups.values())


def test_adgroup_pages_cover_every_ad_group_once(sandbox: Sandbox) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        data = sandbox.get("/adgroup/get/", page=page, page_size=5)["data"]
        assert data["page_info"]["total_page"] == 3
        seen += [g["adgroup_id"] for g in data["list"]]
    assert len(seen) == 12 == len(set(seen))
    assert sandbox.get("/adgroup/get/", page=4, page_size=5)["data"]["list"] == []


def test_default_page_size_is_ten(sandbox: Sandbox) -> None:
    data = sandbox.get("/adgroup/get/")["data"]
    assert len(data["list"]) == 10
    assert data["page_info"]["page_size"] == 10


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"page_size": 1001}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"fields": "not json"}, "fields"),
        ({"fields": ["adgroup_id", "nope"]}, "nope"),
        ({"filtering": "[1"}, "filtering"),
        ({"filtering": {"colour": "red"}}, "colour"),
        ({"filtering": {"adgroup_ids": [str(i) for i in range(101)]}}, "adgroup_ids"),
    ],
    ids=[
        "page_size-too-big",
        "page_size-zero",
        "page-zero",
        "page-not-int",
        "fields-not-json",
        "unknown-field",
        "filtering-not-json",
        "unknown-filter",
        "too-many-filter-ids",
    ],
)
def test_bad_read_parameters_are_40002_naming_the_parameter(
    sandbox: Sandbox, params: dict[str, object], needle: str
) -> None:
    body = sandbox.get("/adgroup/get/", **params)
    assert body["code"] == 40002
    assert needle in body["message"]
    assert body["data"] == {}


def test_fields_pick_the_returned_keys(sandbox: Sandbox) -> None:
    rows = sandbox.get("/adgroup/get/", fields=["adgroup_id", "budget"])["data"]["list"]
    assert all(set(r) == {"adgroup_id", "budget"} for r in rows)


def test_filtering_by_ids_and_campaign(sandbox: Sandbox) -> None:
    wanted = [DAY_GROUP, SPARK_EXPIRING]
    rows = sandbox.get("/adgroup/get/", filtering={"adgroup_ids": wanted})["data"]["list"]
    assert [r["adgroup_id"] for r in rows] == wanted
    rows = sandbox.get("/adgroup/get/", filtering={"campaign_ids": ["1800000000000000003"]})[
        "data"
    ]["list"]
    assert [r["adgroup_id"] for r in rows] == [CBO]


def test_deleted_ad_groups_are_listed_only_when_asked(sandbox: Sandbox) -> None:
    body = sandbox.post(
        "/adgroup/status/update/", adgroup_ids=[DAY_GROUP], operation_status="DELETE"
    )
    assert body["code"] == 0
    ids = [r["adgroup_id"] for r in sandbox.get("/adgroup/get/", page_size=50)["data"]["list"]]
    assert DAY_GROUP not in ids
    every = sandbox.get(
        "/adgroup/get/", page_size=50, filtering={"secondary_status": "ADGROUP_STATUS_ALL"}
    )["data"]["list"]
    deleted = [r for r in every if r["adgroup_id"] == DAY_GROUP]
    assert deleted[0]["secondary_status"] == "ADGROUP_STATUS_DELETE"


def test_ads_say_spark_or_dark(sandbox: Sandbox) -> None:
    ads = sandbox.get("/ad/get/", page_size=100)["data"]["list"]
    assert len(ads) == 12
    spark = [a for a in ads if a["identity_type"] == "AUTH_CODE"]
    dark = [a for a in ads if a["identity_type"] == "CUSTOMIZED_USER"]
    assert len(spark) == 8
    assert len(dark) == 4
    assert all(a["tiktok_item_id"] and a["video_id"] is None for a in spark)
    assert all(a["tiktok_item_id"] is None and a["video_id"] for a in dark)
    revoked = [a for a in spark if a["adgroup_id"] == SPARK_REVOKED]
    assert revoked[0]["secondary_status"] == "AD_STATUS_CREATOR_AUTHORIZATION_REVOKED"


def test_ads_filter_by_ad_group(sandbox: Sandbox) -> None:
    ads = sandbox.get("/ad/get/", filtering={"adgroup_ids": [SPARK_EXPIRING]})["data"]["list"]
    assert [a["adgroup_id"] for a in ads] == [SPARK_EXPIRING]


def test_tt_video_list_shows_bound_posts_with_auth_times(sandbox: Sandbox) -> None:
    data = sandbox.get("/tt_video/list/", page_size=50)["data"]
    posts = data["list"]
    assert data["page_info"]["total_number"] == 8
    statuses = sorted(p["auth_info"]["ad_auth_status"] for p in posts)
    assert statuses == ["AUTHORIZED"] * 7 + ["REVOKED"]
    expiring = [p for p in posts if p["auth_info"]["auth_end_time"] == "2025-06-05 00:00:00"]
    assert len(expiring) == 1
    assert expiring[0]["user_info"]["identity_type"] == "AUTH_CODE"


def test_tt_video_list_page_size_is_capped_at_50(sandbox: Sandbox) -> None:
    assert sandbox.get("/tt_video/list/", page_size=51)["code"] == 40002
    assert sandbox.get("/tt_video/list/")["data"]["page_info"]["page_size"] == 20


def test_tt_video_info_by_auth_code(sandbox: Sandbox) -> None:
    code = sandbox.get("/tt_video/list/")["data"]["list"][0]["item_info"]["auth_code"]
    info = sandbox.get("/tt_video/info/", auth_code=code)
    assert info["code"] == 0
    assert info["data"]["item_info"]["auth_code"] == code
    assert sandbox.get("/tt_video/info/", auth_code="nope")["code"] == 40002
    assert sandbox.get("/tt_video/info/")["code"] == 40002
