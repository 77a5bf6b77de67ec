from __future__ import annotations

import re
from typing import Any

import pytest
from sandbox_support import DAY_GROUP, SPARK_REVOKED, Sandbox

DAILY = ["adgroup_id", "stat_time_day"]
METRICS = [
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "total_complete_payment_rate",
    "video_watched_2s",
    "video_watched_6s",
    "cpm",
]


def report(sandbox: Sandbox, **params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "report_type": "BASIC",
        "data_level": "AUCTION_ADGROUP",
        "dimensions": DAILY,
        "metrics": METRICS,
        "start_date": "2025-05-03",
        "end_date": "2025-06-01",
        "page_size": 1000,
    }
    return sandbox.get("/report/integrated/get/", **{**base, **params})


def test_daily_rows_have_string_metrics_like_the_platform(sandbox: Sandbox) -> None:
    body = report(sandbox)
    assert body["code"] == 0
    rows = body["data"]["list"]
    assert rows
    for row in rows:
        assert set(row) == {"dimensions", "metrics"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\d 00:00:00", row["dimensions"]["stat_time_day"])
        assert set(row["metrics"]) == set(METRICS)
        assert all(isinstance(v, str) for v in row["metrics"].values())
        assert re.fullmatch(r"\d+\.\d\d", row["metrics"]["spend"])
        assert re.fullmatch(r"\d+", row["metrics"]["impressions"])
        assert re.fullmatch(r"\d+", row["metrics"]["conversion"])


def test_every_delivering_ad_group_has_thirty_days(sandbox: Sandbox) -> None:
    rows = report(sandbox)["data"]["list"]
    days = {r["dimensions"]["stat_time_day"][:10] for r in rows}
    assert min(days) == "2025-05-03"
    assert max(days) == "2025-06-01"
    mine = [r for r in rows if r["dimensions"]["adgroup_id"] == DAY_GROUP]
    assert len(mine) == 30
    assert all(float(r["metrics"]["spend"]) <= 80.0 for r in mine)


def test_revoked_post_stops_spending_on_its_revocation_day(sandbox: Sandbox) -> None:
    rows = report(sandbox)["data"]["list"]
    days = [
        r["dimensions"]["stat_time_day"][:10]
        for r in rows
        if r["dimensions"]["adgroup_id"] == SPARK_REVOKED
    ]
    assert days
    assert max(days) == "2025-05-28"


def test_thirty_one_days_with_stat_time_day_is_refused(sandbox: Sandbox) -> None:
    body = report(sandbox, start_date="2025-05-02")
    assert body["code"] == 40002
    assert "30" in body["message"]


def test_without_the_day_dimension_the_range_sums(sandbox: Sandbox) -> None:
    daily = report(sandbox)["data"]["list"]
    total = report(sandbox, dimensions=["adgroup_id"], start_date="2025-04-01")["data"]["list"]
    mine = next(r for r in total if r["dimensions"]["adgroup_id"] == DAY_GROUP)
    expected = sum(
        float(r["metrics"]["spend"]) for r in daily if r["dimensions"]["adgroup_id"] == DAY_GROUP
    )
    assert float(mine["metrics"]["spend"]) == pytest.approx(expected, abs=0.01 * 30)
    assert "stat_time_day" not in mine["dimensions"]


def test_ad_level_rows_carry_ad_ids(sandbox: Sandbox) -> None:
    body = report(sandbox, data_level="AUCTION_AD", dimensions=["ad_id", "stat_time_day"])
    assert body["code"] == 0
    assert all(r["dimensions"]["ad_id"].startswith("182") for r in body["data"]["list"])


def test_report_pages_partition_the_rows(sandbox: Sandbox) -> None:
    whole = report(sandbox)["data"]
    pages = []
    for page in range(1, whole["page_info"]["total_number"] // 100 + 2):
        pages += report(sandbox, page=page, page_size=100)["data"]["list"]
    assert pages == whole["list"]


def test_filtering_keeps_only_the_named_ad_groups(sandbox: Sandbox) -> None:
    flt = [{"field_name": "adgroup_ids", "filter_type": "IN", "filter_value": f'["{DAY_GROUP}"]'}]
    rows = report(sandbox, filtering=flt)["data"]["list"]
    assert {r["dimensions"]["adgroup_id"] for r in rows} == {DAY_GROUP}


def test_conversions_of_recent_days_fill_in_as_days_pass(sandbox: Sandbox) -> None:
    def conversions_on(day: str) -> int:
        rows = report(sandbox, start_date=day, end_date=day, metrics=["conversion"])["data"]
        return sum(int(r["metrics"]["conversion"]) for r in rows["list"])

    before = conversions_on("2025-06-01")
    sandbox.control("POST", "/advance", {"days": 7})
    after = conversions_on("2025-06-01")
    assert after >= before
    assert after > 0


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"report_type": "AUDIENCE"}, 40009),
        ({"report_type": "NOPE"}, 40002),
        ({"data_level": "AUCTION_CAMPAIGN"}, 40009),
        ({"dimensions": ["adgroup_id", "stat_time_hour"]}, 40009),
        ({"dimensions": ["ad_id", "stat_time_day"]}, 40002),
        ({"metrics": ["spend", "magic"]}, 40002),
        ({"start_date": "2025-06-02", "end_date": "2025-06-01"}, 40002),
        ({"start_date": "June"}, 40002),
        ({"page_size": 1001}, 40002),
    ],
    ids=[
        "audience",
        "unknown-type",
        "campaign-level",
        "hourly",
        "wrong-dimension",
        "unknown-metric",
        "reversed-dates",
        "bad-date",
        "page-size",
    ],
)
def test_invalid_reports_are_refused(sandbox: Sandbox, params: dict[str, Any], code: int) -> None:
    body = report(sandbox, **params)
    assert body["code"] == code
    assert body["data"] == {}
