from __future__ import annotations

import json
import logging
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from tiktok_fake import (
    ADVERTISER,
    TOKEN,
    FakeClock,
    FakeTikTok,
    ad_row,
    adgroup_row,
    envelope,
    post_payload,
    standard_account,
)

from allocator.core.arms import AdGroupStatus, AuthStatus, Kind
from allocator.errors import (
    ApiStatusError,
    ApiTransportError,
    AuthError,
    ConfigError,
    DataError,
    RateLimitedError,
    ServerError,
)
from allocator.platform import (
    AdPlatform,
    BudgetChange,
    ChangeResult,
    InvalidChangeError,
    StatusChange,
    UnsupportedAdGroupError,
)
from allocator.platform.tiktok import (
    PRODUCTION_BASE_URL,
    BudgetPath,
    ReportLevel,
    RetryPolicy,
    Secret,
    TikTokClient,
    TikTokConfig,
    ValueMetric,
    date_windows,
    error_for_code,
)

# -- construction and config --------------------------------------------------------


def test_client_satisfies_the_platform_protocol() -> None:
    assert isinstance(standard_account().client(), AdPlatform)


def test_config_appends_the_api_prefix_to_a_bare_host() -> None:
    assert TikTokConfig("1").api_root == PRODUCTION_BASE_URL + "/open_api/v1.3/"
    root = "http://127.0.0.1:8765/open_api/v1.3"
    assert TikTokConfig("1", base_url=root).api_root == root + "/"


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"advertiser_id": "abc"}, "advertiser_id"),
        ({"advertiser_id": "1", "base_url": "ftp://x"}, "base_url"),
        ({"advertiser_id": "1", "min_budget": 0.0}, "min_budget"),
        ({"advertiser_id": "1", "min_budget": 50.0, "max_budget": 40.0}, "min_budget"),
        ({"advertiser_id": "1", "budget_batch_size": 0}, "budget_batch_size"),
        ({"advertiser_id": "1", "status_batch_size": 101}, "status_batch_size"),
        ({"advertiser_id": "1", "campaign_ids": tuple(str(i) for i in range(101))}, "campaign_ids"),
        ({"advertiser_id": "1", "max_sends": 0}, "max_sends"),
    ],
    ids=["id", "url", "min0", "min>max", "batch0", "batch101", "campaigns", "sends"],
)
def test_invalid_config_names_the_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        TikTokConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key


def test_every_request_carries_token_header_and_configured_timeouts() -> None:
    fake = standard_account()
    timeout = httpx.Timeout(connect=1.5, read=12.0, write=3.0, pool=2.0)
    fake.client(timeout=timeout).list_adgroups()
    assert fake.requests
    for rec in fake.requests:
        assert rec.headers["access-token"] == TOKEN
        assert "authorization" not in rec.headers
        assert rec.timeout == {"connect": 1.5, "read": 12.0, "write": 3.0, "pool": 2.0}
        assert TOKEN not in json.dumps(rec.params)


# -- ad groups, ads, authorizations -----------------------------------------------------


def test_list_adgroups_builds_spark_and_dark_records() -> None:
    fake = standard_account()
    groups = {g.adgroup_id: g for g in fake.client().list_adgroups()}
    spark, dark, own = groups["101"], groups["102"], groups["103"]
    assert (spark.kind, spark.creator, spark.post_id, spark.budget) == (
        Kind.SPARK,
        "alice",
        "9001",
        50.0,
    )
    assert spark.authorization.status is AuthStatus.ACTIVE
    assert spark.authorization.expires_at == datetime(2026, 12, 15, 12, tzinfo=UTC)
    assert spark.concept == "creator-hook"
    assert spark.launch_date == date(2026, 10, 1)
    assert spark.status is AdGroupStatus.ENABLE
    assert (dark.kind, dark.post_id, dark.creator) == (Kind.DARK, None, "brand-identity")
    assert dark.authorization.status is AuthStatus.NONE
    assert (dark.status, dark.budget) == (AdGroupStatus.DISABLE, 35.0)
    assert (own.kind, own.creator, own.post_id) == (Kind.SPARK, "brand-tt", "9003")
    assert own.authorization.status is AuthStatus.ACTIVE
    assert own.authorization.expires_at is None
    assert own.launch_date == date(2026, 11, 2)


def test_list_adgroups_sends_json_string_fields_and_filtering() -> None:
    fake = standard_account()
    fake.client(campaign_ids=("1700000000000",)).list_adgroups()
    (adgroup_call,) = fake.calls("/adgroup/get/")
    assert json.loads(adgroup_call.params["filtering"]) == {"campaign_ids": ["1700000000000"]}
    fields = json.loads(adgroup_call.params["fields"])
    assert {"budget", "budget_mode", "operation_status", "secondary_status"} <= set(fields)
    (ad_call,) = fake.calls("/ad/get/")
    assert json.loads(ad_call.params["filtering"]) == {"adgroup_ids": ["101", "102", "103"]}
    assert {"identity_type", "identity_id", "tiktok_item_id"} <= set(
        json.loads(ad_call.params["fields"])
    )
    (posts_call,) = fake.calls("/tt_video/list/")
    assert posts_call.params["page_size"] == "50"


def test_list_adgroups_follows_every_page_and_chunks_ad_filters() -> None:
    fake = FakeTikTok()
    ids = [str(5000 + i) for i in range(1001)]
    fake.adgroups = {g: adgroup_row(g) for g in ids}
    fake.ads = [ad_row(f"a{g}", g) for g in ids]
    groups = fake.client().list_adgroups()
    assert [g.adgroup_id for g in groups] == ids
    assert [c.params["page"] for c in fake.calls("/adgroup/get/")] == ["1", "2"]
    assert {c.params["page_size"] for c in fake.calls("/adgroup/get/")} == {"1000"}
    assert len(fake.calls("/ad/get/")) == 11  # 100 ad group ids per filter
    assert not fake.calls("/tt_video/list/")  # no creator codes, no authorization lookup


def test_ids_sent_as_numbers_are_read_as_strings() -> None:
    fake = FakeTikTok()
    fake.adgroups = {"42": adgroup_row(42)}  # type: ignore[arg-type]
    fake.ads = [ad_row(7, 42)]  # type: ignore[arg-type]
    fake.ads[0]["adgroup_id"] = "42"
    (group,) = fake.client().list_adgroups()
    assert group.adgroup_id == "42"


@pytest.mark.parametrize(
    ("row", "ads", "fragment"),
    [
        (
            adgroup_row("9", budget=0, mode="BUDGET_MODE_INFINITE"),
            1,
            "campaign budget optimisation",
        ),
        (
            adgroup_row("9", budget="500", mode="BUDGET_MODE_TOTAL"),
            1,
            "BUDGET_MODE_TOTAL is not a daily",
        ),
        (adgroup_row("9", mode="BUDGET_MODE_DYNAMIC_DAILY_BUDGET"), 1, "DYNAMIC_DAILY_BUDGET"),
        (adgroup_row("9"), 2, "holds 2 ads"),
        (adgroup_row("9"), 0, "holds 0 ads"),
    ],
    ids=["cbo", "total", "dynamic", "two-ads", "no-ad"],
)
def test_unmanageable_ad_groups_are_refused_by_id(
    row: dict[str, object], ads: int, fragment: str
) -> None:
    fake = standard_account()
    fake.adgroups["9"] = row
    fake.ads += [ad_row(f"x{i}", "9") for i in range(ads)]
    with pytest.raises(UnsupportedAdGroupError) as info:
        fake.client(skip_unsupported=False).list_adgroups()
    assert info.value.adgroup_ids == ("9",)
    assert "ad group 9" in str(info.value)
    assert fragment in str(info.value)
    assert isinstance(info.value, ConfigError)  # the CLI reports it as bad input (exit 2)


def test_by_default_unmanageable_ad_groups_are_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = standard_account()
    fake.adgroups["9"] = adgroup_row("9", budget=0, mode="BUDGET_MODE_INFINITE")
    fake.ads.append(ad_row("x9", "9"))
    client = fake.client()
    with caplog.at_level(logging.WARNING, logger="allocator.platform.tiktok"):
        groups = client.list_adgroups()
    assert [g.adgroup_id for g in groups] == ["101", "102", "103"]
    assert list(client.unsupported) == ["9"]
    assert "campaign budget optimisation" in client.unsupported["9"]
    assert any("ad group 9" in r.getMessage() for r in caplog.records)
    n_requests = len(fake.requests)
    with pytest.raises(UnsupportedAdGroupError) as info:
        client.update_budgets([BudgetChange("101", 30.0), BudgetChange("9", 30.0)])
    assert info.value.adgroup_ids == ("9",)
    with pytest.raises(UnsupportedAdGroupError):
        client.update_statuses([StatusChange("9", False)])
    assert len(fake.requests) == n_requests  # refused before sending


def test_unknown_identity_and_spark_without_post_are_refused() -> None:
    fake = standard_account()
    fake.adgroups["8"] = adgroup_row("8")
    fake.adgroups["9"] = adgroup_row("9")
    fake.ads += [ad_row("x8", "8", "SOMETHING_NEW"), ad_row("x9", "9", "AUTH_CODE", "id", None)]
    with pytest.raises(UnsupportedAdGroupError) as info:
        fake.client(skip_unsupported=False).list_adgroups()
    assert info.value.adgroup_ids == ("8", "9")
    assert "SOMETHING_NEW" in info.value.reasons[0]
    assert "tiktok_item_id" in info.value.reasons[1]


@pytest.mark.parametrize(
    ("auth_status", "ad_secondary", "listed", "expected"),
    [
        ("AUTHORIZED", "AD_STATUS_DELIVERY_OK", True, AuthStatus.ACTIVE),
        ("EXPIRED", "AD_STATUS_DELIVERY_OK", True, AuthStatus.EXPIRED),
        ("REVOKED", "AD_STATUS_DELIVERY_OK", True, AuthStatus.REVOKED),
        ("AUTHORIZED", "AD_STATUS_CREATOR_AUTHORIZATION_REVOKED", True, AuthStatus.REVOKED),
        ("AUTHORIZED", "AD_STATUS_ASSET_AUTHORIZATION_LOST", True, AuthStatus.EXPIRED),
        ("AUTHORIZED", "AD_STATUS_DELIVERY_OK", False, AuthStatus.EXPIRED),
    ],
)
def test_spark_authorization_status_comes_from_post_and_ad(
    auth_status: str, ad_secondary: str, listed: bool, expected: AuthStatus
) -> None:
    fake = standard_account()
    fake.ads[0]["secondary_status"] = ad_secondary
    fake.posts = {"c": post_payload("9001", "alice", status=auth_status)} if listed else {}
    groups = {g.adgroup_id: g for g in fake.client().list_adgroups()}
    assert groups["101"].authorization.status is expected
    assert groups["101"].authorization.lapsed is (expected is not AuthStatus.ACTIVE)


# -- Spark authorization endpoints -----------------------------------------------------


def test_post_info_and_list_parse_authorization_windows() -> None:
    fake = standard_account()
    fake.posts.update({f"c{i}": post_payload(str(8000 + i), f"u{i}") for i in range(120)})
    client = fake.client()
    posts = client.list_authorized_posts()
    assert len(posts) == 121
    assert [c.params["page"] for c in fake.calls("/tt_video/list/")] == ["1", "2", "3"]
    info = client.get_post_info("code-a")
    assert (info.item_id, info.tiktok_name, info.identity_id) == ("9001", "alice", "id-alice")
    assert info.auth_start == datetime(2026, 10, 1, tzinfo=UTC)
    assert info.auth_end == datetime(2026, 12, 15, 12, tzinfo=UTC)
    assert info.platform_status == "AUTHORIZED"


def test_authorize_posts_binds_each_code_and_reports_per_position() -> None:
    fake = standard_account()
    results = fake.client().authorize_posts(["k1", "bad-k2", "k3"])
    assert [(r.position, r.ok) for r in results] == [(0, True), (1, False), (2, True)]
    assert results[1].error is not None
    assert "invalid auth code" in results[1].error
    assert [a[1] for a in fake.applied] == ["k1", "k3"]
    assert {c.body["auth_code"] for c in fake.calls("/tt_video/authorize/")} == {
        "k1",
        "bad-k2",
        "k3",
    }


@pytest.mark.parametrize(
    "codes",
    [[f"k{i}" for i in range(21)], ["k1", "k1"], ["k1", " "]],
    ids=["21-codes", "duplicate", "blank"],
)
def test_authorize_posts_refuses_bad_batches_before_sending(codes: list[str]) -> None:
    fake = standard_account()
    with pytest.raises(InvalidChangeError):
        fake.client().authorize_posts(codes)
    assert fake.requests == []


def test_authorize_after_ambiguous_failure_checks_info_before_resending() -> None:
    fake = standard_account()
    fake.inject("/tt_video/authorize/", "applied_then_read_timeout")
    fake.inject("/tt_video/authorize/", "http500")  # second code: failed, not bound
    results = fake.client().authorize_posts(["k1", "k2"])
    assert [r.ok for r in results] == [True, True]
    assert [a[1] for a in fake.applied] == ["k1", "k2"]
    assert len(fake.calls("/tt_video/authorize/")) == 3  # k1 once, k2 twice (500, then ok)


# -- reports -------------------------------------------------------------------------


def report_row(level: str, entity: str | int, day: date, **metrics: object) -> dict[str, object]:
    key = "adgroup_id" if level == "AUCTION_ADGROUP" else "ad_id"
    values = {
        "spend": "20.00",
        "impressions": "1000",
        "clicks": 12,
        "conversion": "3",
        "total_complete_payment_rate": "90.50",
        "total_purchase_value": 40,
        "video_watched_2s": "300",
        "video_watched_6s": "120",
    }
    values.update({k: v for k, v in metrics.items()})
    row = {"dimensions": {key: entity, "stat_time_day": f"{day} 00:00:00"}, "metrics": values}
    return {"level": level, "row": row}


def test_date_windows_cover_the_range_in_30_day_pieces() -> None:
    windows = list(date_windows(date(2026, 1, 1), date(2026, 3, 6)))
    assert windows == [
        (date(2026, 1, 1), date(2026, 1, 30)),
        (date(2026, 1, 31), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 6)),
    ]
    assert list(date_windows(date(2026, 1, 1), date(2026, 1, 1))) == [(date(2026, 1, 1),) * 2]
    with pytest.raises(ValueError, match="before start"):
        list(date_windows(date(2026, 1, 2), date(2026, 1, 1)))


def test_fetch_observations_chunks_dates_and_parses_strings_and_numbers() -> None:
    fake = standard_account()
    start = date(2026, 1, 1)
    days = [start + timedelta(days=i) for i in range(65)]
    fake.report_rows = [report_row("AUCTION_ADGROUP", "101", d) for d in days]
    fake.report_rows.append(
        report_row(
            "AUCTION_ADGROUP",
            102,
            days[3],
            spend=7.5,
            impressions=10,
            conversion="-",
            total_complete_payment_rate="-",
            clicks="1,024",
        )
    )
    obs = fake.client().fetch_observations(start, days[-1])
    windows = [
        (c.params["start_date"], c.params["end_date"])
        for c in fake.calls("/report/integrated/get/")
    ]
    assert windows == [
        ("2026-01-01", "2026-01-30"),
        ("2026-01-31", "2026-03-01"),
        ("2026-03-02", "2026-03-06"),
    ]
    assert len(obs) == 66
    first = obs[0]
    assert (first.date, first.adgroup_id, first.spend, first.impressions) == (
        start,
        "101",
        20.0,
        1000,
    )
    assert (first.clicks, first.conversions, first.value) == (12, 3.0, 90.5)
    odd = next(o for o in obs if o.adgroup_id == "102")
    assert (odd.spend, odd.impressions, odd.clicks, odd.conversions, odd.value) == (
        7.5,
        10,
        1024,
        0.0,
        0.0,
    )
    call = fake.calls("/report/integrated/get/")[0]
    assert json.loads(call.params["dimensions"]) == ["adgroup_id", "stat_time_day"]
    metrics = json.loads(call.params["metrics"])
    assert {
        "spend",
        "impressions",
        "clicks",
        "conversion",
        "video_watched_2s",
        "video_watched_6s",
    } <= set(metrics)
    assert "total_complete_payment_rate" in metrics
    assert call.params["data_level"] == "AUCTION_ADGROUP"
    assert call.params["page_size"] == "1000"


@pytest.mark.parametrize(
    ("metric", "expected"),
    [(ValueMetric.WEBSITE, 90.5), (ValueMetric.APP, 40.0), (None, None)],
)
def test_value_metric_is_configurable(metric: ValueMetric | None, expected: float | None) -> None:
    fake = standard_account()
    fake.report_rows = [report_row("AUCTION_ADGROUP", "101", date(2026, 1, 1))]
    (obs,) = fake.client(value_metric=metric).fetch_observations(date(2026, 1, 1), date(2026, 1, 1))
    assert obs.value == expected
    sent = json.loads(fake.calls("/report/integrated/get/")[0].params["metrics"])
    assert ("total_purchase_value" in sent) is (metric is ValueMetric.APP)


def test_ad_level_report_carries_video_metrics_and_pages() -> None:
    fake = standard_account()
    day = date(2026, 2, 1)
    fake.report_rows = [report_row("AUCTION_AD", str(i), day) for i in range(1500)]
    rows = fake.client().fetch_report(day, day, level=ReportLevel.AD)
    assert len(rows) == 1500
    assert len(fake.calls("/report/integrated/get/")) == 2
    assert (rows[0].video_watched_2s, rows[0].video_watched_6s, rows[0].entity_id) == (
        300,
        120,
        "0",
    )
    assert rows[0].level is ReportLevel.AD
    assert rows[0].to_observation(adgroup_id="101").adgroup_id == "101"


@pytest.mark.parametrize(
    ("metrics", "column"),
    [
        ({"spend": "abc"}, "spend"),
        ({"impressions": "1.5"}, "impressions"),
        ({"spend": "-3"}, "spend"),
        ({"spend": "nan"}, "spend"),
        ({"clicks": True}, "clicks"),
    ],
)
def test_malformed_report_numbers_raise_data_error_naming_the_metric(
    metrics: dict[str, object], column: str
) -> None:
    fake = standard_account()
    fake.report_rows = [report_row("AUCTION_ADGROUP", "101", date(2026, 1, 1), **metrics)]
    with pytest.raises(DataError) as info:
        fake.client().fetch_observations(date(2026, 1, 1), date(2026, 1, 1))
    assert info.value.column == f"101.{column}"


def test_observations_keep_only_the_configured_campaigns_adgroups() -> None:
    fake = standard_account()
    fake.adgroups["104"] = adgroup_row("104") | {"campaign_id": "1800000000000"}
    fake.report_rows = [
        report_row("AUCTION_ADGROUP", gid, date(2026, 1, 1)) for gid in ("101", "104")
    ]
    client = fake.client(campaign_ids=("1700000000000",))
    assert [
        o.adgroup_id for o in client.fetch_observations(date(2026, 1, 1), date(2026, 1, 1))
    ] == ["101"]
    assert len(fake.client().fetch_observations(date(2026, 1, 1), date(2026, 1, 1))) == 2


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        standard_account().client().fetch_observations(date(2026, 1, 2), date(2026, 1, 1))


# -- writes --------------------------------------------------------------------------


def test_budgets_are_rounded_to_cents_and_sent_in_batches_of_20() -> None:
    fake = FakeTikTok()
    fake.adgroups = {str(i): adgroup_row(str(i)) for i in range(45)}
    changes = [BudgetChange(str(i), 20.01 + i / 3) for i in range(45)]
    results = fake.client().update_budgets(changes)
    assert all(r.ok for r in results)
    assert [r.adgroup_id for r in results] == [c.adgroup_id for c in changes]
    calls = fake.calls("/adgroup/budget/update/")
    assert [len(c.body["budget"]) for c in calls] == [20, 20, 5]
    sent = {item["adgroup_id"]: item["budget"] for c in calls for item in c.body["budget"]}
    assert sent["1"] == 20.34
    assert sent["2"] == 20.68
    assert sent["0"] == 20.01
    assert len(fake.applied) == 45


def test_single_budget_path_sends_one_adgroup_update_per_change() -> None:
    fake = standard_account()
    client = fake.client(budget_path=BudgetPath.SINGLE)
    results = client.update_budgets([BudgetChange("101", 60.004), BudgetChange("103", 25)])
    assert [r.ok for r in results] == [True, True]
    bodies = [c.body for c in fake.calls("/adgroup/update/")]
    assert bodies == [
        {"advertiser_id": ADVERTISER, "adgroup_id": "101", "budget": 60.0},
        {"advertiser_id": ADVERTISER, "adgroup_id": "103", "budget": 25.0},
    ]
    assert not fake.calls("/adgroup/budget/update/")


@pytest.mark.parametrize(
    ("budget", "fragment"),
    [
        (19.99, "outside"),
        (19.994, "outside"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (-5.0, "outside"),
        (2e6, "outside"),
        (1e300, "outside"),
    ],
)
def test_invalid_budgets_are_refused_before_anything_is_sent(budget: float, fragment: str) -> None:
    fake = standard_account()
    changes = [BudgetChange("101", 50.0), BudgetChange("103", budget)]
    with pytest.raises(InvalidChangeError) as info:
        fake.client().update_budgets(changes)
    assert info.value.adgroup_id == "103"
    assert fragment in str(info.value)
    assert fake.requests == []


def test_budget_that_rounds_up_to_the_minimum_is_accepted() -> None:
    fake = standard_account()
    (result,) = fake.client().update_budgets([BudgetChange("101", 20.005)])
    assert result.ok
    assert fake.applied == [("budget", "101", 20.01)]


def test_a_budget_of_exactly_20_is_refused_before_sending() -> None:
    # TikTok: an ad group daily budget must exceed 20 USD; the default minimum is 20.01.
    fake = standard_account()
    with pytest.raises(InvalidChangeError, match=r"20\.01"):
        fake.client().update_budgets([BudgetChange("101", 20.0)])
    assert fake.requests == []


@pytest.mark.parametrize(
    "changes",
    [[BudgetChange("1", 30), BudgetChange("1", 40)], [BudgetChange("", 30)]],
    ids=["duplicate", "empty-id"],
)
def test_malformed_change_lists_are_refused(changes: list[BudgetChange]) -> None:
    fake = standard_account()
    with pytest.raises(InvalidChangeError):
        fake.client().update_budgets(changes)
    with pytest.raises(InvalidChangeError):
        fake.client().update_statuses([StatusChange(c.adgroup_id, True) for c in changes])
    assert fake.requests == []


def test_a_batch_rejected_for_one_bad_id_is_retried_change_by_change() -> None:
    fake = standard_account()
    changes = [BudgetChange("101", 30), BudgetChange("404", 30), BudgetChange("103", 31)]
    results = fake.client().update_budgets(changes)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error is not None
    assert "adgroup 404 not found" in results[1].error
    assert [len(c.body["budget"]) for c in fake.calls("/adgroup/budget/update/")] == [3, 1, 1, 1]
    assert len(fake.calls("/adgroup/get/")) == 1  # read back before resending
    assert fake.applied == [("budget", "101", 30.0), ("budget", "103", 31.0)]


def test_a_rejected_single_change_is_reported_with_the_request_id() -> None:
    fake = standard_account()
    (result,) = fake.client().update_budgets([BudgetChange("404", 30)])
    assert not result.ok
    assert result.request_id == "rid"
    assert result.error is not None
    assert "not found" in result.error
    assert fake.applied == []


def test_status_update_reads_partial_success_per_adgroup() -> None:
    fake = standard_account()
    fake.status_reject = {"103": "ad group is frozen"}
    changes = [StatusChange("101", False), StatusChange("102", True), StatusChange("103", False)]
    results = fake.client().update_statuses(changes)
    assert [r.adgroup_id for r in results] == ["101", "102", "103"]
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].error == "rejected by the platform: ad group is frozen"
    bodies = [c.body for c in fake.calls("/adgroup/status/update/")]
    assert [(b["operation_status"], b["adgroup_ids"]) for b in bodies] == [
        ("ENABLE", ["102"]),
        ("DISABLE", ["101", "103"]),
    ]
    assert all(b["allow_partial_success"] is True for b in bodies)


def test_status_not_confirmed_by_the_answer_is_not_ok() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=envelope(data={"adgroup_ids": ["1"], "error_list": []}))

    client = TikTokClient(
        httpx.Client(transport=httpx.MockTransport(handler)), TikTokConfig("5"), Secret(TOKEN)
    )
    results = client.update_statuses([StatusChange("1", True), StatusChange("2", True)])
    assert [r.ok for r in results] == [True, False]
    assert results[1].error == "the platform's answer does not confirm this ad group"


def test_change_result_requires_a_reason_exactly_when_failed() -> None:
    with pytest.raises(ValueError, match="must say why"):
        ChangeResult("1", ok=False)
    with pytest.raises(ValueError, match="carries no error"):
        ChangeResult("1", ok=True, error="x")


# -- envelope and error classes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (40100, RateLimitedError),
        (40132, RateLimitedError),
        (61000, RateLimitedError),
        (50000, ServerError),
        (50002, ServerError),
        (60001, ServerError),
        (40102, AuthError),
        (40104, AuthError),
        (40105, AuthError),
        (40000, ApiStatusError),
        (40001, ApiStatusError),
        (40002, ApiStatusError),
        (40007, ApiStatusError),
        (40130, ApiStatusError),
    ],
)
def test_envelope_codes_map_to_typed_errors(code: int, cls: type[ApiStatusError]) -> None:
    assert error_for_code(code) is cls


@pytest.mark.parametrize("code", [40000, 40001, 40002, 40102, 40104, 40105, 40300])
def test_parameter_permission_and_token_errors_are_raised_without_retry(code: int) -> None:
    fake = standard_account()
    fake.inject("/adgroup/get/", str(code))
    clock = FakeClock()
    with pytest.raises(ApiStatusError) as info:
        fake.client(clock).list_adgroups()
    assert type(info.value) is error_for_code(code)
    assert (info.value.code, info.value.request_id, info.value.http_status) == (
        code,
        f"r-{code}",
        200,
    )
    assert f"fault {code}" in info.value.api_message
    assert len(fake.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("response", "cls", "code"),
    [
        (httpx.Response(429, text="slow down"), RateLimitedError, 429),
        (httpx.Response(503, text="<html>"), ServerError, 503),
        (httpx.Response(502, json=envelope(50000, "sys", rid="r5")), ServerError, 50000),
        (httpx.Response(200, text="not json"), ApiStatusError, 200),
        (httpx.Response(200, json={"message": "no code"}), ApiStatusError, 200),
        (httpx.Response(200, json={"code": 0, "data": [1]}), ApiStatusError, 0),
        (httpx.Response(404, text="nope"), ApiStatusError, 404),
        (httpx.Response(401, text="unauthorized"), AuthError, 401),
    ],
    ids=["429", "503-html", "502-envelope", "not-json", "no-code", "data-list", "404", "401"],
)
def test_http_statuses_and_malformed_bodies_become_typed_errors(
    response: httpx.Response, cls: type[ApiStatusError], code: int
) -> None:
    client = TikTokClient(
        httpx.Client(transport=httpx.MockTransport(lambda r: response)),
        TikTokConfig("5", read_retry=RetryPolicy(max_attempts=1)),
        Secret(TOKEN),
    )
    with pytest.raises(ApiStatusError) as info:
        client.get_adgroups()
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.http_status == response.status_code


def _httpx_errors() -> list[type[httpx.HTTPError]]:
    found: list[type[httpx.HTTPError]] = []
    todo: list[type[httpx.HTTPError]] = [httpx.HTTPError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls is not httpx.HTTPStatusError:
            found.append(cls)
    return found


@pytest.mark.parametrize("exc_cls", _httpx_errors(), ids=lambda c: c.__name__)
def test_every_httpx_error_becomes_api_transport_error(exc_cls: type[httpx.HTTPError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_cls("boom")

    client = TikTokClient(
        httpx.Client(transport=httpx.MockTransport(handler)),
        TikTokConfig("5", read_retry=RetryPolicy(max_attempts=1)),
        Secret(TOKEN),
    )
    with pytest.raises(ApiTransportError) as info:
        client.get_adgroups()
    assert isinstance(info.value.__cause__, exc_cls)
    assert exc_cls.__name__ in str(info.value)
    assert "/adgroup/get/" in str(info.value)


# -- retry and backoff timing (fake clock) --------------------------------------------------


def test_throttled_reads_back_off_exponentially_with_bounded_jitter() -> None:
    fake = standard_account()
    fake.inject("/adgroup/get/", "40100", "http429", "50002", "read_timeout")
    clock = FakeClock()
    assert len(fake.client(clock).get_adgroups()) == 3
    assert len(fake.calls("/adgroup/get/")) == 5
    rng = random.Random(7)
    expected = [base + rng.uniform(0, 0.5) for base in (0.5, 1.0, 2.0, 4.0)]
    assert clock.sleeps == pytest.approx(expected)
    for slept, base in zip(clock.sleeps, (0.5, 1.0, 2.0, 4.0), strict=True):
        assert base <= slept < base + 0.5


def test_retry_after_header_lengthens_the_wait() -> None:
    fake = standard_account()
    fake.retry_after = "7"
    fake.inject("/adgroup/get/", "http429")
    clock = FakeClock()
    fake.client(clock).get_adgroups()
    assert clock.sleeps == [7.0]


def test_reads_give_up_after_max_attempts_with_the_last_error() -> None:
    fake = standard_account()
    fake.inject("/adgroup/get/", *["http500"] * 10)
    clock = FakeClock()
    with pytest.raises(ServerError) as info:
        fake.client(clock).get_adgroups()
    assert info.value.http_status == 500
    assert len(fake.requests) == 6
    assert len(clock.sleeps) == 5
    assert sum(clock.sleeps) <= 60.0


def test_reads_stop_before_the_total_time_budget_is_exceeded() -> None:
    fake = standard_account()
    fake.inject("/adgroup/get/", *["40100"] * 10)
    clock = FakeClock()
    policy = RetryPolicy(
        max_attempts=50, initial_wait=1.0, max_wait=100.0, jitter=0.0, total_seconds=10.0
    )
    with pytest.raises(RateLimitedError):
        fake.client(clock, read_retry=policy).get_adgroups()
    assert clock.sleeps == [1.0, 2.0, 4.0]  # the next wait (8 s) would end past 10 s
    assert len(fake.requests) == 4


def test_retry_policy_validates_and_caps_backoff() -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=8.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5, 6, 200)] == [0.5, 1, 2, 4, 8, 8, 8]
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match=">= 0"):
        RetryPolicy(jitter=-1)


def test_budget_decimal_is_sent_as_an_exact_two_decimal_number() -> None:
    fake = standard_account()
    fake.client().update_budgets([BudgetChange("101", 123456.785)])
    (call,) = fake.calls("/adgroup/budget/update/")
    assert Decimal(repr(call.body["budget"][0]["budget"])) == Decimal("123456.79")
